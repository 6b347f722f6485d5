/**
 * What every byte source is: something that opens into a stream of byte chunks. Sources know
 * nothing about telegrams; the receiver frames and parses what they produce.
 *
 * @module
 */

/** An open connection to a source. */
export interface ByteStream {
  /**
   * The next chunk: bytes, an empty chunk when nothing arrived for a while (so the caller can
   * look at its timers), or `null` at the end (EOF, or closed).
   * @throws {SourceError} When the device or connection failed.
   */
  read(): Promise<Uint8Array | null>;
  /** Closes the connection; waits for a pending read to finish first. */
  close(): Promise<void>;
  /** Problems noticed while opening that do not stop reading (e.g. settings the driver refused). */
  readonly warnings: readonly string[];
}

/** A place bytes come from: a serial device, a TCP peer, a file, standard input, the demo meter. */
export interface ByteSource {
  /** What it is, for logs and status, e.g. `serial /dev/ttyUSB0 115200 8N1`. */
  readonly description: string;
  /** `true` when EOF means "gone for now, reopen later"; `false` when it means "finished". */
  readonly endless: boolean;
  /** Opens a connection. @throws {SourceError} When it cannot be opened. */
  open(): Promise<ByteStream>;
  /**
   * Switches to the next line settings to try (serial `auto` only).
   * @returns The new description, or `undefined` when there is nothing else to try.
   */
  nextSettings?(): string | undefined;
  /** Keeps the current line settings from now on (a valid telegram arrived). */
  confirmSettings?(): void;
  /**
   * A valid telegram came from the bytes read (a looping file replay pauses after a pass through
   * the file without one).
   */
  telegramArrived?(): void;
}

/** Why a source failed, with a machine-readable code and, where it helps, how to fix it. */
export class SourceError extends Error {
  /** `ENOENT`, `EACCES`, `EIO`, `ECONNREFUSED`, ... or `OTHER`. */
  readonly code: string;
  /** What the user can do about it (for EACCES: the group to join). */
  readonly hint: string | undefined;

  /**
   * Makes the error.
   *
   * @param message What failed.
   * @param code A short code, e.g. `ENOENT`.
   * @param hint What the user can do about it.
   */
  constructor(message: string, code: string, hint?: string) {
    super(message);
    this.name = "SourceError";
    this.code = code;
    this.hint = hint;
  }
}

/** A parsed `--source` value. */
export type SourceSpec =
  | { kind: "serial"; path: string }
  | { kind: "tcp"; hostname: string; port: number }
  | { kind: "file"; path: string }
  | { kind: "stdin" }
  | { kind: "demo" };

/**
 * Reads a `--source` value: a device path, `tcp://host:port`, `file:PATH`, `-` or `demo`.
 *
 * @param value The option's value.
 * @returns The source spec.
 * @throws {RangeError} When the value is none of those, naming it (a tcp:// one with a user name or
 * password too, which it never shows).
 *
 * @example
 * ```ts
 * import { parseSourceSpec } from "./source.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(parseSourceSpec("tcp://192.0.2.7:2001"), { kind: "tcp", hostname: "192.0.2.7", port: 2001 });
 * assert.deepEqual(parseSourceSpec("/dev/ttyUSB0"), { kind: "serial", path: "/dev/ttyUSB0" });
 * ```
 */
export function parseSourceSpec(value: string): SourceSpec {
  if (value === "demo") return { kind: "demo" };
  if (value === "-") return { kind: "stdin" };
  if (value.startsWith("file:")) {
    const path = value.slice(5);
    if (path === "") throw new RangeError(`Invalid source "${value}": file: needs a path`);
    return { kind: "file", path };
  }
  if (value.startsWith("tcp://")) {
    // The user name and password part, if any, is never shown (up to the authority's last @).
    const shown = value.replace(/^(tcp:\/\/)[^/?#]*@/, "$1***@");
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      throw new RangeError(`Invalid source "${shown}": expected tcp://host:port`);
    }
    if (shown !== value) {
      throw new RangeError(
        `Invalid source "${shown}": a tcp:// source takes no user name or password; give tcp://host:port`,
      );
    }
    const port = Number(url.port);
    if (
      !url.hostname || !Number.isInteger(port) || port < 1 || port > 65535 ||
      url.pathname.length > 1
    ) {
      throw new RangeError(
        `Invalid source "${value}": expected tcp://host:port with a port from 1 to 65535`,
      );
    }
    return { kind: "tcp", hostname: url.hostname.replace(/^\[|\]$/g, ""), port };
  }
  if (value.startsWith("/")) return { kind: "serial", path: value };
  throw new RangeError(
    `Invalid source "${value}": expected a device path (/dev/ttyUSB0), tcp://host:port, file:PATH, - or demo`,
  );
}

/** Waits `ms` milliseconds, or less when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
  });
}
