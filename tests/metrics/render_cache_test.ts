import assert from "node:assert/strict";
import { FrameScanner } from "../../lib/dsmr/framer.ts";
import type { Telegram } from "../../lib/dsmr/model.ts";
import { parseTelegram } from "../../lib/dsmr/parse.ts";
import { MetricsRegistry } from "../../lib/metrics/registry.ts";
import type { ReceiverState } from "../../lib/receiver.ts";
import { fixtureBytes } from "../support/paths.ts";
import { snapshotOf } from "../support/service.ts";
import { withLine } from "../support/telegrams.ts";

const FIXTURE = fixtureBytes("nl-dsmr50-3phase-4mbus.txt");
const parse = (bytes: Uint8Array) => parseTelegram(new FrameScanner().push(bytes)[0]!);

/** A registry over a telegram and state the test changes between scrapes. */
function registryOver(first: Telegram) {
  const state = { telegram: first, state: "connected" as ReceiverState, telegramsOk: 1 };
  const registry = new MetricsRegistry(() =>
    snapshotOf(state.telegram, {
      state: state.state,
      counters: { ...snapshotOf(undefined).counters, telegramsOk: state.telegramsOk },
    })
  );
  const sample = async (line: RegExp, accept?: string) =>
    line.exec((await registry.render(accept)).body)?.[1];
  return { state, sample };
}

Deno.test("/metrics shows the meter's values of each new telegram, in both formats", async () => {
  const { state, sample } = registryOver(parse(FIXTURE));
  const power = /^p1_power_import_watts (\S+)$/m;
  const openMetrics = "application/openmetrics-text; version=1.0.0";
  assert.equal(await sample(power), "1193");
  assert.equal(await sample(power, openMetrics), "1193");
  state.telegram = parse(withLine(FIXTURE, /1-0:1\.7\.0\([^)]*\)/, "1-0:1.7.0(02.500*kW)"));
  assert.equal(await sample(power), "2500");
  assert.equal(await sample(power, openMetrics), "2500");
});

Deno.test("/metrics shows the reader's state and counters as they change between telegrams", async () => {
  const { state, sample } = registryOver(parse(FIXTURE));
  assert.equal(await sample(/^p1_source_connected (\S+)$/m), "1");
  state.state = "stale";
  state.telegramsOk = 7;
  assert.equal(await sample(/^p1_source_connected (\S+)$/m), "0");
  assert.equal(await sample(/^p1_telegrams_total\{result="ok"\} (\S+)$/m), "7");
});
