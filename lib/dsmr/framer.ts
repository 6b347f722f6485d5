/**
 * Turns byte chunks of any size into whole telegrams, `/` through the line end after the CRC.
 *
 * Inside a telegram, only a `/` or `!` that starts a line starts the next telegram or ends this
 * one: the same characters elsewhere are data (a DSMR 2.2/3.0 text message such as `test-/-test`,
 * which has no CRC to catch a split). One exception: a telegram cut off mid-line (bytes lost on the
 * wire) is followed by the next one's identification line; when the telegram ends, a `/` within a
 * line that starts an identification line (three letters, no parenthesis to the line end) is taken
 * for the start of the telegram, and what came before it is dropped as an unfinished telegram.
 * Outside a telegram any `/` starts one, since a stream may begin mid-line and noise may precede
 * a header on its line.
 *
 * The scanner never throws on bytes: bytes outside a telegram, telegrams abandoned because a new
 * `/` began a line before their `!`, and telegrams longer than the limit are dropped and counted.
 * Checking the CRC is left to the parser (`parse.ts`), since whether a telegram may lack one
 * depends on the meter's format.
 *
 * @module
 */

import { WordView } from "../bytes.ts";

const SLASH = 0x2f;
const BANG = 0x21;
const CR = 0x0d;
const LF = 0x0a;

/** One framed telegram, byte for byte as the meter sent it. */
export interface RawTelegram {
  /**
   * The bytes from `/` through the line end after the CRC (CR LF or LF, when the meter sent one).
   * A view into a block shared with the telegrams framed around it: copy it before writing to it.
   */
  readonly bytes: Uint8Array;
  /** Index of the `!` in {@linkcode RawTelegram.bytes}: the CRC covers `bytes[0..bangIndex]`. */
  readonly bangIndex: number;
  /** The CRC digits written after `!` as sent (0 to 4 hex digits; `""` when the meter sends none). */
  readonly crcText: string;
}

/** Counters kept by a {@linkcode FrameScanner}. */
export interface FramerStats {
  /** Whole telegrams emitted. */
  telegrams: number;
  /** Bytes dropped: outside any telegram, or part of an abandoned or oversized telegram. */
  discardedBytes: number;
  /** Telegrams abandoned because a new `/` started a line before their `!`, or the input ended. */
  incomplete: number;
  /** Telegrams dropped for exceeding {@linkcode FramerOptions.maxBytes}. */
  oversized: number;
}

/** Options for {@linkcode FrameScanner} and {@linkcode TelegramFramer}. */
export interface FramerOptions {
  /**
   * Largest telegram kept, in bytes; a longer one is dropped and counted.
   * @default {16384}
   */
  maxBytes?: number;
}

/**
 * The longest identification line (after its `/`) taken for a meter's, several times the longest
 * seen (`XMX5LGBBFFB123456789`).
 */
export const MAX_IDENTIFICATION_BYTES = 64;

/** The default telegram size limit: 16 KiB, several times the largest real telegram. */
export const DEFAULT_MAX_TELEGRAM_BYTES = 16 * 1024;

/**
 * Telegrams are framed in place in shared blocks of this size, one after the other, and handed out
 * as views: making one small `Uint8Array` per telegram costs about a microsecond, a view into a
 * block a tenth of that, and no second copy is needed.
 */
const BLOCK_BYTES = 32 * 1024;

const enum State {
  /** Looking for `/`. */
  Seek,
  /** Inside a telegram, looking for `!`. */
  Body,
  /** After `!`, reading up to four CRC digits. */
  Crc,
  /** CRC complete or CR seen: waiting for the LF that ends the telegram. */
  Tail,
}

/** `0x01` in each byte of a word. */
const ONES = 0x01010101;
/** The top bit of each byte of a word. */
const HIGH_BITS = 0x80808080;
const BANGS = BANG * ONES;
const SLASHES = SLASH * ONES;
const WORDS = new WordView();

/**
 * The index of the first `!` or `/` in `bytes` from `from`, or `bytes.length`. Most of a telegram
 * is neither, so the aligned middle is read four bytes at a time: `(x - ONES) & ~x & HIGH_BITS` is
 * non-zero when a byte of `x` is zero, here when a byte of the word equals `!` or `/`. That word
 * and the unaligned ends are looked at a byte at a time (byte order does not matter). About twice
 * as fast as a byte loop.
 */
function indexOfBangOrSlash(bytes: Uint8Array, from: number): number {
  const n = bytes.length;
  let i = from;
  const offset = bytes.byteOffset;
  while (i < n && ((offset + i) & 3) !== 0) {
    const byte = bytes[i]!;
    if (byte === BANG || byte === SLASH) return i;
    i++;
  }
  if (n - i >= 16) {
    const words = WORDS.of(bytes.buffer);
    const first = (offset + i) >>> 2;
    const last = first + ((n - i) >>> 2);
    let w = first;
    for (; w < last; w++) {
      const word = words[w]!;
      const bangs = word ^ BANGS;
      const slashes = word ^ SLASHES;
      if ((((bangs - ONES) & ~bangs) | ((slashes - ONES) & ~slashes)) & HIGH_BITS) break;
    }
    i += (w - first) << 2;
  }
  for (; i < n; i++) {
    const byte = bytes[i]!;
    if (byte === BANG || byte === SLASH) return i;
  }
  return n;
}

