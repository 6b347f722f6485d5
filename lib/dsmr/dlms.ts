/**
 * Finds DLMS general-glo-ciphering frames (what Luxembourg's Smarty meters send instead of plain
 * telegrams) in a byte stream. The frames are binary, so any byte may occur inside one, `/` and `!`
 * included; bytes outside frames are handed on untouched, for the telegram framer.
 *
 * ```
 * DB  08  system title (8)  length  30  frame counter (4)  ciphertext ...  tag (12)
 *                           └ 1 byte below 0x80, or 0x81..0x84 then that many bytes, counting
 *                             everything after it: security byte, counter, ciphertext and tag
 * ```
 *
 * The scanner only finds frames; deciding whether one is genuine takes the key (see
 * `decryption.ts`). A frame found not to be genuine is given back with
 * {@linkcode DlmsFrameScanner.reject}: its bytes are dropped, and the search starts again at its
 * second byte, so that a frame a damaged one swallowed (its length ran past where it was cut off) is
 * still found.
 *
 * @module
 */

/** The tag of a general-glo-ciphering APDU, the first byte of every frame. */
export const GENERAL_GLO_CIPHERING = 0xdb;
/** Length of the system title (the meter's id: manufacturer and serial) that Smarty sends. */
export const SYSTEM_TITLE_BYTES = 8;
/** The security byte of authenticated encryption with suite 0 (AES-128-GCM), as Smarty sends. */
export const AUTHENTICATED_ENCRYPTION = 0x30;
/** Length of the frame counter (the invocation counter of the IV). */
export const FRAME_COUNTER_BYTES = 4;
/** Length of the authentication tag: GCM's tag cut to 96 bits. */
export const TAG_BYTES = 12;

/** Security byte, counter and tag: what a frame's length counts besides the ciphertext. */
const OVERHEAD = 1 + FRAME_COUNTER_BYTES + TAG_BYTES;
/** Start byte, title length byte and title. */
const TITLE_END = 2 + SYSTEM_TITLE_BYTES;

/** One complete frame, its parts as sent. */
export interface DlmsFrame {
  /** The whole frame, `0xDB` through the tag (a copy the caller may keep). */
  readonly bytes: Uint8Array<ArrayBuffer>;
  /** The meter's system title (8 bytes). */
  readonly systemTitle: Uint8Array<ArrayBuffer>;
  /** The security byte (`0x30`). */
  readonly securityByte: number;
  /** The frame counter, which the meter increases with every frame. */
  readonly frameCounter: number;
  /** The encrypted telegram. */
  readonly ciphertext: Uint8Array<ArrayBuffer>;
  /** The authentication tag. */
  readonly tag: Uint8Array<ArrayBuffer>;
}

/** What a frame header says, read from the bytes at hand. */
export type FrameHeader =
  /** A valid header: the frame is `total` bytes long, its security byte at `securityAt`. */
  | { kind: "frame"; securityAt: number; total: number }
  /** Valid so far, but the bytes end inside it. */
  | { kind: "more" }
  /** Not a frame header. */
  | { kind: "none" };

/**
 * Reads the header of a frame that would start at `at`.
 *
 * @param bytes The bytes.
 * @param at Where the `0xDB` is.
 * @param end Where the bytes at hand end.
 * @param maxBytes Longest frame taken for one; a longer length is no frame header.
 * @returns The header, or why there is none yet.
 *
 * @example
 * ```ts
 * import { readFrameHeader } from "./dlms.ts";
 * import assert from "node:assert/strict";
 * const header = new Uint8Array([0xdb, 8, 83, 65, 71, 103, 112, 1, 189, 84, 0x82, 0x02, 0x7a, 0x30]);
 * assert.deepEqual(readFrameHeader(header, 0, header.length, 4096), { kind: "frame", securityAt: 13, total: 647 });
 * assert.deepEqual(readFrameHeader(header, 0, 12, 4096), { kind: "more" });
 * ```
 */
