import assert from "node:assert/strict";
import {
  crc32,
  decodeRecord,
  encodeRecord,
  type QueueRecord,
  scanLog,
} from "../../../lib/outputs/queue/queue_record.ts";
import { concat } from "../../support/helpers.ts";

const encoder = new TextEncoder();

function record(seq: number): QueueRecord<unknown> {
  return { seq, queuedAt: 1_700_000_000_000 + seq, item: { telegram: `/T${seq}\r\n!\r\n` } };
}

function log(...lines: (Uint8Array | string)[]): Uint8Array {
  return concat(...lines.map((line) => typeof line === "string" ? encoder.encode(line) : line));
}

/** A record line with one byte of its JSON changed, as a flipped bit on disk would. */
function damaged(seq: number): Uint8Array {
  const line = encodeRecord(record(seq));
  line[line.length - 5] = line[line.length - 5]! ^ 0x01;
  return line;
}

Deno.test("crc32 gives the IEEE check value", () => {
  assert.equal(crc32(encoder.encode("123456789")), 0xcbf43926);
  assert.equal(crc32(new Uint8Array()), 0);
});

Deno.test("crc32 matches the bit-by-bit definition for every length and tail", () => {
  const bitwise = (bytes: Uint8Array) => {
    let crc = 0xffffffff;
    for (let at = 0; at < bytes.length; at++) {
      crc ^= bytes[at]!;
      for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
    }
    return (crc ^ 0xffffffff) >>> 0;
  };
  const bytes = Uint8Array.from({ length: 70 }, (_, i) => (i * 151 + 7) & 0xff);
  for (let length = 0; length <= bytes.length; length++) {
    assert.equal(crc32(bytes.subarray(0, length)), bitwise(bytes.subarray(0, length)), `${length}`);
  }
});

Deno.test("a record survives encoding and decoding unchanged", () => {
  const line = encodeRecord(record(7));
  assert.equal(line.at(-1), 0x0a);
  assert.deepEqual(decodeRecord(line.subarray(0, -1)), record(7));
});

Deno.test("a record with a changed byte, a wrong length or a cut end is refused", () => {
  assert.equal(decodeRecord(damaged(1).subarray(0, -1)), undefined);
  const line = new TextDecoder().decode(encodeRecord(record(1)).subarray(0, -1));
  const [length, crc, ...json] = line.split(" ");
  assert.equal(
    decodeRecord(encoder.encode(`${Number(length) + 1} ${crc} ${json.join(" ")}`)),
    undefined,
  );
  assert.equal(decodeRecord(encoder.encode(line.slice(0, -3))), undefined);
});

Deno.test("a line of bare JSON, as earlier builds wrote it, is still read", () => {
  const legacy = encoder.encode(JSON.stringify(record(3)));
  assert.deepEqual(decodeRecord(legacy), record(3));
  assert.equal(decodeRecord(encoder.encode('{"seq":3,"queuedAt":1,"it')), undefined);
  assert.equal(decodeRecord(encoder.encode('{"seq":0,"queuedAt":1,"item":1}')), undefined);
});

Deno.test("scanning steps over a damaged record and keeps the ones after it", () => {
  const bytes = log(
    encodeRecord(record(1)),
    encodeRecord(record(2)),
    damaged(3),
    encodeRecord(record(4)),
  );
  const scan = scanLog(bytes, 0);
  assert.deepEqual(scan.records.map((r) => r.seq), [1, 2, 4]);
  assert.equal(scan.lostRecords, 1);
  assert.equal(scan.damaged.length, 1);
  assert.equal(scan.damaged[0]!.atEnd, false);
  assert.equal(scan.records[2]!.offset, scan.damaged[0]!.end);
});

Deno.test("scanning counts the records a damaged stretch held by its neighbours' numbers", () => {
  // Two records run together into one unreadable line (their newline was damaged too).
  const merged = log(encodeRecord(record(2)).subarray(0, -1), "x", encodeRecord(record(3)));
  const scan = scanLog(log(encodeRecord(record(1)), merged, encodeRecord(record(4))), 0);
  assert.deepEqual(scan.records.map((r) => r.seq), [1, 4]);
  assert.equal(scan.lostRecords, 2);
});

Deno.test("damage to records already delivered loses nothing", () => {
  const bytes = log(encodeRecord(record(1)), damaged(2), encodeRecord(record(3)));
  assert.equal(scanLog(bytes, 2).lostRecords, 0);
  assert.equal(scanLog(bytes, 1).lostRecords, 1);
});

Deno.test("a torn last write is one lost record at the end", () => {
  const torn = encodeRecord(record(3)).subarray(0, 30);
  const scan = scanLog(log(encodeRecord(record(1)), encodeRecord(record(2)), torn), 0);
  assert.deepEqual(scan.records.map((r) => r.seq), [1, 2]);
  assert.equal(scan.lostRecords, 1);
  assert.deepEqual(scan.damaged.map((d) => d.atEnd), [true]);
});

Deno.test("damage at the start of a log counts one record per damaged line", () => {
  const scan = scanLog(log(damaged(5), encodeRecord(record(6))), 2);
  assert.deepEqual(scan.records.map((r) => r.seq), [6]);
  assert.equal(scan.lostRecords, 1);
});

Deno.test("blank lines are padding: skipped without being counted", () => {
  const scan = scanLog(log(encodeRecord(record(1)), "      \n", "\n", encodeRecord(record(2))), 0);
  assert.deepEqual(scan.records.map((r) => r.seq), [1, 2]);
  assert.equal(scan.lostRecords, 0);
  assert.deepEqual(scan.damaged, []);
});