function isLetter(byte: number): boolean {
  return (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a);
}

function isHexDigit(byte: number): boolean {
  return (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x46) ||
    (byte >= 0x61 && byte <= 0x66);
}

/**
 * An I/O-free, bounded telegram scanner: push chunks in, get whole telegrams out.
 *
 * @example Framing a stream split at an arbitrary point
 * ```ts
 * import { FrameScanner } from "./framer.ts";
 * import assert from "node:assert/strict";
 * const scanner = new FrameScanner();
 * const bytes = new TextEncoder().encode("junk/ISK5\r\n\r\n1-0:1.8.1(1.0*kWh)\r\n!1234\r\n");
 * assert.equal(scanner.push(bytes.subarray(0, 20)).length, 0);
 * const [telegram] = scanner.push(bytes.subarray(20));
 * assert.equal(telegram?.crcText, "1234");
 * assert.equal(scanner.stats.discardedBytes, 4);
 * ```
 */
export class FrameScanner {
  /** Counters since the scanner was made. */
  readonly stats: FramerStats = { telegrams: 0, discardedBytes: 0, incomplete: 0, oversized: 0 };
  readonly #maxBytes: number;
  #length = 0;
  /** Where, in the telegram being framed, a `/` fell within a line (see the module's notes). */
  #slashesWithinLines: number[] = [];
  #state = State.Seek;
  #bangIndex = -1;
  #crcDigits = 0;
  #block = new Uint8Array(0);
  #blockUsed = 0;

