import assert from "node:assert/strict";
import { FrameScanner } from "../../../lib/dsmr/framer.ts";
import { parseTelegram } from "../../../lib/dsmr/parse.ts";
import type { DsmrReaderApi } from "../../../lib/outputs/dsmr_reader/api.ts";
import { DsmrReaderOutput } from "../../../lib/outputs/dsmr_reader/output.ts";
import type { ReceivedTelegram } from "../../../lib/receiver.ts";
import { DemoMeter } from "../../../lib/source/demo.ts";
import { FakeDsmrReader } from "../../support/fake_dsmr_reader.ts";
import { memoryLogger, waitFor } from "../../support/helpers.ts";
import { fixtureBytes } from "../../support/paths.ts";
import { contextFor } from "../../support/service.ts";

/** Distinct telegrams one meter-second apart. */
function telegrams(count: number, start = Date.UTC(2024, 0, 15, 9, 0, 0)): ReceivedTelegram[] {
  let now = start;
  const meter = new DemoMeter({ now: () => now, seed: 9 });
  const scanner = new FrameScanner();
  return Array.from({ length: count }, () => {
    const [raw] = scanner.push(meter.telegram());
    now += 1000;
    return { telegram: parseTelegram(raw!), bytes: raw!.bytes, receivedAt: Date.now() };
  });
}

async function pusherFor(
  fake: FakeDsmrReader,
  options: {
    api?: DsmrReaderApi;
    key?: string;
    timeoutMs?: number;
    intervalSeconds?: number;
    maxRecords?: number;
  } = {},
) {
  const dir = await Deno.makeTempDir();
  const { logger, lines } = memoryLogger();
  const pusher = new DsmrReaderOutput({
    url: fake.url,
    apiKey: options.key ?? fake.key,
    api: options.api ?? "v1",
    timeoutMs: options.timeoutMs ?? 2000,
    intervalSeconds: options.intervalSeconds ?? 0,
    backoff: { initialMs: 20, maxMs: 100 },
    pauseMs: 400,
  });
  await pusher.start(contextFor(dir, logger, { maxRecords: options.maxRecords ?? 1000 }));
  return { pusher, lines, dir };
}

