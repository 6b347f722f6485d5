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
