/**
 * CRC-16/ARC, the checksum of DSMR 4+ telegrams: reflected polynomial 0xA001, initial value 0,
 * computed over every byte from `/` through `!` inclusive.
 *
 * @module
 */

/** Slicing-by-8 tables: `TABLES[k][b]` is the CRC of byte `b` followed by `k` zero bytes. */
const TABLES: Uint16Array[] = (() => {
  const tables = Array.from({ length: 8 }, () => new Uint16Array(256));
  const base = tables[0]!;
  for (let byte = 0; byte < 256; byte++) {
    let crc = byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0xa001 : crc >>> 1;
    base[byte] = crc;
  }
  for (let k = 1; k < 8; k++) {
    for (let byte = 0; byte < 256; byte++) {
      const previous = tables[k - 1]![byte]!;
      tables[k]![byte] = (previous >>> 8) ^ base[previous & 0xff]!;
    }
  }
  return tables;
})();

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
  const [t0, t1, t2, t3, t4, t5, t6, t7] = TABLES as [
    Uint16Array,
    Uint16Array,
    Uint16Array,
    Uint16Array,
    Uint16Array,
    Uint16Array,
    Uint16Array,
    Uint16Array,
  ];
  let crc = 0;
  let i = start;
  // Eight bytes per step: the 16-bit CRC folds into the first two, the rest go through their tables.
  for (; i + 8 <= end; i += 8) {
    const a = (bytes[i]! ^ crc) & 0xff;
    const b = (bytes[i + 1]! ^ (crc >>> 8)) & 0xff;
    crc = t7[a]! ^ t6[b]! ^ t5[bytes[i + 2]!]! ^ t4[bytes[i + 3]!]! ^ t3[bytes[i + 4]!]! ^
      t2[bytes[i + 5]!]! ^ t1[bytes[i + 6]!]! ^ t0[bytes[i + 7]!]!;
  }
  for (; i < end; i++) crc = (crc >>> 8) ^ t0[(crc ^ bytes[i]!) & 0xff]!;
  return crc;
}

/**
 * Formats a CRC the way meters write it: four upper-case hex digits.
 *
 * @param crc A checksum from {@linkcode crc16}.
 * @returns For example `"0B9F"`.
 */
export function formatCrc(crc: number): string {
  return crc.toString(16).toUpperCase().padStart(4, "0");
}