export function readFrameHeader(
  bytes: Uint8Array,
  at: number,
  end: number,
  maxBytes: number,
): FrameHeader {
  if (bytes[at] !== GENERAL_GLO_CIPHERING) return { kind: "none" };
  if (at + 1 >= end) return { kind: "more" };
  if (bytes[at + 1] !== SYSTEM_TITLE_BYTES) return { kind: "none" };
  const lengthAt = at + TITLE_END;
  if (lengthAt >= end) return { kind: "more" };
  // A-XDR length: one byte below 0x80, or 0x80 + the number of big-endian bytes that follow.
  const first = bytes[lengthAt]!;
  const extra = first < 0x80 ? 0 : first - 0x80;
  if (first === 0x80 || extra > 4) return { kind: "none" };
  const securityAt = lengthAt + 1 + extra;
  if (securityAt >= end) return { kind: "more" };
  let length = extra === 0 ? first : 0;
  for (let k = 1; k <= extra; k++) length = length * 256 + bytes[lengthAt + k]!;
  const total = securityAt - at + length;
  if (length <= OVERHEAD || total > maxBytes) return { kind: "none" };
  if (bytes[securityAt] !== AUTHENTICATED_ENCRYPTION) return { kind: "none" };
  return { kind: "frame", securityAt: securityAt - at, total };
}

/** What {@linkcode DlmsFrameScanner.next} found. */
export type ScanItem =
  /** Bytes outside any frame, for the telegram framer (a view: use it before the next push). */
  | { kind: "bytes"; bytes: Uint8Array }
  /** A complete frame: accept or reject it before asking for the next item. */
  | { kind: "frame"; frame: DlmsFrame }
  /** A frame the input ended inside of: `received` of its `expected` bytes (when known) came. */
  | { kind: "truncated"; received: number; expected: number | undefined };

/** Options for {@linkcode DlmsFrameScanner}. */
export interface DlmsScannerOptions {
  /**
   * Longest frame taken for one, in bytes.
   * @default {16384 + 64}
   */
  maxBytes?: number;
}

/**
 * An I/O-free, bounded scanner for general-glo-ciphering frames: push chunks in, pull frames and
 * the bytes between them out. It keeps at most one frame's bytes.
 *
 * @example Splitting a frame from the plain bytes around it
 * ```ts
 * import { DlmsFrameScanner } from "./dlms.ts";
 * import assert from "node:assert/strict";
 * const body = [0x30, 0, 0, 0, 1, ...new Array(20).fill(0x21)];
 * const frame = [0xdb, 8, 1, 2, 3, 4, 5, 6, 7, 8, body.length, ...body];
 * const scanner = new DlmsFrameScanner();
 * scanner.push(new Uint8Array([0x41, 0x42, ...frame, 0x43]));
 * assert.deepEqual(scanner.next(), { kind: "bytes", bytes: new Uint8Array([0x41, 0x42]) });
 * const item = scanner.next();
 * assert.equal(item?.kind === "frame" && item.frame.frameCounter, 1);
 * scanner.accept();
 * assert.deepEqual(scanner.next(), { kind: "bytes", bytes: new Uint8Array([0x43]) });
 * assert.equal(scanner.next(), undefined);
 * ```
 */
export class DlmsFrameScanner {
  /** Bytes dropped: parts of rejected or truncated frames that held no other frame. */
  discardedBytes = 0;
  readonly #maxBytes: number;
  /** The bytes at hand, `#start` to `#end`; a chunk itself while nothing of it must be kept. */
  #buffer: Uint8Array = new Uint8Array(0);
  #owned = false;
  #start = 0;
  #end = 0;
  /** Bytes before this index that are not part of a frame belong to a rejected one: dropped. */
  #dropUntil = 0;
  /** The frame last handed out, until it is accepted or rejected. */
  #pending: { start: number; end: number } | undefined;

  /** Makes a scanner; see {@linkcode DlmsScannerOptions}. */
  constructor(options: DlmsScannerOptions = {}) {
    this.#maxBytes = options.maxBytes ?? 16 * 1024 + 64;
  }

