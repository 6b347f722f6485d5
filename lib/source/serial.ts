/**
 * A serial P1 port opened, configured and read through libc (FFI), so only `--allow-ffi` is
 * needed: Deno's own `Deno.open` on `/dev` demands `--allow-all`.
 *
 * Reads return after half a second of silence (VMIN 0, VTIME 5); after any empty or failed read
 * `tcgetattr` tells a quiet line from a device that went away (EIO after an unplug).
 *
 * @module
 */

import type { SerialSettings } from "../dsmr/formats.ts";
import { type ByteSource, type ByteStream, SourceError } from "./source.ts";
import {
  applySettings,
  cString,
  describeErrno,
  errno,
  libc,
  permissionFacts,
  readTermios,
  settingsMismatch,
  T,
  TERMIOS_SIZE,
} from "./termios.ts";

/** Options for {@linkcode SerialSource}. */
export interface SerialSourceOptions {
  /** The device, e.g. `/dev/ttyUSB0` or a `/dev/serial/by-id/...` link. */
  path: string;
  /** Line settings to try in order (more than one for `auto`: 115200 8N1, then 9600 7E1). */
  settings: readonly SerialSettings[];
}

/** Formats line settings the usual way: `115200 8N1`. */
export function describeSettings(settings: SerialSettings): string {
  return `${settings.baudRate} ${settings.dataBits}${
    settings.parity[0]!.toUpperCase()
  }${settings.stopBits}`;
}

/** A serial device as a {@linkcode ByteSource}. */
export class SerialSource implements ByteSource {
  /** Device paths reconnect when they come back. */
  readonly endless = true;
  readonly #path: string;
  readonly #candidates: readonly SerialSettings[];
  #current = 0;
  #confirmed = false;

  /** Makes the source; nothing is opened until {@linkcode SerialSource.open}. */
  constructor(options: SerialSourceOptions) {
    if (options.settings.length === 0) {
      throw new RangeError("Cannot open a serial port without settings");
    }
    this.#path = options.path;
    this.#candidates = options.settings;
  }

  /** For example `serial /dev/ttyUSB0 115200 8N1`. */
  get description(): string {
    return `serial ${this.#path} ${describeSettings(this.#candidates[this.#current]!)}`;
  }

  /** The line settings in use. */
  get settings(): SerialSettings {
    return this.#candidates[this.#current]!;
  }

  /** Moves to the next candidate settings, unless a valid telegram confirmed the current ones. */
  nextSettings(): string | undefined {
    if (this.#confirmed || this.#candidates.length < 2) return undefined;
    this.#current = (this.#current + 1) % this.#candidates.length;
    return this.description;
  }

  /** Keeps the current settings. */
  confirmSettings(): void {
    this.#confirmed = true;
  }

  /** Opens and configures the device. */
  open(): Promise<ByteStream> {
    const c = libc();
    const path = this.#path;
    const fd = c.open(cString(path), T.O_RDWR | T.O_NOCTTY | T.O_CLOEXEC, 0);
    if (fd < 0) {
      const code = errno();
      return Promise.reject(openError(path, code));
    }
    try {
      if (c.isatty(fd) !== 1) {
        throw new SourceError(`Cannot use "${path}": it is not a serial device (tty)`, "ENOTTY");
      }
      const termios = new Uint8Array(TERMIOS_SIZE);
      if (c.tcgetattr(fd, termios) !== 0) throw failure(`read the settings of "${path}"`);
      c.cfmakeraw(termios);
      const requested = applySettings(termios, this.settings, 5);
      if (c.tcsetattr(fd, T.TCSANOW, termios) !== 0) throw failure(`configure "${path}"`);
      c.tcflush(fd, T.TCIOFLUSH);
      const back = new Uint8Array(TERMIOS_SIZE);
      if (c.tcgetattr(fd, back) !== 0) throw failure(`read back the settings of "${path}"`);
      const mismatch = settingsMismatch(requested, readTermios(back));
      const warnings = mismatch.length === 0 ? [] : [
        `"${path}" did not take all of ${describeSettings(this.settings)} (${
          mismatch.join("; ")
        }); ` +
        "a pseudo-terminal cannot hold 7 data bits or parity, a real serial adapter can",
      ];
      return Promise.resolve(new SerialStream(fd, path, warnings));
    } catch (error) {
      c.close(fd);
      return Promise.reject(error);
    }
  }
}

function failure(action: string): SourceError {
  const code = errno();
  return new SourceError(
    `Cannot ${action}: ${describeErrno(code)}`,
    code === T.EIO ? "EIO" : "OTHER",
  );
}

function openError(path: string, code: number): SourceError {
  const reason = describeErrno(code);
  if (code === T.ENOENT) {
    return new SourceError(
      `Cannot open "${path}": ${reason}`,
      "ENOENT",
      "plug the P1 cable in, or set --source to where it is: ls -l /dev/serial/by-id/ lists the " +
        "serial devices by a name that survives replugging (or use tcp://HOST:PORT, demo)",
    );
  }
  if (code === T.EACCES) {
    const facts = permissionFacts(path);
    const group = facts.deviceGid === undefined ? "its group" : `group ${facts.deviceGid}`;
    return new SourceError(
      `Cannot open "${path}": ${reason} (running as uid ${facts.uid}, gid ${facts.gid}, ` +
        `groups [${facts.groups.join(", ")}]; the device belongs to ${group})`,
      "EACCES",
      `add the user to the device's group (usually dialout: sudo usermod -aG dialout $USER, then log in again); ` +
        `in Docker pass --device ${path} --group-add ${
          facts.deviceGid ?? "<gid of the device>"
        }; ` +
        "under systemd use SupplementaryGroups=dialout",
    );
  }
  return new SourceError(`Cannot open "${path}": ${reason}`, "OTHER");
}

const EMPTY = new Uint8Array(0);

class SerialStream implements ByteStream {
  readonly warnings: readonly string[];
  readonly #fd: number;
  readonly #path: string;
  readonly #buffer = new Uint8Array(4096);
  readonly #probe = new Uint8Array(TERMIOS_SIZE);
  #closed = false;
  #pending: Promise<unknown> | undefined;

  constructor(fd: number, path: string, warnings: string[]) {
    this.#fd = fd;
    this.#path = path;
    this.warnings = warnings;
  }

  async read(): Promise<Uint8Array | null> {
    if (this.#closed) return null;
    const c = libc();
    const pending = c.read(this.#fd, this.#buffer, BigInt(this.#buffer.length));
    this.#pending = pending;
    const n = Number(await pending);
    this.#pending = undefined;
    if (this.#closed) return null;
    if (n > 0) return this.#buffer.slice(0, n);
    // Nothing, or an error: a device that went away fails tcgetattr with EIO.
    if (c.tcgetattr(this.#fd, this.#probe) !== 0) {
      const code = errno();
      throw new SourceError(
        `Serial device "${this.#path}" went away: ${describeErrno(code)}`,
        "EIO",
      );
    }
    if (n < 0) throw new SourceError(`Cannot read "${this.#path}"`, "OTHER");
    return EMPTY;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // The fd stays open until the read running on another thread returns (at most VTIME).
    await this.#pending;
    libc().close(this.#fd);
  }
}
