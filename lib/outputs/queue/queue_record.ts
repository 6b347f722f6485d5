/**
 * How the push queue's log stores records, and how a log is read back.
 *
 * ```text
 * record  = LENGTH " " CRC32 " " JSON "\n"   LENGTH: decimal bytes of JSON; CRC32: 8 lowercase hex
 * legacy  = JSON "\n"                        as builds before the framing wrote them; read
 * padding = *" " "\n"                        a damaged record blanked out; skipped silently
 * JSON    = {"seq":N,"queuedAt":MS,"item":...}
 * ```
 *
 * JSON text never holds a raw newline, so every record is one line, and a damaged one (a torn
 * write, a flipped bit) fails its length or checksum: reading steps over it to the next line and
 * keeps the records after it. Sequence numbers are consecutive in a log, so the neighbours of a
 * damaged stretch tell how many records it held.
 *
 * @module
 */

/** One queued item. */
export interface QueueRecord<T> {
  /** Increasing sequence number. */
  seq: number;
  /** When it was queued (ms since the epoch). */
  queuedAt: number;
  /** The item. */
  item: T;
}

/** Where a readable record sits in the log. */
export interface RecordPlace {
  /** Its sequence number. */
  seq: number;
  /** When it was queued (ms since the epoch). */
  queuedAt: number;
  /** Its first byte in the log. */
  offset: number;
  /** Its bytes, the newline included. */
  length: number;
}

/** A run of unreadable lines in the log. */
export interface DamagedStretch {
  /** Its first byte. */
  start: number;
  /** One past its last byte (after its last newline, or the end of the log). */
  end: number;
  /** Whether the log ends inside it (a torn last write), rather than a readable record following. */
  atEnd: boolean;
}

