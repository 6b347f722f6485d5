import assert from "node:assert/strict";
import { crc16, formatCrc } from "../../lib/dsmr/crc16.ts";

const encode = (text: string) => new TextEncoder().encode(text);

Deno.test("crc16() gives the CRC-16/ARC check value of 123456789", () => {
  assert.equal(crc16(encode("123456789")), 0xbb3d);
});

Deno.test("crc16() of nothing is 0", () => {
  assert.equal(crc16(new Uint8Array()), 0);
});

Deno.test("crc16() covers only the given range", () => {
  const bytes = encode("xx123456789yy");
  assert.equal(crc16(bytes, 2, 11), 0xbb3d);
});

Deno.test("formatCrc() pads to four upper-case digits", () => {
  assert.equal(formatCrc(0xb9f), "0B9F");
  assert.equal(formatCrc(0xbb3d), "BB3D");
});

/** CRC-16/ARC a bit at a time, straight from its definition. */
function bitwiseCrc(bytes: Uint8Array): number {
  let crc = 0;
  for (const byte of bytes) {
    crc ^= byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0xa001 : crc >>> 1;
  }
  return crc;
}

Deno.test("crc16() agrees with the bit-by-bit definition at every offset and length", () => {
  let seed = 7;
  const data = new Uint8Array(1100).map(() => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24);
  for (let start = 0; start < 9; start++) {
    for (const length of [0, 1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 47, 48, 49, 64, 889, 1090]) {
      const end = start + length;
      assert.equal(
        crc16(data, start, end),
        bitwiseCrc(data.subarray(start, end)),
        `${start}+${length}`,
      );
      const view = data.subarray(start, end); // the same bytes at another byte offset
      assert.equal(crc16(view), bitwiseCrc(view), `view ${start}+${length}`);
    }
  }
});
