/**
 * Replays a capture: a file (`file:PATH`) or standard input (`-`), as fast as possible or paced
 * like a meter, optionally looping. As fast as possible (`p1reader import`), a file is read a
 * chunk at a time, so that a capture of months, larger than a Raspberry Pi's memory, can be
 * replayed; paced, it is read whole (its telegrams are cut apart first, and a replay a telegram a
 * second never needs more than a small file).
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
  /** Where a looping replay says that a pass through the file gave no telegram. @default {silent} */
  warn?: (message: string) => void;
}

const SLASH = 0x2f;
const CHUNK = 64 * 1024;
/**
 * A replay as fast as possible hands the event loop back after this much work: each read would
 * otherwise resolve at once, and the parser would run without pause, deaf to HTTP and to SIGTERM.
 */
const YIELD_EVERY_MS = 5;
/**
 * A looping replay waits this long after a pass through the file that gave no valid telegram (an
 * empty file, garbage, the wrong format): starting again at once would spin a CPU for ever.
 */
export const EMPTY_PASS_PAUSE_MS = 1000;

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

/** Hands the event loop back once it has been kept for {@linkcode YIELD_EVERY_MS}. */
class Breather {
  #last = performance.now();

  async breathe(signal: AbortSignal): Promise<void> {
    if (performance.now() - this.#last < YIELD_EVERY_MS) return;
    await sleep(0, signal);
    this.#last = performance.now();
  }
}

function readError(path: string, error: unknown): SourceError {
  const code = (error as { code?: unknown }).code;
  return new SourceError(
    `Cannot read "${path}": ${(error as Error).message}`,
    typeof code === "string" ? code : "OTHER",
  );
}

/**
 * The passes of a looping replay through its file: how many began, and whether the receiver saw a
 * telegram in the current one. A pass without one makes the next wait.
 */
class Passes {
  /** Passes begun, the first included. */
  count = 0;
  #telegrams = 0;
  #warned = false;

  constructor(readonly path: string, readonly warn: (message: string) => void) {}

  /** A pass begins (the first, at open). */
  begin(): void {
    this.count++;
    this.#telegrams = 0;
  }

  /** The receiver took a telegram from the bytes of this pass. */
  telegramArrived(): void {
    this.#telegrams++;
  }

  /** The pass reached the end of the file: waits first when it gave no telegram, then begins the next. */
  async next(signal: AbortSignal): Promise<void> {
    if (this.#telegrams === 0) {
      if (!this.#warned) {
        this.warn(
          `file ${this.path} holds no valid telegram: the looping replay reads it again every ` +
            `${EMPTY_PASS_PAUSE_MS / 1000} s until it does`,
        );
        this.#warned = true;
      }
      await sleep(EMPTY_PASS_PAUSE_MS, signal);
    }
    this.begin();
  }
}

/** A capture file as a {@linkcode ByteSource}. */
export class FileSource implements ByteSource {
  /** A replay ends at the end of the file (unless it loops). */
  readonly endless = false;
  readonly #options: FileSourceOptions;
  readonly #passes: Passes;

  /** Makes the source; the file is read on {@linkcode FileSource.open}. */
  constructor(options: FileSourceOptions) {
    this.#options = options;
    this.#passes = new Passes(options.path, options.warn ?? (() => {}));
  }

  /** Passes through the file begun since the source was made (a looping replay begins many). */
  get passes(): number {
    return this.#passes.count;
  }

  /** A valid telegram came from the bytes read: the pass goes on at once to the next. */
  telegramArrived(): void {
    this.#passes.telegramArrived();
  }

  /** For example `file capture.txt (every 1 s, looping)`. */
  get description(): string {
    const { path, intervalSeconds = 0, loop = false } = this.#options;
    const pace = intervalSeconds > 0 ? `every ${intervalSeconds} s` : "as fast as possible";
    return `file ${path} (${pace}${loop ? ", looping" : ""})`;
  }

  /** Opens the file and starts the replay. */
  async open(): Promise<ByteStream> {
    const { path, intervalSeconds = 0, loop = false } = this.#options;
    const passes = loop ? this.#passes : undefined;
    if (intervalSeconds <= 0) {
      let file: Deno.FsFile;
      try {
        file = await Deno.open(path);
      } catch (error) {
        throw readError(path, error);
      }
      this.#passes.begin();
      return new ChunkStream(file, path, passes);
    }
    let bytes: Uint8Array;
    try {
      bytes = await Deno.readFile(path);
    } catch (error) {
      throw readError(path, error);
    }
    const split = this.#options.split ?? splitAtTelegrams;
    this.#passes.begin();
    return new ReplayStream(split(bytes), intervalSeconds * 1000, passes);
  }
}

/** A file as fast as it can be read, a chunk at a time: memory stays bounded whatever its size. */
class ChunkStream implements ByteStream {
  readonly warnings: readonly string[] = [];
  readonly #file: Deno.FsFile;
  readonly #path: string;
  /** The passes of a looping replay; `undefined` for a replay that ends at the end of the file. */
  readonly #passes: Passes | undefined;
  readonly #closing = new AbortController();
  readonly #breather = new Breather();

  constructor(file: Deno.FsFile, path: string, passes: Passes | undefined) {
    this.#file = file;
    this.#path = path;
    this.#passes = passes;
  }

  async read(): Promise<Uint8Array | null> {
    await this.#breather.breathe(this.#closing.signal);
    if (this.#closing.signal.aborted) return null;
    const chunk = new Uint8Array(CHUNK);
    try {
      let count = await this.#file.read(chunk);
      if (count === null && this.#passes) {
        await this.#passes.next(this.#closing.signal);
        if (this.#closing.signal.aborted) return null;
        await this.#file.seek(0, Deno.SeekMode.Start);
        // An empty file gives an empty chunk: the next read ends this pass too, after the pause.
        count = (await this.#file.read(chunk)) ?? 0;
      }
      if (count === null) {
        await this.close();
        return null;
      }
      return chunk.subarray(0, count);
    } catch (error) {
      if (this.#closing.signal.aborted) return null; // closed while a read was under way
      throw readError(this.#path, error);
    }
  }

  close(): Promise<void> {
    if (!this.#closing.signal.aborted) {
      this.#closing.abort();
      this.#file.close();
    }
    return Promise.resolve();
  }
}

/** A capture cut into pieces, each sent after the interval. */
class ReplayStream implements ByteStream {
  readonly warnings: readonly string[] = [];
  readonly #pieces: Uint8Array[];
  readonly #intervalMs: number;
  /** The passes of a looping replay; `undefined` for a replay that ends at the end of the file. */
  readonly #passes: Passes | undefined;
  readonly #closing = new AbortController();
  #next = 0;
  #started = false;

  constructor(pieces: Uint8Array[], intervalMs: number, passes: Passes | undefined) {
    this.#pieces = pieces;
    this.#intervalMs = intervalMs;
    this.#passes = passes;
  }

  async read(): Promise<Uint8Array | null> {
    if (this.#closing.signal.aborted) return null;
    if (this.#next === this.#pieces.length) {
      if (!this.#passes) return null;
      await this.#passes.next(this.#closing.signal);
      this.#next = 0;
      // An empty file: nothing to send in this pass either.
      if (this.#pieces.length === 0) return this.#closing.signal.aborted ? null : new Uint8Array(0);
    }
    // Paced: a pause before every telegram but the very first, also when a loop starts over.
    if (this.#started) await sleep(this.#intervalMs, this.#closing.signal);
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
