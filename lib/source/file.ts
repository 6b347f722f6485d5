/**
 * Replays a capture: a file (`file:PATH`) or standard input (`-`), as fast as possible or paced
 * like a meter, optionally looping.
 *
 * @module
 */

import { type ByteSource, type ByteStream, sleep, SourceError } from "./source.ts";

/** Options for {@linkcode FileSource}. */
export interface FileSourceOptions {
  /** The capture file. */
  path: string;
  /**
   * Seconds between telegrams; 0 replays as fast as possible.
   * @default {0}
   */
  intervalSeconds?: number;
  /**
   * Start again at the end of the file.
   * @default {false}
   */
  loop?: boolean;
  /**
   * Splits the capture into what a paced replay sends at a time.
   * @default {before each `/`, a telegram at a time}
   */
  split?: (bytes: Uint8Array) => Uint8Array[];
}

const SLASH = 0x2f;
const CHUNK = 64 * 1024;
/**
 * A replay as fast as possible hands the event loop back after this much work: each read would
 * otherwise resolve at once, and the parser would run without pause, deaf to HTTP and to SIGTERM.
 */
const YIELD_EVERY_MS = 5;

/** Splits a capture before each `/`, so that a paced replay sends one telegram at a time. */
function splitAtTelegrams(bytes: Uint8Array): Uint8Array[] {
  const pieces: Uint8Array[] = [];
  let start = 0;
  for (let at = bytes.indexOf(SLASH, 1); at > 0; at = bytes.indexOf(SLASH, at + 1)) {
    pieces.push(bytes.subarray(start, at));
    start = at;
  }
  pieces.push(bytes.subarray(start));
  return pieces.filter((piece) => piece.length > 0);
}

function splitInChunks(bytes: Uint8Array): Uint8Array[] {
  const pieces: Uint8Array[] = [];
  for (let at = 0; at < bytes.length; at += CHUNK) pieces.push(bytes.subarray(at, at + CHUNK));
  return pieces;
}

/** A capture file as a {@linkcode ByteSource}. */
export class FileSource implements ByteSource {
  /** A replay ends at the end of the file (unless it loops). */
  readonly endless = false;
  readonly #options: FileSourceOptions;

  /** Makes the source; the file is read on {@linkcode FileSource.open}. */
  constructor(options: FileSourceOptions) {
    this.#options = options;
  }

  /** For example `file capture.txt (every 1 s, looping)`. */
  get description(): string {
    const { path, intervalSeconds = 0, loop = false } = this.#options;
    const pace = intervalSeconds > 0 ? `every ${intervalSeconds} s` : "as fast as possible";
    return `file ${path} (${pace}${loop ? ", looping" : ""})`;
  }

  /** Reads the file and starts the replay. */
  async open(): Promise<ByteStream> {
    const { path, intervalSeconds = 0, loop = false } = this.#options;
    let bytes: Uint8Array;
    try {
      bytes = await Deno.readFile(path);
    } catch (error) {
      const code = error instanceof Deno.errors.NotFound ? "ENOENT" : "OTHER";
      throw new SourceError(`Cannot read "${path}": ${(error as Error).message}`, code);
    }
    const split = this.#options.split ?? splitAtTelegrams;
    const pieces = intervalSeconds > 0 ? split(bytes) : splitInChunks(bytes);
    return new ReplayStream(pieces, intervalSeconds * 1000, loop);
  }
}

class ReplayStream implements ByteStream {
  readonly warnings: readonly string[] = [];
  readonly #pieces: Uint8Array[];
  readonly #intervalMs: number;
  readonly #loop: boolean;
  readonly #closing = new AbortController();
  #next = 0;
  #started = false;
  #lastYield = performance.now();

  constructor(pieces: Uint8Array[], intervalMs: number, loop: boolean) {
    this.#pieces = pieces;
    this.#intervalMs = intervalMs;
    this.#loop = loop;
  }

  async read(): Promise<Uint8Array | null> {
    if (this.#closing.signal.aborted || this.#pieces.length === 0) return null;
    if (this.#next === this.#pieces.length) {
      if (!this.#loop) return null;
      this.#next = 0;
    }
    // Paced: a pause before every telegram but the very first, also when a loop starts over.
    if (this.#intervalMs > 0 && this.#started) {
      await sleep(this.#intervalMs, this.#closing.signal);
    } else if (performance.now() - this.#lastYield >= YIELD_EVERY_MS) {
      await sleep(0, this.#closing.signal);
      this.#lastYield = performance.now();
    }
    this.#started = true;
    if (this.#closing.signal.aborted) return null;
    return this.#pieces[this.#next++]!.slice();
  }

  close(): Promise<void> {
    this.#closing.abort();
    return Promise.resolve();
  }
}

/** Standard input as a {@linkcode ByteSource}: read once, to its end. */
export class StdinSource implements ByteSource {
  /** Standard input ends once. */
  readonly endless = false;
  /** `stdin`. */
  readonly description = "stdin";
  readonly #stream: ReadableStream<Uint8Array>;
  #opened = false;

  /**
   * Makes the source.
   *
   * @param stream Standard input (or any byte stream standing in for it).
   */
  constructor(stream: ReadableStream<Uint8Array> = Deno.stdin.readable) {
    this.#stream = stream;
  }

  /** Starts reading; standard input can be opened only once. */
  open(): Promise<ByteStream> {
    if (this.#opened) {
      return Promise.reject(new SourceError("Standard input was read to its end", "EOF"));
    }
    this.#opened = true;
    const reader = this.#stream.getReader();
    return Promise.resolve({
      warnings: [],
      async read() {
        const { value, done } = await reader.read();
        return done ? null : value;
      },
      async close() {
        await reader.cancel().catch(() => {});
      },
    });
  }
}