  /**
   * Adds a chunk; take out what it completes with {@linkcode DlmsFrameScanner.next}.
   *
   * @param chunk Bytes in the order received; kept only until the next call to `next` returns
   *   `undefined`, and copied then if part of a frame is still waiting.
   */
  push(chunk: Uint8Array): void {
    this.#settle();
    if (chunk.length === 0) return;
    if (this.#start === this.#end) {
      this.#buffer = chunk;
      this.#owned = false;
      this.#start = 0;
      this.#end = chunk.length;
      this.#dropUntil = 0;
      return;
    }
    // Keep what waits at the front of a buffer of ours, large enough for it and the chunk.
    const kept = this.#end - this.#start;
    const needed = kept + chunk.length;
    if (this.#owned && needed <= this.#buffer.length) {
      this.#buffer.copyWithin(0, this.#start, this.#end);
    } else {
      const buffer = new Uint8Array(Math.max(needed, 2 * kept, 1024));
      buffer.set(this.#buffer.subarray(this.#start, this.#end));
      this.#buffer = buffer;
      this.#owned = true;
    }
    this.#dropUntil = Math.max(0, this.#dropUntil - this.#start);
    this.#start = 0;
    this.#buffer.set(chunk, kept);
    this.#end = needed;
  }

  /**
   * The next item: plain bytes, a frame, or (with `final`) a truncated frame.
   *
   * @param final No more bytes will come: a frame still waiting for bytes is truncated.
   * @returns The item, or `undefined` when the bytes at hand are used up (or end inside a frame).
   */
  next(final = false): ScanItem | undefined {
    this.#settle();
    const buffer = this.#buffer;
    let from = this.#start;
    while (this.#start < this.#end) {
      let at = buffer.indexOf(GENERAL_GLO_CIPHERING, from);
      if (at < 0 || at >= this.#end) at = this.#end;
      const header = at < this.#end
        ? readFrameHeader(buffer, at, this.#end, this.#maxBytes)
        : { kind: "none" as const };
      // A lone 0xDB at the very end of the input is only a byte.
      const alone = final && header.kind === "more" && at + 1 === this.#end;
      if (at < this.#end && (header.kind === "none" || alone)) {
        from = at + 1;
        continue;
      }
      const plain = this.#take(at);
      if (plain) return { kind: "bytes", bytes: plain };
      if (at === this.#end) break;
      const available = this.#end - at;
      if (header.kind === "frame" && available >= header.total) {
        this.#pending = { start: at, end: at + header.total };
        this.#start = at + header.total;
        return { kind: "frame", frame: frameAt(buffer, at, header.securityAt, header.total) };
      }
      if (!final) break;
      // The input ended inside this frame: drop what came of it, and look inside for another.
      this.#dropUntil = Math.max(this.#dropUntil, this.#end);
      this.#start = at + 1;
      this.discardedBytes++;
      return {
        kind: "truncated",
        received: available,
        expected: header.kind === "frame" ? header.total : undefined,
      };
    }
    this.#keep();
    return undefined;
  }

  /** The frame last returned is genuine (or was used up): the scan goes on after it. */
  accept(): void {
    if (!this.#pending) return;
    this.#dropUntil = 0;
    this.#pending = undefined;
  }

  /**
   * The frame last returned is not genuine: its bytes are dropped, and the search for the next
   * frame starts again at its second byte.
   *
   * @returns Whether another frame starts inside it (it was cut short, and the next one swallowed).
   */
  reject(): boolean {
    const pending = this.#pending;
    if (!pending) return false;
    this.#pending = undefined;
    this.#start = pending.start + 1;
    this.#dropUntil = Math.max(this.#dropUntil, pending.end);
    this.discardedBytes++;
    const buffer = this.#buffer;
    for (let at = pending.start + 1; at < pending.end; at++) {
      at = buffer.indexOf(GENERAL_GLO_CIPHERING, at);
      if (at < 0 || at >= pending.end) break;
      if (readFrameHeader(buffer, at, pending.end, this.#maxBytes).kind !== "none") return true;
    }
    return false;
  }

  /**
   * Drops everything at hand (for example when the source reconnects).
   *
   * @returns Whether a frame was left unfinished.
   */
  reset(): boolean {
    this.#settle();
    let unfinished = false;
    for (let at = this.#start; at + 1 < this.#end && !unfinished; at++) {
      unfinished = readFrameHeader(this.#buffer, at, this.#end, this.#maxBytes).kind !== "none";
    }
    this.discardedBytes += this.#end - this.#start;
    this.#buffer = new Uint8Array(0);
    this.#owned = false;
    this.#start = this.#end = this.#dropUntil = 0;
    return unfinished;
  }

  /** A frame handed out and neither accepted nor rejected is taken as accepted. */
  #settle(): void {
    if (this.#pending) this.accept();
  }

  /** Moves the start to `to`: the plain bytes on the way are returned, the dropped ones counted. */
  #take(to: number): Uint8Array | undefined {
    const from = this.#start;
    if (to <= from) return undefined;
    this.#start = to;
    const kept = Math.max(from, Math.min(to, this.#dropUntil));
    this.discardedBytes += kept - from;
    return kept < to ? this.#buffer.subarray(kept, to) : undefined;
  }

  /** What is left waiting for more bytes is copied out of a chunk the caller owns. */
  #keep(): void {
    if (this.#owned || this.#start === this.#end) return;
    this.#buffer = this.#buffer.slice(this.#start, this.#end);
    this.#owned = true;
    this.#dropUntil = Math.max(0, this.#dropUntil - this.#start);
    this.#end -= this.#start;
    this.#start = 0;
  }
}

/**
 * Splits a capture before each frame and before each `/` outside frames, so that a paced replay
 * sends one frame or plain telegram at a time (splitting at every `/` would cut frames apart).
 *
 * @param bytes The capture.
 * @param maxBytes Longest frame taken for one.
 * @returns The pieces, in order, together the whole capture.
 *
 * @example
 * ```ts
 * import { splitCapture } from "./dlms.ts";
 * import assert from "node:assert/strict";
 * const frame = [0xdb, 8, 1, 2, 3, 4, 5, 6, 7, 8, 18, 0x30, ...new Array(17).fill(0x2f)];
 * const pieces = splitCapture(new Uint8Array([...frame, 0x2f, 0x41, ...frame]));
 * assert.deepEqual(pieces.map((piece) => piece.length), [29, 2, 29]);
 * ```
 */
export function splitCapture(bytes: Uint8Array, maxBytes = 16 * 1024 + 64): Uint8Array[] {
  const pieces: Uint8Array[] = [];
  let start = 0;
  const cut = (at: number) => {
    if (at > start) pieces.push(bytes.subarray(start, at));
    start = at;
  };
  for (let at = 0; at < bytes.length;) {
    const header = readFrameHeader(bytes, at, bytes.length, maxBytes);
    if (header.kind === "frame" && at + header.total <= bytes.length) {
      cut(at);
      at += header.total;
      cut(at);
    } else {
      if (bytes[at] === 0x2f) cut(at);
      at++;
    }
  }
  cut(bytes.length);
  return pieces;
}

function frameAt(buffer: Uint8Array, at: number, securityAt: number, total: number): DlmsFrame {
  const bytes = buffer.slice(at, at + total);
  const counterAt = securityAt + 1;
  const frameCounter = ((bytes[counterAt]! << 24) | (bytes[counterAt + 1]! << 16) |
    (bytes[counterAt + 2]! << 8) | bytes[counterAt + 3]!) >>> 0;
  return {
    bytes,
    systemTitle: bytes.subarray(2, TITLE_END),
    securityByte: bytes[securityAt]!,
    frameCounter,
    ciphertext: bytes.subarray(counterAt + FRAME_COUNTER_BYTES, total - TAG_BYTES),
    tag: bytes.subarray(total - TAG_BYTES),
  };
}
