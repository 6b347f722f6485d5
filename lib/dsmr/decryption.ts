/**
 * Decrypting Luxembourg's Smarty telegrams: each arrives as a DLMS general-glo-ciphering frame
 * (see `dlms.ts`), AES-128-GCM with a 96-bit tag, IV = system title ‖ frame counter, additional
 * data = security byte ‖ authentication key. {@linkcode DecryptingScanner} turns a byte stream of
 * such frames, plain telegrams, or both, into whole plaintext telegrams for the parser, whose CRC
 * check still applies.
 *
 * A frame is handed on only when its tag matches and its counter is above the last one accepted
 * from the same meter; every other frame is counted by why, reported, and never data.
 *
 * Deno's WebCrypto decrypts AES-GCM only with 128-bit tags, so a frame is decrypted with AES-CTR
 * from GCM's second counter block (which is what GCM does), and its tag checked by encrypting the
 * result again with AES-GCM and comparing the 96-bit tags.
 *
 * @module
 */

import { AUTHENTICATED_ENCRYPTION, type DlmsFrame, DlmsFrameScanner } from "./dlms.ts";
import {
  DEFAULT_MAX_TELEGRAM_BYTES,
  type FramerStats,
  FrameScanner,
  type RawTelegram,
} from "./framer.ts";

/** The authentication key every Smarty meter uses (Luxmetering P1 specification 1.1.3, §3.2.5). */
export const SMARTY_AUTHENTICATION_KEY = "00112233445566778899AABBCCDDEEFF";

/** Bytes of an AES-128 key. */
const KEY_BYTES = 16;

/**
 * Reads a 16-byte key written as 32 hex digits. The messages of its errors never repeat the text,
 * since it is a secret.
 *
 * @param text The key as the user gave it; spaces around it are ignored.
 * @returns The 16 bytes.
 * @throws {RangeError} When it is not 32 hex digits.
 *
 * @example
 * ```ts
 * import { parseKey } from "./decryption.ts";
 * import assert from "node:assert/strict";
 * assert.equal(parseKey("00112233445566778899aabbccddeeff")[15], 0xff);
 * assert.throws(() => parseKey("0011"), /expected 32 hex digits \(16 bytes\), got 4 characters/);
 * ```
 */
