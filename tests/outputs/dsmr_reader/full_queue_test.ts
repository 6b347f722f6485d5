import assert from "node:assert/strict";
import { FakeDsmrReader } from "../../support/fake_dsmr_reader.ts";
import { waitFor } from "../../support/helpers.ts";
import { startServer } from "../../support/server.ts";
import {
  assertStoredOnceInOrder,
  demoCapture,
  metric,
  pushArgs,
  waitForStatus,
} from "./service_support.ts";

Deno.test("a full queue while a delivery is in flight drops the others and the service runs on", async () => {
  const dir = await Deno.makeTempDir();
  const capture = demoCapture(30);
  await Deno.writeFile(`${dir}/capture.txt`, capture.bytes);
  const fake = new FakeDsmrReader().start();
  fake.delayMs = 1000; // each delivery stays in flight for a second
  const server = await startServer([
    "--source",
    `file:${dir}/capture.txt`,
    "--replay-interval",
    "0.1",
    "--queue-max",
    "3",
    ...pushArgs(fake, `${dir}/data`),
  ]);
  try {
    // Today's code died here: "Cannot remove record 1: it is not the oldest".
    await waitForStatus(
      server.url,
      (s) => s.pushes.delivered >= 2 && s.dropped >= 8,
      "drops during deliveries",
    );
    fake.delayMs = 0;
    await waitFor(() => server.log().includes("ended source"), "the capture to end");
    // Delivered is counted once the queue has let go of it: wait for the count, not the queue.
    const done = await waitForStatus(
      server.url,
      (s) => s.queueLength === 0 && s.pushes.delivered + s.dropped === 30,
      "each telegram delivered or dropped",
    );
    assert.equal(done.lost, 0);
    assert.equal(assertStoredOnceInOrder(fake.readings, capture.telegrams), done.pushes.delivered);
    assert.equal(await metric(server.url, "p1_dsmr_reader_dropped_total"), done.dropped);
    assert.doesNotMatch(server.log(), /Uncaught|not the oldest/);
  } finally {
    await server.stop();
    await fake.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
