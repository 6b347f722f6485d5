import assert from "node:assert/strict";
import { FIRST_GAP_ASSUMED_MS, MeterInterval } from "../lib/meter_interval.ts";
import { meterServer } from "./support/meter_server.ts";
import { waitFor } from "./support/helpers.ts";
import { startServer } from "./support/server.ts";
import { demoTelegrams } from "./support/telegrams.ts";

/** The interval expected after telegrams at these receive times (ms), for a 1 s format. */
function expectedAfter(times: number[], formatMs = 1000): number {
  const interval = new MeterInterval();
  for (const time of times) interval.observe(time);
  return interval.expectedMs(formatMs);
}

Deno.test("MeterInterval follows a meter read as DSMR 5 (1 s) that sends every 10 s", () => {
  assert.equal(expectedAfter([0, 10_000, 20_000, 30_000]), 10_000);
});

Deno.test("MeterInterval assumes at least 10 s until the second telegram shows a gap", () => {
  assert.equal(expectedAfter([]), FIRST_GAP_ASSUMED_MS);
  assert.equal(expectedAfter([0]), FIRST_GAP_ASSUMED_MS);
  assert.equal(expectedAfter([0], 30_000), 30_000, "a slower format's own interval");
  assert.equal(expectedAfter([0, 1000]), 1000, "then what the meter shows");
});

Deno.test("MeterInterval is moved neither by an outage nor by telegrams arriving in a burst", () => {
  const times = [0, 10_000, 20_000, 320_000, 330_000, 330_010, 330_020, 340_020, 350_020];
  assert.equal(expectedAfter(times), 10_000);
});

Deno.test("MeterInterval is never shorter than 1 s (a capture replayed at full speed)", () => {
  assert.equal(expectedAfter([0, 1, 2, 3]), 1000);
});

Deno.test("a meter that sends every 4 s while its format says 1 s keeps /healthz at 200 (real service, tcp://)", async () => {
  const meter = meterServer();
  const server = await startServer(["--source", `tcp://127.0.0.1:${meter.port}`]);
  const telegrams = demoTelegrams(4, { stepMs: 4000 });
  const statuses: number[] = [];
  try {
    await waitFor(() => meter.clients.size === 1, "the service to connect");
    await meter.send(telegrams[0]!);
    await waitFor(
      async () => (await (await fetch(`${server.url}/api/v1/status`)).json()).state === "connected",
      "the first telegram",
    );
    // The meter sends every 4 s; /healthz is asked five times a second meanwhile.
    for (const telegram of telegrams.slice(1)) {
      const next = Date.now() + 4000;
      while (Date.now() < next) {
        const response = await fetch(`${server.url}/healthz`);
        statuses.push(response.status);
        await response.body?.cancel();
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      await meter.send(telegram);
    }
    await waitFor(
      async () =>
        (await (await fetch(`${server.url}/api/v1/status`)).json()).counters.telegramsOk === 4,
      "the fourth telegram",
    );
    const status = await (await fetch(`${server.url}/api/v1/status`)).json();
    assert.ok(statuses.length >= 30, `${statuses.length} probes`);
    assert.deepEqual(statuses.filter((s) => s !== 200), [], "never unhealthy between telegrams");
    assert.equal(status.staleAfterSeconds, 12, "three times the 4 s the meter shows");
    const lines = server.log().split("\n");
    assert.equal(lines.filter((line) => /\bconnected\b/.test(line)).length, 1, server.log());
    assert.deepEqual(lines.filter((line) => /stale|WARN/.test(line)), [], "no line per telegram");
  } finally {
    await server.stop();
    await meter.stop();
  }
});
