/**
 * The meter record in the data directory stays small and holds only meter ids: ids garbled on a
 * line without CRC must not grow it for ever, and what a reader did not write is not published.
 */
import assert from "node:assert/strict";
import { parseTelegram } from "../../../lib/dsmr/parse.ts";
import {
  MAX_RECORD_BYTES,
  MAX_RECORDED_METERS,
  METER_RECORD_FILE,
  readMeterRecord,
  writeMeterRecord,
} from "../../../lib/outputs/mqtt/meter_record.ts";
import { MqttPublisher } from "../../../lib/outputs/mqtt/publisher.ts";
import { demoTelegrams } from "../../support/telegrams.ts";

Deno.test("the record keeps the latest meters only, however many ids the line brought", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/${METER_RECORD_FILE}`;
  const publisher = new MqttPublisher({
    url: "mqtt://127.0.0.1:1",
    version: "test",
    recordPath: path,
  });
  const [bytes] = demoTelegrams(1);
  const ids = Array.from({ length: MAX_RECORDED_METERS + 9 }, (_, i) => `E00${i}`);
  for (const id of ids) {
    const telegram = { ...parseTelegram(new TextDecoder().decode(bytes!)), equipmentId: id };
    publisher.offer({ telegram, bytes: bytes!, receivedAt: Date.now() });
  }
  assert.deepEqual([...readMeterRecord(path, "p1reader").keys()], ids.slice(-MAX_RECORDED_METERS));
  await publisher.stop();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a record with ids no reader writes is read without them", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/${METER_RECORD_FILE}`;
  const entries = ["E0041", "a/#", "+", "", "x".repeat(65), "G_1-2"];
  await Deno.writeTextFile(
    path,
    JSON.stringify({ p1reader: Object.fromEntries(entries.map((id) => [id, {}])) }),
  );
  assert.deepEqual([...readMeterRecord(path, "p1reader").keys()], ["E0041", "G_1-2"]);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a record that is no regular file, or far too large, is not read", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/${METER_RECORD_FILE}`;
  // A FIFO: reading it would block the service (a synchronous read) until something writes.
  await new Deno.Command("mkfifo", { args: [path] }).output();
  assert.throws(() => readMeterRecord(path, "p1reader"), /not a regular file/);
  // Writing replaces it with a record.
  writeMeterRecord(path, "p1reader", new Map([["E0041", "plain"]]));
  assert.deepEqual([...readMeterRecord(path, "p1reader")], [["E0041", "plain"]]);
  // A FIFO left under the temporary file's name is not written through.
  await new Deno.Command("mkfifo", { args: [`${path}.tmp`] }).output();
  writeMeterRecord(path, "p1reader", new Map([["E0042", "prefixed"]]));
  assert.deepEqual([...readMeterRecord(path, "p1reader")], [["E0042", "prefixed"]]);
  // A valid record padded beyond any a reader writes names no meter.
  await Deno.writeTextFile(
    path,
    JSON.stringify({ p1reader: { E0043: {} }, pad: "x".repeat(MAX_RECORD_BYTES) }),
  );
  assert.throws(() => readMeterRecord(path, "p1reader"), /more than a record ever holds/);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a record entry that is no object is no meter", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/${METER_RECORD_FILE}`;
  await Deno.writeTextFile(
    path,
    JSON.stringify({ p1reader: { E0041: {}, x: 5, y: null, z: [], w: "plain" }, other: [1] }),
  );
  assert.deepEqual([...readMeterRecord(path, "p1reader").keys()], ["E0041"]);
  assert.deepEqual([...readMeterRecord(path, "other").keys()], []);
  await Deno.remove(dir, { recursive: true });
});