/** What {@linkcode scanLog} found. */
export interface LogScan {
  /** Every readable record, in log order. */
  records: RecordPlace[];
  /** Unreadable stretches, in log order. */
  damaged: DamagedStretch[];
  /** How many records not yet done (above the delivered mark) the damaged stretches held. */
  lostRecords: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const NEWLINE = 0x0a;
const SPACE = 0x20;
const OPEN_BRACE = 0x7b;
const HEADER = /^(\d{1,10}) ([0-9a-f]{8}) $/;

/**
 * CRC-32 (IEEE 802.3, as zip and PNG use) slicing-by-8 tables in one array (8 KiB):
 * `CRC32_TABLES[k * 256 + b]` is the CRC of byte `b` followed by `k` zero bytes. Eight bytes a
 * step: a full queue (200,000 telegrams, 214 MB) is checked in well under a second here.
 */
const CRC32_TABLES: Uint32Array = (() => {
  const tables = new Uint32Array(8 * 256);
  for (let byte = 0; byte < 256; byte++) {
    let crc = byte;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
    tables[byte] = crc;
  }
  for (let k = 1; k < 8; k++) {
    for (let byte = 0; byte < 256; byte++) {
      const previous = tables[(k - 1) * 256 + byte]!;
      tables[k * 256 + byte] = (previous >>> 8) ^ tables[previous & 0xff]!;
    }
  }
  return tables;
})();

/**
 * Computes the CRC-32 of bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { crc32 } from "./queue_record.ts";
 *
 * assert.equal(crc32(new TextEncoder().encode("123456789")), 0xcbf43926);
 * ```
 *
 * @param bytes The data.
 * @returns The checksum, from 0 to 0xFFFFFFFF.
 */
export function crc32(bytes: Uint8Array): number {
  const t = CRC32_TABLES;
  let crc = 0xffffffff;
  let at = 0;
  for (const end = bytes.length - 7; at < end; at += 8) {
    const low = crc ^
      (bytes[at]! | bytes[at + 1]! << 8 | bytes[at + 2]! << 16 | bytes[at + 3]! << 24);
    crc = t[1792 + (low & 0xff)]! ^ t[1536 + ((low >>> 8) & 0xff)]! ^
      t[1280 + ((low >>> 16) & 0xff)]! ^ t[1024 + (low >>> 24)]! ^ t[768 + bytes[at + 4]!]! ^
      t[512 + bytes[at + 5]!]! ^ t[256 + bytes[at + 6]!]! ^ t[bytes[at + 7]!]!;
  }
  for (; at < bytes.length; at++) crc = t[(crc ^ bytes[at]!) & 0xff]! ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

/**
 * One record as a log line.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { decodeRecord, encodeRecord } from "./queue_record.ts";
 *
 * const line = encodeRecord({ seq: 1, queuedAt: 0, item: "a" });
 * assert.equal(new TextDecoder().decode(line), '33 ba8ad212 {"seq":1,"queuedAt":0,"item":"a"}\n');
 * assert.deepEqual(decodeRecord(line.subarray(0, -1)), { seq: 1, queuedAt: 0, item: "a" });
 * ```
 *
 * @param record The record (its item must survive `JSON.stringify`).
 * @returns The line, newline included.
 */
export function encodeRecord(record: QueueRecord<unknown>): Uint8Array {
  const json = encoder.encode(JSON.stringify(record));
  const header = encoder.encode(`${json.length} ${crc32(json).toString(16).padStart(8, "0")} `);
  const line = new Uint8Array(header.length + json.length + 1);
  line.set(header);
  line.set(json, header.length);
  line[line.length - 1] = NEWLINE;
  return line;
}

/**
 * Reads one log line back (framed or legacy), checking its length, checksum and shape.
 *
 * @param line The line without its newline.
 * @returns The record, or `undefined` when the line is damaged (or padding).
 */
export function decodeRecord(line: Uint8Array): QueueRecord<unknown> | undefined {
  let json = line;
  if (line[0] !== OPEN_BRACE) {
    const headerEnd = line.indexOf(SPACE, line.indexOf(SPACE) + 1) + 1;
    const header = HEADER.exec(decoder.decode(line.subarray(0, headerEnd)));
    json = line.subarray(headerEnd);
    if (!header || Number(header[1]) !== json.length || parseInt(header[2]!, 16) !== crc32(json)) {
      return undefined;
    }
  }
  let record: unknown;
  try {
    record = JSON.parse(decoder.decode(json));
  } catch {
    return undefined; // a legacy line cut short by a crash, or damaged: the caller counts it
  }
  return isRecord(record) ? record : undefined;
}

function isRecord(value: unknown): value is QueueRecord<unknown> {
  if (typeof value !== "object" || value === null || !("item" in value)) return false;
  const { seq, queuedAt } = value as { seq?: unknown; queuedAt?: unknown };
  return Number.isSafeInteger(seq) && (seq as number) > 0 && typeof queuedAt === "number";
}

function isPadding(line: Uint8Array): boolean {
  return line.every((byte) => byte === SPACE);
}

/**
 * Finds the readable records and the damaged stretches of a whole log.
 *
 * @param bytes The log.
 * @param delivered The delivered mark: records up to it are done, so damage to them loses nothing.
 * @returns Records, damaged stretches and how many records not yet done were lost to them.
 */
export function scanLog(bytes: Uint8Array, delivered: number): LogScan {
  const records: RecordPlace[] = [];
  const damaged: DamagedStretch[] = [];
  let lostRecords = 0;
  let stretch:
    | { start: number; end: number; lines: number; before: number | undefined }
    | undefined;
  const close = (after: number | undefined) => {
    if (!stretch) return;
    damaged.push({ start: stretch.start, end: stretch.end, atEnd: after === undefined });
    lostRecords += heldUndelivered(stretch.lines, stretch.before, after, delivered);
    stretch = undefined;
  };
  for (let offset = 0; offset < bytes.length;) {
    const newline = bytes.indexOf(NEWLINE, offset);
    const end = newline < 0 ? bytes.length : newline + 1;
    const line = bytes.subarray(offset, newline < 0 ? bytes.length : newline);
    const record = newline < 0 ? undefined : decodeRecord(line);
    if (record) {
      close(record.seq);
      records.push({ seq: record.seq, queuedAt: record.queuedAt, offset, length: end - offset });
    } else if (newline < 0 || !isPadding(line)) {
      stretch ??= { start: offset, end, lines: 0, before: records.at(-1)?.seq };
      stretch.end = end;
      stretch.lines++;
    }
    offset = end;
  }
  close(undefined);
  return { records, damaged, lostRecords };
}

/**
 * How many records above the delivered mark a damaged stretch held: the sequence numbers between
 * its readable neighbours; with a neighbour missing, one record per damaged line.
 */
function heldUndelivered(
  lines: number,
  before: number | undefined,
  after: number | undefined,
  delivered: number,
): number {
  const first = before !== undefined ? before + 1 : after !== undefined ? after - lines : 1;
  const last = after !== undefined ? after - 1 : (before ?? delivered) + lines;
  return Math.max(0, last - Math.max(first, delivered + 1) + 1);
}
