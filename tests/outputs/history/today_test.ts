/**
 * Which day is today for `/api/v1/history`: the meter's while it is live, else the host's, so
 * that the dashboard never calls another day's figures today's.
 */
import assert from "node:assert/strict";
import { type Config, parseConfig } from "../../../lib/config.ts";
import { FrameScanner } from "../../../lib/dsmr/framer.ts";
import { parseTelegram } from "../../../lib/dsmr/parse.ts";
import { meterNow } from "../../../lib/outputs/history/calendar.ts";
import type { ReceivedTelegram } from "../../../lib/receiver.ts";
import { createService } from "../../../lib/service.ts";
import { concat, waitFor } from "../../support/helpers.ts";
import { meterServer } from "../../support/meter_server.ts";
import { demoTelegrams } from "../../support/telegrams.ts";

/** A Sunday afternoon in May 2025, long before the host's today. */
const METER_TIME = Date.UTC(2025, 4, 4, 12, 0, 0);

/** The host's date in the Netherlands, worked out apart from the reader's calendar. */
function hostDate(): string {
  return new Intl.DateTimeFormat("en-CA", { timeZone: "Europe/Amsterdam" }).format(new Date());
}

Deno.test("meterNow() follows a live meter's clock, and the host's without one", () => {
  const [bytes] = demoTelegrams(1, { start: METER_TIME });
  const telegram = parseTelegram(new FrameScanner().push(bytes!)[0]!);
  const hostNow = Date.UTC(2026, 11, 2, 17, 0, 0);
  const received: ReceivedTelegram = { telegram, bytes: bytes!, receivedAt: hostNow - 3000 };
  assert.equal(meterNow({ state: "connected", latest: received }, hostNow), METER_TIME + 3000);
  for (const state of ["stale", "ended", "connecting"] as const) {
    assert.equal(meterNow({ state, latest: received }, hostNow), hostNow, state);
  }
  const jumped: ReceivedTelegram = { ...received, implausible: "clock jump" };
  assert.equal(meterNow({ state: "connected", latest: jumped }, hostNow), hostNow, "a jump");
  const glitch: ReceivedTelegram = { ...received, implausible: "register glitch" };
  assert.equal(
    meterNow({ state: "connected", latest: glitch }, hostNow),
    METER_TIME + 3000,
    "a register glitch says nothing against the clock",
  );
  const { timestamp: _, ...unstamped } = telegram;
  const noClock = { ...received, telegram: unstamped };
  assert.equal(meterNow({ state: "connected", latest: noClock }, hostNow), hostNow, "no clock");
  assert.equal(meterNow({ state: "idle", latest: undefined }, hostNow), hostNow);
  assert.equal(meterNow(undefined, hostNow), hostNow);
});

Deno.test("GET /api/v1/history names today by a live meter's clock, with the history kept or not", async () => {
  for (const history of [[], ["--history", "off"]]) {
    const dir = await Deno.makeTempDir({ prefix: "history-today-" });
    const meter = meterServer();
    const config = parseConfig({
      args: ["--source", `tcp://127.0.0.1:${meter.port}`, "--data-dir", dir, ...history],
      env: {},
    }) as Config;
    const service = createService(config);
    try {
      await service.start();
      await waitFor(() => meter.clients.size === 1, "the reader to connect");
      await meter.send(concat(...demoTelegrams(3, { start: METER_TIME })));
      await waitFor(() => service.receiver.counters.telegramsOk === 3, "three telegrams");
      const answer = await (await service.app.request("/api/v1/history?minutes=60")).json();
      assert.equal(answer.currentDay, "2025-05-04", history.join(" ") || "the database");
    } finally {
      await service.stop();
      await meter.stop();
      await Deno.remove(dir, { recursive: true });
    }
  }
});

Deno.test("GET /api/v1/history names today by the host's clock once a replay has ended", async () => {
  const dir = await Deno.makeTempDir({ prefix: "history-today-" });
  await Deno.writeFile(`${dir}/capture.txt`, concat(...demoTelegrams(90, { start: METER_TIME })));
  const config = parseConfig({
    args: ["--source", `file:${dir}/capture.txt`, "--data-dir", dir],
    env: {},
  }) as Config;
  const service = createService(config);
  try {
    await service.start();
    await service.receiver.finished;
    const answer = await (await service.app.request("/api/v1/history?minutes=60")).json();
    assert.deepEqual([answer.today.day, answer.currentDay], ["2025-05-04", hostDate()]);
  } finally {
    await service.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
