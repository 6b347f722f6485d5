/**
 * Small byte-array helpers.
 *
 * @module
 */

/**
 * Joins byte arrays into one.
 *
 * @param parts The arrays, in order.
 * @returns A new array holding all their bytes.
 */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, part) => n + part.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/**
 * A text's characters as bytes, one per character, as a telegram's text holds them. A character
 * above U+00FF, which no telegram holds, becomes 0xFF.
 *
 * @param text The text.
 * @returns A new array of `text.length` bytes.
 */
export function latin1Bytes(text: string): Uint8Array {
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    bytes[i] = code > 0xff ? 0xff : code;
  }
  return bytes;
}

/**
 * A `Uint32Array` over the whole words of the last buffer asked for, made again only when the
 * buffer changes: making a typed array view costs more than reading a telegram's words through
 * it, and telegrams come one after another from the same buffer.
 */
export class WordView {
  #words: Uint32Array<ArrayBufferLike> = new Uint32Array(0);

  /**
   * The view of a buffer's words; word `k` holds bytes `4k` to `4k + 3`.
   *
   * @param buffer The buffer.
   * @returns A view of its `byteLength >>> 2` words.
   */
  of(buffer: ArrayBufferLike): Uint32Array<ArrayBufferLike> {
    const count = buffer.byteLength >>> 2;
    if (this.#words.buffer !== buffer || this.#words.length !== count) {
      this.#words = new Uint32Array(buffer, 0, count);
    }
    return this.#words;
  }
}