export function parseKey(text: string): Uint8Array {
  const hex = text.trim();
  if (hex.length !== 2 * KEY_BYTES) {
    throw new RangeError(
      `expected 32 hex digits (16 bytes), got ${hex.length} character${
        hex.length === 1 ? "" : "s"
      }`,
    );
  }
  if (!/^[0-9a-f]+$/i.test(hex)) {
    throw new RangeError("expected 32 hex digits (16 bytes), but it holds other characters");
  }
  const key = new Uint8Array(KEY_BYTES);
  for (let i = 0; i < KEY_BYTES; i++) key[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return key;
}

/** The keys a meter's frames are decrypted with. */
export interface DecryptionKeys {
  /** The meter's key (16 bytes), from the grid operator. */
  decryptionKey: Uint8Array;
  /** The authentication key (16 bytes). @default {the Smarty key, 00112233445566778899AABBCCDDEEFF} */
  authenticationKey?: Uint8Array;
}

/** Why a frame gave no telegram; also the `result` label of its metric. */
export type FrameRejectionKind = "no_key" | "wrong_key" | "bad_tag" | "replay" | "truncated";

/** A frame that gave no telegram: why, and what to check. */
export interface FrameRejection {
  /** Why, in one word. */
  kind: FrameRejectionKind;
  /** What happened. */
  message: string;
  /** What to check or set. */
  fix: string;
}

/** Encrypted frames seen, by outcome. */
export interface FrameCounts {
  /** Decrypted and handed on. */
  decrypted: number;
  /** Seen while no key was set. */
  noKey: number;
  /** Not decrypted by the key. */
  wrongKey: number;
  /** Decrypted, but the authentication tag did not match. */
  badTag: number;
  /** Genuine, but with a frame counter not above the last one accepted. */
  replayed: number;
  /** Cut short by the next frame, a reconnect or the end of the input. */
  truncated: number;
}

/** Options for {@linkcode DecryptingScanner}. */
export interface DecryptingScannerOptions {
  /** The keys; without them encrypted frames are counted as `no_key` and dropped. */
  keys?: DecryptionKeys;
  /**
   * Largest telegram kept, in bytes (a frame may be 64 bytes longer).
   * @default {16384}
   */
  maxBytes?: number;
  /** Told of every frame that gave no telegram, in order. */
  onRejection?: (rejection: FrameRejection) => void;
}

/** What to check, by kind of rejection. */
const FIXES: Readonly<Record<FrameRejectionKind, string>> = {
  no_key: "Luxembourg's Smarty meters encrypt their telegrams: set --decryption-key to the " +
    "meter's 16-byte key from the grid operator",
  wrong_key: "check --decryption-key, the meter's key from the grid operator; one such frame " +
    "among good ones was more likely damaged on the way",
  bad_tag: "it was damaged on the way (check the cable), or the meter uses another " +
    "--authentication-key",
  replay: "something repeats old frames; a looping replay of a capture does",
  truncated: "check the cable or the connection",
};
/** Each outcome of a frame (the `result` label of its metric) and where it is counted. */
export const FRAME_OUTCOMES: Readonly<Record<"ok" | FrameRejectionKind, keyof FrameCounts>> = {
  ok: "decrypted",
  no_key: "noKey",
  wrong_key: "wrongKey",
  bad_tag: "badTag",
  replay: "replayed",
  truncated: "truncated",
};

/**
 * Bytes in, whole plaintext telegrams out: encrypted frames are decrypted and checked, plain
 * telegrams framed as by {@linkcode FrameScanner}. Memory is bounded by the size limits.
 *
 * @example Decrypting a capture
 * ```ts ignore
 * import { DecryptingScanner, parseKey } from "./decryption.ts";
 * import { parseTelegram } from "./parse.ts";
 * const scanner = new DecryptingScanner({ keys: { decryptionKey: parseKey(Deno.args[0]!) } });
 * const raws = [...await scanner.push(await Deno.readFile("capture.bin")), ...await scanner.flush()];
 * for (const raw of raws) console.log(parseTelegram(raw, { format: "luxembourg" }).energy);
 * ```
 */
export class DecryptingScanner {
  /** Encrypted frames seen, by outcome. */
  readonly frames: FrameCounts = {
    decrypted: 0,
    noKey: 0,
    wrongKey: 0,
    badTag: 0,
    replayed: 0,
    truncated: 0,
  };
  readonly #frameScanner: DlmsFrameScanner;
  readonly #telegrams: FrameScanner;
  readonly #cipher: FrameCipher | undefined;
  readonly #onRejection: (rejection: FrameRejection) => void;
  /** The highest frame counter accepted from each meter (by system title). */
  readonly #counters = new Map<string, number>();
  /** Bytes of genuine frames that gave no telegram (no key, replayed). */
  #unusedBytes = 0;
  /** Calls run one after the other, whatever the caller awaits. */
  #queue: Promise<unknown> = Promise.resolve();

  /** Makes a scanner; see {@linkcode DecryptingScannerOptions}. */
  constructor(options: DecryptingScannerOptions = {}) {
    const maxBytes = options.maxBytes ?? DEFAULT_MAX_TELEGRAM_BYTES;
    this.#telegrams = new FrameScanner({ maxBytes });
    this.#frameScanner = new DlmsFrameScanner({ maxBytes: maxBytes + 64 });
    this.#cipher = options.keys ? new FrameCipher(options.keys) : undefined;
    this.#onRejection = options.onRejection ?? (() => {});
  }

  /** The telegram framer's counters; dropped frame bytes count as discarded. */
  get stats(): FramerStats {
    const stats = this.#telegrams.stats;
    return {
      ...stats,
      discardedBytes: stats.discardedBytes + this.#frameScanner.discardedBytes + this.#unusedBytes,
    };
  }

  /**
   * Scans one chunk.
   *
   * @param chunk Bytes in the order received.
   * @returns The telegrams completed by this chunk, oldest first.
   */
  push(chunk: Uint8Array): Promise<RawTelegram[]> {
    return this.#serially(() => {
      this.#frameScanner.push(chunk);
      return this.#drain(false);
    });
  }

  /**
   * Ends the input: a frame still waiting for bytes is truncated, a telegram complete up to its CRC
   * is emitted.
   *
   * @returns The telegrams completed by the end of the input.
   */
  flush(): Promise<RawTelegram[]> {
    return this.#serially(() => this.#drain(true));
  }

  /** Drops an unfinished frame or telegram (for example when the source reconnects), counting it. */
  reset(): void {
    if (this.#frameScanner.reset()) {
      this.#reject("truncated", "cut short: the source went away inside it");
    }
    this.#telegrams.reset();
  }

  #serially<T>(work: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(work);
    this.#queue = run.catch(() => {});
    return run;
  }

  async #drain(final: boolean): Promise<RawTelegram[]> {
    const out: RawTelegram[] = [];
    for (let item = this.#frameScanner.next(final); item; item = this.#frameScanner.next(final)) {
      if (item.kind === "bytes") {
        out.push(...this.#telegrams.push(item.bytes));
      } else if (item.kind === "truncated") {
        this.#reject(
          "truncated",
          item.expected === undefined
            ? "cut short by the end of the input, inside its header"
            : `cut short by the end of the input, after ${item.received} of its ${item.expected} bytes`,
        );
      } else {
        const plaintext = await this.#open(item.frame);
        // A frame holds one whole telegram: nothing of it waits for the next frame.
        if (plaintext) out.push(...this.#telegrams.push(plaintext), ...this.#telegrams.flush());
      }
    }
    if (final) out.push(...this.#telegrams.flush());
    return out;
  }

  /** The frame's telegram, or `undefined` (counted and reported) when it gives none. */
  async #open(frame: DlmsFrame): Promise<Uint8Array | undefined> {
    if (!this.#cipher) {
      this.#frameScanner.accept();
      this.#unusedBytes += frame.bytes.length;
      this.#reject("no_key", "no key is set to decrypt it");
      return undefined;
    }
    const opened = await this.#cipher.open(frame);
    if (opened.kind !== "ok") {
      if (this.#frameScanner.reject()) {
        this.#reject("truncated", "cut short: the next frame began inside it");
      } else if (opened.kind === "bad_tag") {
        this.#reject(
          "bad_tag",
          "it decrypts, but its authentication tag does not match",
        );
      } else {
        this.#reject("wrong_key", "it does not decrypt with this key");
      }
      return undefined;
    }
    this.#frameScanner.accept();
    const meter = hex(frame.systemTitle);
    const last = this.#counters.get(meter);
    if (last !== undefined && frame.frameCounter <= last) {
      this.#unusedBytes += frame.bytes.length;
      this.#reject(
        "replay",
        `its counter ${frame.frameCounter} is not above the last one accepted from this meter (${last})`,
      );
      return undefined;
    }
    this.#counters.set(meter, frame.frameCounter);
    this.frames.decrypted++;
    return opened.plaintext;
  }

  #reject(kind: FrameRejectionKind, message: string): void {
    this.frames[FRAME_OUTCOMES[kind]]++;
    this.#onRejection({ kind, message, fix: FIXES[kind] });
  }
}