  /** Makes a scanner; see {@linkcode FramerOptions}. */
  constructor(options: FramerOptions = {}) {
    this.#maxBytes = options.maxBytes ?? DEFAULT_MAX_TELEGRAM_BYTES;
    if (!(this.#maxBytes >= 16)) {
      throw new RangeError(`Cannot frame telegrams of at most ${this.#maxBytes} bytes`);
    }
  }

  /**
   * Scans one chunk.
   *
   * @param chunk Bytes in the order received; the scanner keeps no reference to it.
   * @returns The telegrams completed by this chunk, oldest first.
   */
  push(chunk: Uint8Array): RawTelegram[] {
    const out: RawTelegram[] = [];
    const n = chunk.length;
    let i = 0;
    while (i < n) {
      switch (this.#state) {
        case State.Seek: {
          const start = chunk.indexOf(SLASH, i);
          if (start < 0) {
            this.stats.discardedBytes += n - i;
            return out;
          }
          this.stats.discardedBytes += start - i;
          this.#begin();
          this.#append(chunk, start, start + 1);
          this.#state = State.Body;
          i = start + 1;
          break;
        }
        case State.Body: {
          // The next "!" or "/": at the start of a line, a "/" restarts the telegram and a "!"
          // ends it; within a line either is data.
          const j = indexOfBangOrSlash(chunk, i);
          if (!this.#append(chunk, i, j)) {
            i = j;
            break;
          }
          if (j === n) return out;
          if (this.#block[this.#blockUsed + this.#length - 1] !== LF) {
            if (chunk[j] === SLASH) this.#slashesWithinLines.push(this.#length);
            this.#append(chunk, j, j + 1);
            i = j + 1;
            break;
          }
          if (chunk[j] === SLASH) {
            this.#abandon();
            this.#begin();
            this.#append(chunk, j, j + 1);
            this.#state = State.Body;
          } else {
            this.#bangIndex = this.#length;
            this.#append(chunk, j, j + 1);
            this.#crcDigits = 0;
            this.#state = State.Crc;
          }
          i = j + 1;
          break;
        }
        case State.Crc:
        case State.Tail: {
          // The CRC line, as far as this chunk holds it: up to four hex digits, then CR LF or LF.
          // Anything else ends the telegram without being part of it (a meter that sends no
          // line end after the CRC, or the next telegram's `/`).
          let state: State = this.#state;
          let digits = this.#crcDigits;
          let j = i;
          let ended = false;
          while (j < n) {
            const byte = chunk[j]!;
            if (byte === LF) {
              j++;
              ended = true;
              break;
            }
            if (byte === CR) {
              state = State.Tail;
            } else if (state === State.Crc && isHexDigit(byte)) {
              if (++digits === 4) state = State.Tail;
            } else {
              ended = true;
              break;
            }
            j++;
          }
          if (this.#append(chunk, i, j)) {
            this.#state = state;
            this.#crcDigits = digits;
            if (ended) out.push(this.#emit());
          }
          i = j;
          break;
        }
      }
    }
    return out;
  }

  /**
   * Ends the input: a telegram complete up to its CRC but missing its line end is emitted, and
   * an unfinished one is dropped and counted.
   *
   * @returns The telegram completed by the end of input, if any.
   */
  flush(): RawTelegram[] {
    if (this.#state === State.Crc || this.#state === State.Tail) return [this.#emit()];
    if (this.#state === State.Body) this.#abandon();
    this.#state = State.Seek;
    return [];
  }

  /** Drops an unfinished telegram (for example when the source reconnects), counting it. */
  reset(): void {
    if (this.#state !== State.Seek) this.#abandon();
    this.#state = State.Seek;
  }

  /** Adds bytes to the telegram being framed, which is built in place in the current block. */
  #append(chunk: Uint8Array, from: number, to: number): boolean {
    const length = this.#length;
    const needed = length + (to - from);
    if (needed > this.#maxBytes) {
      this.stats.oversized++;
      this.stats.discardedBytes += needed;
      this.#length = 0;
      this.#state = State.Seek;
      return false;
    }
    let block = this.#block;
    let at = this.#blockUsed + length;
    if (this.#blockUsed + needed > block.length) {
      // The block is full: the telegram so far moves to a new one, and the old block lives on
      // as long as telegrams framed in it do. A telegram larger than a block gets room to double,
      // so that one arriving in small chunks is not copied again on every chunk.
      const fresh = new Uint8Array(Math.max(BLOCK_BYTES, Math.min(this.#maxBytes, needed * 2)));
      fresh.set(block.subarray(this.#blockUsed, at));
      this.#block = block = fresh;
      this.#blockUsed = 0;
      at = length;
    }
    if (to - from > 16) {
      block.set(chunk.subarray(from, to), at);
    } else {
      // A few bytes (the CRC line, a lone "/"): copied without making a subarray.
      for (let k = from; k < to; k++, at++) block[at] = chunk[k]!;
    }
    this.#length = needed;
    return true;
  }

  /** Starts a new telegram. */
  #begin(): void {
    this.#length = 0;
    this.#slashesWithinLines.length = 0;
  }

  #abandon(): void {
    this.stats.incomplete++;
    this.stats.discardedBytes += this.#length;
    this.#length = 0;
  }

  #emit(): RawTelegram {
    const length = this.#length;
    const end = this.#blockUsed + length;
    const cut = this.#slashesWithinLines.length === 0 ? 0 : this.#identificationWithinLine();
    const bytes = this.#block.subarray(this.#blockUsed + cut, end);
    const bangIndex = this.#bangIndex - cut;
    if (cut > 0) {
      this.stats.incomplete++;
      this.stats.discardedBytes += cut;
    }
    this.#blockUsed = end;
    let crcText = "";
    for (let k = bangIndex + 1; k < bangIndex + 1 + this.#crcDigits; k++) {
      crcText += String.fromCharCode(bytes[k]!);
    }
    this.stats.telegrams++;
    this.#length = 0;
    this.#state = State.Seek;
    return { bytes, bangIndex, crcText };
  }

  /**
   * Where the last `/` within a line that starts an identification line is in the telegram being
   * emitted (`/`, three letters, a printable character, no parenthesis up to the line end, which
   * comes within {@linkcode MAX_IDENTIFICATION_BYTES} and before the `!`), or 0. Each `/` is
   * looked at for a bounded number of bytes, however many a hostile telegram holds.
   */
  #identificationWithinLine(): number {
    const block = this.#block;
    const start = this.#blockUsed;
    const bang = start + this.#bangIndex;
    for (let s = this.#slashesWithinLines.length - 1; s >= 0; s--) {
      let i = start + this.#slashesWithinLines[s]! + 1;
      if (!(isLetter(block[i]!) && isLetter(block[i + 1]!) && isLetter(block[i + 2]!))) continue;
      const fourth = block[i + 3]!;
      if (fourth <= 0x20 || fourth >= 0x7f) continue;
      const limit = Math.min(bang, i + MAX_IDENTIFICATION_BYTES + 2);
      for (i += 4; i < limit && block[i] !== LF && block[i] !== 0x28 && block[i] !== 0x29; i++);
      if (i < limit && block[i] === LF) return this.#slashesWithinLines[s]!;
    }
    return 0;
  }
}

/**
 * A `TransformStream` from byte chunks to {@linkcode RawTelegram}s, wrapping a
 * {@linkcode FrameScanner}; its counters are on {@linkcode TelegramFramer.stats}.
 *
 * @example Framing a file
 * ```ts ignore
 * import { TelegramFramer } from "./framer.ts";
 * const file = await Deno.open("capture.txt");
 * for await (const telegram of file.readable.pipeThrough(new TelegramFramer())) {
 *   console.log(telegram.bytes.length);
 * }
 * ```
 */
export class TelegramFramer extends TransformStream<Uint8Array, RawTelegram> {
  /** Counters of the underlying scanner. */
  readonly stats: FramerStats;

  /** Makes a framer; see {@linkcode FramerOptions}. */
  constructor(options: FramerOptions = {}) {
    const scanner = new FrameScanner(options);
    super({
      transform(chunk, controller) {
        for (const telegram of scanner.push(chunk)) controller.enqueue(telegram);
      },
      flush(controller) {
        for (const telegram of scanner.flush()) controller.enqueue(telegram);
      },
    });
    this.stats = scanner.stats;
  }
}
