import assert from "node:assert/strict";
import { FakeDsmrReader } from "../../support/fake_dsmr_reader.ts";
import { waitFor } from "../../support/helpers.ts";
import { startServer } from "../../support/server.ts";
import {
  assertStoredOnceInOrder,
  demoCapture,
  earlierQueueFile,
  metric,
  pushArgs,
  pushStatus,
  waitForStatus,
} from "./service_support.ts";

Deno.test("the service killed during a DSMR reader outage delivers everything after a restart", async () => {
  const dir = await Deno.makeTempDir();
  const capture = demoCapture(30);
  await Deno.writeFile(`${dir}/capture.txt`, capture.bytes);
  await Deno.writeFile(`${dir}/empty.txt`, new Uint8Array());
  const fake = new FakeDsmrReader().start();
  const port = fake.port;
  await fake.stop(); // DSMR reader is down
  const push = pushArgs(fake, `${dir}/data`);

  const first = await startServer(["--source", `file:${dir}/capture.txt`, ...push]);
  try {
    await waitForStatus(first.url, (s) => s.queueLength === 30, "30 queued telegrams");
    first.child.kill("SIGKILL");
  } finally {
    await first.stop();
  }

  const back = new FakeDsmrReader({ port }).start();
  const second = await startServer(["--source", `file:${dir}/empty.txt`, ...push]);
  try {
    await waitFor(() => back.readings.length >= 30, "all 30 telegrams", 20_000);
    // The queue is empty a moment before the delivery is counted: wait for the count.
    await waitForStatus(
      second.url,
      (s) => s.queueLength === 0 && s.pushes.delivered === 30,
      "an empty queue and 30 deliveries",
    );
    assert.deepEqual(
      back.readings.map((r) => r.telegram),
      capture.telegrams,
      "in order, none twice",
    );
    assert.match(second.log(), /30 telegram\(s\) from before to deliver/);
    const metrics = await (await fetch(`${second.url}/metrics`)).text();
    assert.match(metrics, /^p1_dsmr_reader_pushes_total\{result="delivered"\} 30$/m);
    assert.match(metrics, /^p1_dsmr_reader_queued_telegrams 0$/m);
  } finally {
    await second.stop();
    await back.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the service killed while delivering sends at most one telegram twice", async () => {
  const dir = await Deno.makeTempDir();
  const capture = demoCapture(20);
  await Deno.writeFile(`${dir}/capture.txt`, capture.bytes);
  await Deno.writeFile(`${dir}/empty.txt`, new Uint8Array());
  const fake = new FakeDsmrReader().start();
  fake.delayMs = 30; // deliveries take a while, so that the kill lands among them
  const push = pushArgs(fake, `${dir}/data`);
  const first = await startServer(["--source", `file:${dir}/capture.txt`, ...push]);
  try {
    await waitFor(() => fake.readings.length >= 5, "a few deliveries");
    first.child.kill("SIGKILL");
  } finally {
    await first.stop();
  }
  const second = await startServer(["--source", `file:${dir}/empty.txt`, ...push]);
  try {
    await waitForStatus(second.url, (s) => s.queueLength === 0, "an empty queue");
    const stored = fake.readings.map((r) => r.telegram);
    const unique = [...new Set(stored)];
    assert.deepEqual(unique, capture.telegrams, "every telegram, in order");
    assert.ok(stored.length - unique.length <= 1, `${stored.length - unique.length} duplicates`);
  } finally {
    await second.stop();
    await fake.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an upgrade delivers a queue in the earlier JSON lines format, skipping and counting one damaged record", async () => {
  const dir = await Deno.makeTempDir();
  const old = demoCapture(10);
  // A queue file in the earlier format, a bit flipped on disk in the fourth record's telegram.
  const lines = earlierQueueFile(old.telegrams).split("\n");
  lines[3] = lines[3]!.replace('"telegram":"/', '"telegram"!"/');
  await Deno.mkdir(`${dir}/data`);
  await Deno.writeTextFile(`${dir}/data/dsmr-reader.queue.jsonl`, lines.join("\n"));
  await Deno.writeFile(`${dir}/empty.txt`, new Uint8Array());
  const fake = new FakeDsmrReader().start();
  const server = await startServer([
    "--source",
    `file:${dir}/empty.txt`,
    ...pushArgs(fake, `${dir}/data`),
  ]);
  try {
    await waitForStatus(server.url, (s) => s.queueLength === 0, "an empty queue");
    const kept = old.telegrams.filter((_, i) => i !== 3);
    assert.equal(assertStoredOnceInOrder(fake.readings, kept), 9, "the records after it are kept");
    assert.equal((await pushStatus(server.url)).corruptSkipped, 1);
    assert.equal(await metric(server.url, "p1_dsmr_reader_corrupt_skipped_total"), 1);
    const warnings = server.log().split("\n").filter((line) => line.includes("damaged"));
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /skipped 1 damaged record\(s\)/);
  } finally {
    await server.stop();
    await fake.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
