/**
 * The meters a reader has published over MQTT, kept in its data directory (`mqtt-meters.json`)
 * so that a restart knows them before any telegram: their status topics say `offline` until their
 * data is live again (after a `kill -9` the broker still holds `online`), and each meter keeps the
 * identity it had (see `identity.ts`), also when the broker has lost its retained configs.
 *
 * The file holds one entry per topic prefix, as readers with other prefixes are other meters:
 * `{ "<prefix>": { "<meter id>": { "identity": "plain" } } }`. It is replaced whole (a temporary
 * file written, flushed and renamed over it), so that a crash leaves the old record or the new one,
 * never half of one.
 *
 * @module
 */

import type { Identity } from "./discovery.ts";

/** The record's file name in the data directory. */
export const METER_RECORD_FILE = "mqtt-meters.json";

/**
 * The most meters a prefix's record keeps (the latest): a home has one meter, a replaced one and a
 * few M-Bus devices; ids garbled on a line without CRC must not grow the file for ever.
 */
export const MAX_RECORDED_METERS = 16;

/**
 * The largest record read: 16 meters for each of a few prefixes take a few kilobytes. A larger file
 * (or anything but a regular file: a FIFO would block the read, and with it the whole service, for
 * ever) is not one a reader wrote, and reading it whole could exhaust a small machine's memory.
 */
export const MAX_RECORD_BYTES = 1 << 20;

/** A meter id as `safeId` makes it; anything else in the file was not written by a reader. */
const METER_ID = /^[A-Za-z0-9_-]{1,64}$/;

/** The meters of one prefix: their ids, and the identity of those decided. */
export type RecordedMeters = Map<string, Identity | undefined>;

type RecordFile = Record<string, Record<string, { identity?: Identity }>>;

function readFile(path: string): RecordFile {
  let info: Deno.FileInfo;
  try {
    info = Deno.statSync(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return {};
    throw error;
  }
  if (!info.isFile) throw new Error(`${path} is not a regular file`);
  if (info.size > MAX_RECORD_BYTES) {
    throw new Error(`${path} has ${info.size} bytes, more than a record ever holds`);
  }
  const text = Deno.readTextFileSync(path);
  const parsed: unknown = JSON.parse(text);
  return isObject(parsed) ? parsed as RecordFile : {};
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/**
 * The meters recorded for a prefix; none when there is no record yet.
 *
 * @param path The record file.
 * @param prefix The reader's topic prefix.
 * @throws What the file system says when the file cannot be read; a `SyntaxError` when it is
 *   not JSON.
 */
export function readMeterRecord(path: string, prefix: string): RecordedMeters {
  const meters: RecordedMeters = new Map();
  const ofPrefix = readFile(path)[prefix];
  // A reader writes an object for each meter; a value of another kind is no meter of ours.
  const entries = Object.entries(isObject(ofPrefix) ? ofPrefix : {}).filter(([id, entry]) =>
    METER_ID.test(id) && isObject(entry)
  );
  for (const [id, entry] of entries.slice(-MAX_RECORDED_METERS)) {
    const identity: unknown = entry.identity;
    meters.set(id, identity === "plain" || identity === "prefixed" ? identity : undefined);
  }
  return meters;
}

/**
 * Replaces the prefix's meters in the record (the other prefixes' stay), atomically.
 *
 * @param path The record file.
 * @param prefix The reader's topic prefix.
 * @param meters Every meter of the prefix.
 * @throws What the file system says (a full disk, a read-only directory).
 */
export function writeMeterRecord(path: string, prefix: string, meters: RecordedMeters): void {
  let record: RecordFile;
  try {
    record = readFile(path);
  } catch {
    record = {}; // an unreadable record is replaced by one that can be read
  }
  record[prefix] = Object.fromEntries(
    [...meters].map(([id, identity]) => [id, identity ? { identity } : {}]),
  );
  const temporary = `${path}.tmp`;
  // Made afresh: a FIFO or a link left under its name must not be opened (and written through).
  try {
    Deno.removeSync(temporary);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  const file = Deno.openSync(temporary, { write: true, createNew: true });
  try {
    const bytes = new TextEncoder().encode(`${JSON.stringify(record, null, 2)}\n`);
    for (let at = 0; at < bytes.length;) at += file.writeSync(bytes.subarray(at));
    file.syncSync(); // on disk before the rename makes it the record
  } finally {
    file.close();
  }
  Deno.renameSync(temporary, path);
}
