import assert from "node:assert/strict";
import { FrameScanner } from "../../lib/dsmr/framer.ts";
import type { Telegram } from "../../lib/dsmr/model.ts";
import { parseTelegram } from "../../lib/dsmr/parse.ts";
import { RegisterWatch } from "../../lib/meter_registers.ts";
import { MetricsRegistry } from "../../lib/metrics/registry.ts";
import { P1Receiver } from "../../lib/receiver.ts";
import { FileSource } from "../../lib/source/file.ts";
import { concat } from "../support/helpers.ts";
import {
  appFor,
  havePromtool,
  promtoolCheck,
  promtoolResets,
  snapshotOf,
} from "../support/service.ts";
import { demoTelegrams, withLine } from "../support/telegrams.ts";

const enabled = havePromtool() || Deno.env.get("CI") !== undefined;

const parse = (bytes: Uint8Array) => parseTelegram(new FrameScanner().push(bytes)[0]!);

/** What the demo telegrams below read, before any glitch: import tariff 1 in J, and gas. */
const DEMO = (() => {
  const telegram = parse(demoTelegrams(1)[0]!);
  return {
    importT1Joules: Math.round(telegram.energy.import.t1!.value * 3_600_000),
    gas: telegram.mbus[0]!.reading!.value.value,
  };
})();

/** Demo telegrams one second apart; at `glitch`, several registers read lower (CRC valid). */
function telegramsWithGlitch(count: number, glitch: number): Uint8Array[] {
  const telegrams = demoTelegrams(count);
  let bytes = telegrams[glitch]!;
  for (
    const [pattern, line] of [
      [/1-0:1\.8\.1\([\d.]+\*kWh\)/, "1-0:1.8.1(011070.001*kWh)"],
      [/0-0:96\.7\.21\(\d+\)/, "0-0:96.7.21(00006)"],
      [/1-0:32\.32\.0\(\d+\)/, "1-0:32.32.0(00045)"],
      [/\(0\d{4}\.\d{3}\*m3\)/, "(06000.000*m3)"],
    ] as const
  ) {
    bytes = withLine(bytes, pattern, line);
  }
  telegrams[glitch] = bytes;
  return telegrams;
}

/**
 * Scrapes `/metrics` after each telegram, as Prometheus would once a minute; the samples of
 * every `p1_*_total` series by series, and the last scrape.
 */
async function scrapeEach(steps: [Telegram, number][]) {
  const watch = new RegisterWatch();
  let telegram: Telegram | undefined;
  let glitches = 0;
  const registry = new MetricsRegistry(() =>
    snapshotOf(telegram, {
      counters: { ...snapshotOf(undefined).counters, registerGlitches: glitches },
      registers: watch,
    })
  );
  const series = new Map<string, number[]>();
  let body = "";
  for (const [next, at] of steps) {
    if (watch.observe(next, at).glitch) glitches++;
    telegram = next;
    body = (await registry.render(undefined)).body;
    for (const [, name, value] of body.matchAll(/^(p1_\w+_total(?:\{[^}]*\})?) (\S+)$/gm)) {
      series.set(name!, [...(series.get(name!) ?? []), Number(value)]);
    }
  }
  return { series, body };
}

Deno.test({
  name:
    "registers that glitch lower with a valid CRC never make a counter fall: Prometheus sees no reset",
  ignore: !enabled,
  async fn() {
    const steps = telegramsWithGlitch(6, 2).map((bytes, i): [Telegram, number] => [
      parse(bytes),
      i * 60_000,
    ]);
    const { series, body } = await scrapeEach(steps);
    assert.deepEqual(
      series.get('p1_energy_imported_joules_total{tariff="1"}'),
      Array(6).fill(DEMO.importT1Joules),
      "held at the highest value",
    );
    assert.deepEqual(series.get('p1_gas_cubic_meters_total{channel="1"}'), Array(6).fill(DEMO.gas));
    assert.deepEqual(series.get("p1_meter_register_glitches_total"), [0, 0, 1, 1, 1, 1]);
    const { code, output } = await promtoolResets(series);
    assert.equal(code, 0, output);
    const check = await promtoolCheck(body);
    assert.equal(check.code, 0, check.output);
  },
});

Deno.test({
  name: "a register that stays lower for 15 minutes is a new level: Prometheus counts one reset",
  ignore: !enabled,
  async fn() {
    // A replaced meter with the same equipment id: import t1 restarts near 0 and keeps counting.
    const telegrams = demoTelegrams(8);
    const steps = telegrams.map((bytes, i): [Telegram, number] => [
      parse(
        i < 2
          ? bytes
          : withLine(bytes, /1-0:1\.8\.1\([\d.]+\*kWh\)/, `1-0:1.8.1(00000${i}.000*kWh)`),
      ),
      i * 5 * 60_000,
    ]);
    const { series } = await scrapeEach(steps);
    // Lower from minute 10 on; at minute 25 it has been lower for 15 minutes.
    assert.deepEqual(
      series.get('p1_energy_imported_joules_total{tariff="1"}'),
      [...Array(5).fill(DEMO.importT1Joules), 18000000, 21600000, 25200000],
    );
    const { code, output } = await promtoolResets(series, {
      'p1_energy_imported_joules_total{tariff="1"}': 1,
    });
    assert.equal(code, 0, output);
  },
});

Deno.test("/metrics and /api/v1/status of the receiver count a register glitch", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/capture.txt`;
  await Deno.writeFile(path, concat(...telegramsWithGlitch(2, 1)));
  const receiver = new P1Receiver({ source: new FileSource({ path }) });
  receiver.start();
  await receiver.finished;
  const app = appFor(receiver);
  const metrics = await (await app.request("/metrics")).text();
  assert.match(metrics, /^p1_meter_register_glitches_total 1$/m);
  assert.match(
    metrics,
    new RegExp(`^p1_energy_imported_joules_total\\{tariff="1"\\} ${DEMO.importT1Joules}$`, "m"),
  );
  assert.match(metrics, /^p1_usage_electricity_low 11070\.001$/m, "gauges show the meter as it is");
  const status = await (await app.request("/api/v1/status")).json();
  assert.equal(status.counters.registerGlitches, 1);
  await Deno.remove(dir, { recursive: true });
});
