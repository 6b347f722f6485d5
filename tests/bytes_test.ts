import assert from "node:assert/strict";
import { latin1Bytes, WordView } from "../lib/bytes.ts";

Deno.test("latin1Bytes() keeps one byte per character, and no character above U+00FF", () => {
  assert.deepEqual([...latin1Bytes("/a\r\n\u00e9")], [0x2f, 0x61, 0x0d, 0x0a, 0xe9]);
  // U+0131 would read as "1" if only its low byte were kept.
  assert.deepEqual([...latin1Bytes("\u0131\u20ac")], [0xff, 0xff]);
});

Deno.test("WordView reads the words of the buffer it is given, whichever that is", () => {
  const view = new WordView();
  const first = new Uint8Array([1, 0, 0, 0, 2, 0, 0, 0, 9]);
  const second = new Uint8Array([3, 0, 0, 0]);
  assert.deepEqual([...view.of(first.buffer)], [1, 2]);
  assert.equal(view.of(first.buffer), view.of(first.buffer), "the same buffer keeps its view");
  assert.deepEqual([...view.of(second.buffer)], [3]);
  first[4] = 7;
  assert.deepEqual([...view.of(first.buffer)], [1, 7]);
});

Deno.test("WordView follows a resizable buffer that grows or shrinks", () => {
  const view = new WordView();
  const buffer = new ArrayBuffer(4, { maxByteLength: 16 });
  assert.equal(view.of(buffer).length, 1);
  buffer.resize(12);
  new Uint8Array(buffer)[8] = 5;
  assert.deepEqual([...view.of(buffer)], [0, 0, 5]);
  buffer.resize(4);
  assert.equal(view.of(buffer).length, 1);
});