Deno.test("v1 push delivers the meter's telegrams verbatim, CR LF kept, with Token auth", async () => {
  const fake = new FakeDsmrReader().start();
  const { pusher, dir } = await pusherFor(fake);
  const sent = telegrams(5);
  for (const t of sent) await pusher.offer(t);
  // The reading is stored before the pusher has counted it: wait for the count itself.
  await waitFor(() => pusher.stats().pushes.delivered === 5, "five deliveries");
  assert.deepEqual(fake.readings.map((r) => r.telegram), sent.map((t) => t.telegram.raw));
  assert.ok(fake.readings[0]!.telegram!.includes("\r\n"));
  assert.equal(pusher.stats().pushes.delivered, 5);
  assert.equal(pusher.stats().queueLength, 0);
  await pusher.stop();
  await fake.stop();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("v2 push sends the original's fields with the meter time and its offset", async () => {
  const fake = new FakeDsmrReader().start();
  const { pusher, dir } = await pusherFor(fake, { api: "v2" });
  const [raw] = new FrameScanner().push(fixtureBytes("nl-original-readme-example.txt"));
  await pusher.offer({ telegram: parseTelegram(raw!), bytes: raw!.bytes, receivedAt: Date.now() });
  await waitFor(() => fake.readings.length === 1, "a reading");
  assert.deepEqual(fake.readings[0]!.fields, {
    timestamp: "2023-02-05T16:50:05+01:00",
    electricity_delivered_1: "11080.001",
    electricity_returned_1: "914.942",
    electricity_delivered_2: "11931.124",
    electricity_returned_2: "1837.962",
    electricity_currently_delivered: "0.404",
    electricity_currently_returned: "0",
    phase_currently_delivered_l1: "0.404",
    phase_currently_returned_l1: "0",
    phase_voltage_l1: "229",
    phase_power_current_l1: 3,
    extra_device_timestamp: "2023-02-05T16:45:05+01:00",
    extra_device_delivered: "6919.956",
  });
  await pusher.stop();
  await fake.stop();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a DSMR reader behind a reverse proxy path prefix is reached", async () => {
  const fake = new FakeDsmrReader({ prefix: "/dsmr" }).start();
  const { pusher, dir } = await pusherFor(fake);
  await pusher.offer(telegrams(1)[0]!);
  await waitFor(() => fake.readings.length === 1, "a reading");
  assert.deepEqual(fake.requests.map((r) => r.path), ["/dsmr/api/v1/datalogger/dsmrreading"]);
  await pusher.stop();
  await fake.stop();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("DSMR reader down for 30 telegrams: all 30 arrive afterwards, in order, none twice", async () => {
  const fake = new FakeDsmrReader().start();
  const port = fake.port;
  await fake.stop();
  const { pusher, lines, dir } = await pusherFor(fake);
  const sent = telegrams(30);
  for (const t of sent) await pusher.offer(t);
  await waitFor(() => pusher.stats().pushes.retry >= 3, "a few failed attempts");
  assert.equal(pusher.stats().queueLength, 30);
  const back = new FakeDsmrReader({ port }).start();
  await waitFor(() => back.readings.length === 30, "all 30 readings", 15_000);
  assert.deepEqual(back.readings.map((r) => r.telegram), sent.map((t) => t.telegram.raw));
  assert.equal(
    lines.filter((line) => line.includes("push failed")).length,
    1,
    "the outage is logged once",
  );
  assert.ok(
    lines.some((line) =>
      line.includes("accepts telegrams again: 1 queued telegram(s) delivered, 29 still queued")
    ),
    "the recovery says how many were queued",
  );
  await pusher.stop();
  await back.stop();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a wrong API key pauses the push with one error, no tight loop, and keeps the queue", async () => {
  const fake = new FakeDsmrReader().start();
  const { pusher, lines, dir } = await pusherFor(fake, { key: "WRONG" });
  for (const t of telegrams(3)) await pusher.offer(t);
  await new Promise((resolve) => setTimeout(resolve, 1000));
  assert.ok(fake.requests.length <= 4, `${fake.requests.length} requests in 1 s`);
  assert.ok(fake.requests.every((r) => r.status === 403));
  assert.equal(pusher.stats().queueLength, 3);
  assert.equal(pusher.stats().state, "paused");
  const errors = lines.filter((line) => line.includes("ERROR"));
  assert.equal(errors.length, 1);
  assert.match(errors[0]!, /refused the push \(403 Invalid auth key\): check the API key/);
  assert.ok(!lines.some((line) => line.includes("WRONG")), "the key is never logged");
  await pusher.stop();
  await fake.stop();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a telegram DSMR reader cannot parse is dead-lettered and the rest flow", async () => {
  const fake = new FakeDsmrReader().start();
  const sent = telegrams(4);
  fake.refuse = (telegram) => telegram === sent[1]!.telegram.raw;
  const { pusher, dir } = await pusherFor(fake);
  for (const t of sent) await pusher.offer(t);
  await waitFor(() => pusher.stats().queueLength === 0 && fake.readings.length === 3, "the rest");
  assert.deepEqual(
    fake.readings.map((r) => r.telegram),
    [0, 2, 3].map((i) => sent[i]!.telegram.raw),
  );
  const dead = (await Deno.readTextFile(`${dir}/dsmr-reader.dead-letter.jsonl`)).trim().split("\n")
    .map((l) => JSON.parse(l));
  assert.equal(dead.length, 1);
  assert.equal(dead[0].item.telegram, sent[1]!.telegram.raw);
  assert.match(dead[0].reason, /500 Failed to parse telegram/);
  assert.equal(pusher.stats().pushes.deadLetter, 1);
  await pusher.stop();
  await fake.stop();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("telegrams refused for good one after another are logged once a minute, each dead-lettered", async () => {
  const fake = new FakeDsmrReader().start();
  fake.refuse = () => true; // a lasting refusal: every telegram
  const { pusher, lines, dir } = await pusherFor(fake);
  for (const t of telegrams(20)) await pusher.offer(t);
  await waitFor(() => pusher.stats().pushes.deadLetter === 20, "all 20 refused");
  const dead = (await Deno.readTextFile(`${dir}/dsmr-reader.dead-letter.jsonl`)).trim().split("\n");
  assert.equal(dead.length, 20);
  const logged = lines.filter((line) => line.includes("moved to the dead-letter file"));
  assert.equal(logged.length, 1, logged.join("\n"));
  await pusher.stop();
  await fake.stop();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a refused telegram that cannot be dead-lettered is counted as lost and the rest flow", async () => {
  const fake = new FakeDsmrReader().start();
  const sent = telegrams(3);
  fake.refuse = (telegram) => telegram === sent[0]!.telegram.raw;
  const { pusher, lines, dir } = await pusherFor(fake);
  // A directory where the dead-letter file should be: it cannot be written.
  await Deno.mkdir(`${dir}/dsmr-reader.dead-letter.jsonl`);
  for (const t of sent) await pusher.offer(t);
  await waitFor(() => pusher.stats().queueLength === 0 && fake.readings.length === 2, "the rest");
  assert.equal(pusher.stats().lost, 1);
  assert.equal(pusher.stats().pushes.deadLetter, 1);
  assert.ok(
    lines.some((line) => /cannot be written to the dead-letter file .*counted as lost/.test(line)),
  );
  await pusher.stop();
  await fake.stop();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a slow DSMR reader runs into the timeout and the telegram is retried", async () => {
  const fake = new FakeDsmrReader().start();
  fake.delayMs = 600;
  const { pusher, lines, dir } = await pusherFor(fake, { timeoutMs: 150 });
  await pusher.offer(telegrams(1)[0]!);
  await waitFor(() => pusher.stats().pushes.retry >= 1, "a timeout");
  assert.ok(lines.some((line) => line.includes("no answer within 0.15 s")));
  fake.delayMs = 0;
  await waitFor(() => pusher.stats().pushes.delivered === 1, "the retry to succeed");
  await pusher.stop();
  await new Promise((resolve) => setTimeout(resolve, 700)); // let the slow handlers finish
  await fake.stop();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a full queue drops the oldest telegrams, counts them and warns", async () => {
  const fake = new FakeDsmrReader().start();
  const port = fake.port;
  await fake.stop();
  const { pusher, lines, dir } = await pusherFor(fake, { maxRecords: 5 });
  const sent = telegrams(8);
  for (const t of sent) await pusher.offer(t);
  assert.equal(pusher.stats().dropped, 3);
  assert.ok(lines.some((line) => line.includes("queue is full: dropped the 1 oldest")));
  const back = new FakeDsmrReader({ port }).start();
  await waitFor(() => back.readings.length === 5, "the five newest", 10_000);
  assert.deepEqual(back.readings.map((r) => r.telegram), sent.slice(3).map((t) => t.telegram.raw));
  await pusher.stop();
  await back.stop();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("--dsmr-reader-interval thins the stream by meter time", async () => {
  const fake = new FakeDsmrReader().start();
  const { pusher, dir } = await pusherFor(fake, { intervalSeconds: 10 });
  const sent = telegrams(25);
  for (const t of sent) await pusher.offer(t);
  await waitFor(
    () => pusher.stats().queueLength === 0 && fake.readings.length === 3,
    "three readings",
  );
  assert.deepEqual(
    fake.readings.map((r) => r.telegram),
    [0, 10, 20].map((i) => sent[i]!.telegram.raw),
  );
  await pusher.stop();
  await fake.stop();
  await Deno.remove(dir, { recursive: true });
});
