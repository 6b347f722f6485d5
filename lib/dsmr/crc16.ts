/**
 * CRC-16/ARC, the checksum of DSMR 4+ telegrams: reflected polynomial 0xA001, initial value 0,
 * computed over every byte from `/` through `!` inclusive.
 *
 * @module
 */

import { WordView } from "../bytes.ts";

/**
 * Slicing-by-16 tables in one array (8 KiB): `TABLES[k * 256 + b]` is the CRC of byte `b` followed
 * by `k` zero bytes.
 */
const TABLES: Uint16Array = (() => {
  const tables = new Uint16Array(16 * 256);
  for (let byte = 0; byte < 256; byte++) {
    let crc = byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0xa001 : crc >>> 1;
    tables[byte] = crc;
  }
  for (let k = 1; k < 16; k++) {
    for (let byte = 0; byte < 256; byte++) {
      const previous = tables[(k - 1) * 256 + byte]!;
      tables[k * 256 + byte] = (previous >>> 8) ^ tables[previous & 0xff]!;
    }
  }
  return tables;
})();

/** Whether this machine stores the low byte of a word first (x86-64 and arm64 Linux do). */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Computes the CRC-16/ARC of `bytes[start..end)`.
 *
 * @param bytes The data.
 * @param start First byte to include (default 0).
 * @param end One past the last byte to include (default `bytes.length`).
 * @returns The checksum as a number from 0 to 0xFFFF.
 *
 * @example Checksum of the standard check string
 * ```ts
 * import { crc16 } from "./crc16.ts";
 * import assert from "node:assert/strict";
 * assert.equal(crc16(new TextEncoder().encode("123456789")), 0xbb3d);
 * ```
 */
export function crc16(bytes: Uint8Array, start = 0, end: number = bytes.length): number {
  if (!LITTLE_ENDIAN || end - start < 32) return crcOfBytes(0, bytes, start, end);
  // Up to three bytes one at a time, until the rest starts on a word boundary.
  const aligned = start + ((4 - ((bytes.byteOffset + start) & 3)) & 3);
  let crc = crcOfBytes(0, bytes, start, aligned);
  // Then sixteen bytes per step, read as four little-endian words: the 16-bit CRC folds into the
  // first two bytes, and each byte goes through the table of its distance from the end.
  const t = TABLES;
  const words = WORDS.of(bytes.buffer);
  const first = (bytes.byteOffset + aligned) >>> 2;
  const count = ((end - aligned) >>> 4) << 2;
  for (let w = first; w < first + count; w += 4) {
    const a = words[w]! ^ crc;
    const b = words[w + 1]!;
    const c = words[w + 2]!;
    const d = words[w + 3]!;
    crc = t[0xf00 | (a & 0xff)]! ^ t[0xe00 | ((a >>> 8) & 0xff)]! ^
      t[0xd00 | ((a >>> 16) & 0xff)]! ^ t[0xc00 | (a >>> 24)]! ^
      t[0xb00 | (b & 0xff)]! ^ t[0xa00 | ((b >>> 8) & 0xff)]! ^
      t[0x900 | ((b >>> 16) & 0xff)]! ^ t[0x800 | (b >>> 24)]! ^
      t[0x700 | (c & 0xff)]! ^ t[0x600 | ((c >>> 8) & 0xff)]! ^
      t[0x500 | ((c >>> 16) & 0xff)]! ^ t[0x400 | (c >>> 24)]! ^
      t[0x300 | (d & 0xff)]! ^ t[0x200 | ((d >>> 8) & 0xff)]! ^
      t[0x100 | ((d >>> 16) & 0xff)]! ^ t[d >>> 24]!;
  }
  // And the last bytes one at a time.
  return crcOfBytes(crc, bytes, aligned + (count << 2), end);
}

const WORDS = new WordView();

/** Continues `crc` over `bytes[from..to)` a byte at a time. */
function crcOfBytes(crc: number, bytes: Uint8Array, from: number, to: number): number {
  const t = TABLES;
  for (let i = from; i < to; i++) crc = (crc >>> 8) ^ t[(crc ^ bytes[i]!) & 0xff]!;
  return crc;
}

/**
 * Formats a CRC the way meters write it: four upper-case hex digits.
 *
 * @param crc A checksum from {@linkcode crc16}.
 * @returns For example `"0B9F"`.
 */
export function formatCrc(crc: number): string {
  return String.fromCharCode(
    HEX_DIGITS[(crc >>> 12) & 0xf]!,
    HEX_DIGITS[(crc >>> 8) & 0xf]!,
    HEX_DIGITS[(crc >>> 4) & 0xf]!,
    HEX_DIGITS[crc & 0xf]!,
  );
}

/** The character codes of the upper-case hex digits. */
const HEX_DIGITS = [..."0123456789ABCDEF"].map((digit) => digit.charCodeAt(0));
