import assert from "node:assert/strict";
import { DurableQueue } from "../../../lib/outputs/queue/queue.ts";
import { FakeDsmrReader } from "../../support/fake_dsmr_reader.ts";
import { fixture } from "../../support/paths.ts";
import { startServer } from "../../support/server.ts";
import { metric, pushArgs, waitForStatus } from "./service_support.ts";

/** Most telegrams the queue holds in memory while they wait for the disk (its `maxWaiting`). */
const WAITING_AT_MOST = 1000;

Deno.test("the fastest looping replay into a failing DSMR reader holds no unbounded backlog and stops within 2 s", async () => {
  const dir = await Deno.makeTempDir();
  const fake = new FakeDsmrReader().start();
  fake.failStatus = 500; // everything stays queued
  const server = await startServer([
    ...["--source", `file:${fixture("nl-dsmr50-3phase-4mbus.txt")}`],
    ...["--replay-interval", "0", "--replay-loop", "--queue-max", "20000"],
    ...pushArgs(fake, `${dir}/data`),
  ]);
  let stopped = false;
  try {
    await waitForStatus(server.url, (s) => s.queueLength > 2000, "telegrams queued");
    const status = await (await fetch(`${server.url}/api/v1/status`)).json();
    const { queueLength, dropped, overrun = 0, lost } = status.dsmrReader;
    // Each telegram received is on disk, dropped, refused or lost; only the last few wait.
    const waiting = status.counters.telegramsOk - (queueLength + dropped + overrun + lost);
    assert.ok(
      waiting >= 0 && waiting <= WAITING_AT_MOST,
      `${waiting} of ${status.counters.telegramsOk} telegrams neither written nor counted`,
    );
    assert.ok((await metric(server.url, "p1_dsmr_reader_overrun_total"))! >= overrun);
    // Full, so that the oldest are dropped (and the log compacted) as fast as telegrams come.
    await waitForStatus(
      server.url,
      (s) => s.dropped > 20_000,
      "a full queue dropping the oldest",
      60_000,
    );

    const stopping = performance.now();
    server.child.kill("SIGTERM");
    const killer = setTimeout(() => server.child.kill("SIGKILL"), 10_000);
    const { code } = await server.child.status;
    clearTimeout(killer);
    const took = performance.now() - stopping;
    stopped = true;
    assert.equal(code, 0);
    assert.ok(took < 2000, `stopped after ${took.toFixed(0)} ms`);
    // What was acknowledged as queued is on disk for the next start.
    const queue = await DurableQueue.open({ dir: `${dir}/data`, name: "dsmr-reader" });
    assert.equal(queue.length, 20_000);
    assert.equal(queue.stats.corrupt, 0);
    await queue.close();
  } finally {
    if (!stopped) server.child.kill("SIGKILL");
    await server.stop();
    await fake.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