/** What decrypting one frame gave. */
type Opened =
  | { kind: "ok"; plaintext: Uint8Array }
  /** The key fits (the frame decrypts to text); the tag does not. */
  | { kind: "bad_tag" }
  | { kind: "wrong_key" };

/** AES-128-GCM with a 96-bit tag, through WebCrypto. */
class FrameCipher {
  readonly #keys: Promise<{ ctr: CryptoKey; gcm: CryptoKey }>;
  /** Security byte ‖ authentication key. */
  readonly #additionalData: Uint8Array<ArrayBuffer>;

  constructor(keys: DecryptionKeys) {
    const key = keys.decryptionKey;
    const authentication = keys.authenticationKey ?? parseKey(SMARTY_AUTHENTICATION_KEY);
    if (key.length !== KEY_BYTES || authentication.length !== KEY_BYTES) {
      throw new RangeError("The decryption and authentication keys must be 16 bytes each");
    }
    const raw = key.slice();
    this.#keys = Promise.all([
      crypto.subtle.importKey("raw", raw, "AES-CTR", false, ["decrypt"]),
      crypto.subtle.importKey("raw", raw, "AES-GCM", false, ["encrypt"]),
    ]).then(([ctr, gcm]) => ({ ctr, gcm }));
    this.#additionalData = new Uint8Array([AUTHENTICATED_ENCRYPTION, ...authentication]);
  }

  async open(frame: DlmsFrame): Promise<Opened> {
    const { ctr, gcm } = await this.#keys;
    const iv = new Uint8Array(12);
    iv.set(frame.systemTitle);
    new DataView(iv.buffer).setUint32(8, frame.frameCounter);
    const counter = new Uint8Array(16);
    counter.set(iv);
    counter[15] = 2; // GCM encrypts from inc32(IV ‖ 0x00000001)
    const plaintext = new Uint8Array(
      await crypto.subtle.decrypt(
        { name: "AES-CTR", counter, length: 32 },
        ctr,
        frame.ciphertext,
      ),
    );
    const sealed = new Uint8Array(
      await crypto.subtle.encrypt(
        { name: "AES-GCM", iv, additionalData: this.#additionalData, tagLength: 96 },
        gcm,
        plaintext,
      ),
    );
    if (sameBytes(sealed.subarray(plaintext.length), frame.tag)) return { kind: "ok", plaintext };
    return looksLikeText(plaintext) ? { kind: "bad_tag" } : { kind: "wrong_key" };
  }
}

/** Compares without stopping at the first difference. */
function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= a[i]! ^ b[i]!;
  return difference === 0;
}

/**
 * Mostly printable text or line ends: what the right key gives, even for a damaged frame, and a
 * wrong one practically never (each byte is text by chance 38 times in 100; 24 of 32 of them, once
 * in about ten million frames).
 */
function looksLikeText(bytes: Uint8Array): boolean {
  const n = Math.min(bytes.length, 32);
  let text = 0;
  for (let i = 0; i < n; i++) {
    const byte = bytes[i]!;
    if ((byte >= 0x20 && byte <= 0x7e) || byte === 0x0d || byte === 0x0a) text++;
  }
  return n > 0 && text >= 0.75 * n;
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}
