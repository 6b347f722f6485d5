/**
 * One implausible register reading on the real service: the history's usage and costs, the
 * Prometheus counters (checked with promtool's `resets()`) and the status must follow the register
 * the meter really counted; a replaced meter (a new level that lasts, or a new equipment id) still
 * starts a new segment and a counter reset. The meter is a TCP peer, as ser2net would be; every
 * telegram is scraped once it was taken, as Prometheus would.
 */
import assert from "node:assert/strict";
import { type RunningServer, startServer } from "./support/server.ts";
import { dutchDate, type MeterState, telegramText } from "./support/meter_telegrams.ts";
import { waitFor } from "./support/helpers.ts";
import { meterServer } from "./support/meter_server.ts";
import { havePromtool, promtoolResets } from "./support/service.ts";

const T0 = Date.UTC(2025, 0, 10, 10, 0, 5);
const DAY = "2025-01-10";
const ID = "E0000000000000001";
/** Another meter's equipment id as a DSMR 3.0 telegram writes it: hex of `E0000000000000002`. */
const HEX_B = "4530303030303030303030303030303032";
const T1 = 'p1_energy_imported_joules_total{tariff="1"}';
const KWH = 3_600_000;
const enabled = havePromtool() || Deno.env.get("CI") !== undefined;
const encoder = new TextEncoder();
/** A sample of the meter's counters in an exposition: registers, counts, the glitches. */
const METER_COUNTER =
  /^(p1_(?:energy_\w+|gas_\w+|voltage_\w+|(?:long_)?power_failures|meter_\w+)_total(?:\{[^}]*\})?) (\S+)$/gm;

/** `count` DSMR 5 telegrams `stepMs` apart; import t1 from 1000 kWh, 0.01 kWh more each. */
function states(count: number, stepMs = 10_000): MeterState[] {
  return Array.from({ length: count }, (_, i) => ({
    time: T0 + i * stepMs,
    equipmentId: ID,
    importT1: Math.round((1000 + i * 0.01) * 1000) / 1000,
    importT2: 2000,
    exportT1: 10,
    exportT2: 20,
    tariff: 1,
    powerImport: 3.6,
    powerExport: 0,
  }));
}

/** A DSMR 3.0 telegram (no CRC, no clock), as an Iskra MT382 writes it. */
function dsmr30(importT1: string): string {
  return [
    "/ISk5\\2MT382-1000",
    "",
    "0-0:96.1.1(4B384547303034303436333935353037)",
    `1-0:1.8.1(${importT1}*kWh)`,
    "1-0:1.8.2(12345.678*kWh)",
    "1-0:2.8.1(00012.345*kWh)",
    "1-0:2.8.2(00023.456*kWh)",
    "0-0:96.14.0(0001)",
    "1-0:1.7.0(001.19*kW)",
    "1-0:2.7.0(000.00*kW)",
    "0-0:17.0.0(016*A)",
    "0-0:96.3.10(1)",
    "0-1:96.1.0(3232323241424344313233343536373839)",
    "0-1:24.1.0(03)",
    "0-1:24.3.0(090212160000)(00)(60)(1)(0-1:24.2.1)(m3)",
    "(00001.001)",
    "0-1:24.4.0(1)",
    "!",
    "",
  ].join("\r\n");
}

async function json(url: string) {
  const response = await fetch(url);
  assert.equal(response.status, 200, url);
  return await response.json();
}

/** Polls the status until the service has taken `count` telegrams (never a fixed sleep). */
async function taken(service: RunningServer, count: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const status = await json(`${service.url}/api/v1/status`);
    if (status.counters.telegramsOk >= count) return;
    if (Date.now() > deadline) throw new Error(`${count} telegrams not taken: ${status.counters}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** What one run of the service made of the telegrams. */
interface Run {
  /** Every series of the meter's counters, scraped after each telegram. */
  series: Map<string, number[]>;
  /** `/api/v1/status` after the last telegram. */
  status: { counters: Record<string, number> };
  /** `/api/v1/usage` of the day, from the service started again on the same database. */
  usage: {
    total: { import: { t1: number } | null; cost: { import?: number } | null };
    gaps: { from: string; to: string; reason: string; equipmentId: string }[];
  };
  /** The service's log. */
  log: string;
}

/** Runs the service on `telegrams`, then again without a meter, and asks for the day's usage. */
async function serve(telegrams: string[], day = DAY): Promise<Run> {
  const dir = await Deno.makeTempDir({ prefix: "register-glitch-" });
  const meter = meterServer();
  const args = ["--data-dir", dir, "--price-import", "0.30"];
  try {
    const service = await startServer(["--source", `tcp://127.0.0.1:${meter.port}`, ...args]);
    const series = new Map<string, number[]>();
    let status;
    try {
      await waitFor(() => meter.clients.size > 0, "the service to connect");
      for (const [i, text] of telegrams.entries()) {
        await meter.send(encoder.encode(text));
        await taken(service, i + 1);
        const body = await (await fetch(`${service.url}/metrics`)).text();
        for (const [, name, value] of body.matchAll(METER_COUNTER)) {
          series.set(name!, [...(series.get(name!) ?? []), Number(value)]);
        }
      }
      status = await json(`${service.url}/api/v1/status`);
    } finally {
      assert.equal((await service.stop()).code, 0);
    }
    // Stopped, it wrote the minute it was gathering; asked again, it answers from the database.
    const refused = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    refused.close();
    const again = await startServer(["--source", `tcp://127.0.0.1:${refused.addr.port}`, ...args]);
    const usage = await json(`${again.url}/api/v1/usage?from=${day}&to=${day}`);
    await again.stop();
    return { series, status, usage, log: service.log() };
  } finally {
    await meter.stop();
    await Deno.remove(dir, { recursive: true });
  }
}

/** The register as Prometheus should see it: joules, rounded as the exposition writes them. */
const joules = (kwh: number) => Math.round(kwh * KWH);

function near(actual: number | undefined, wanted: number, what: string, tolerance = 0.0011) {
  assert.ok(
    actual !== undefined && Math.abs(actual - wanted) <= tolerance,
    `${what}: ${actual}, expected ${wanted}`,
  );
}

const RESOURCES = { sanitizeResources: false, sanitizeOps: false, ignore: !enabled };

/**
 * Runs the service on 40 telegrams of which the 11th says `glitch` instead, and checks that
 * nothing of it counts: the day's usage and cost are the meter's, no segment starts there, the
 * counter holds at the telegram before (Prometheus sees no reset), and one glitch is counted.
 */
async function leftOut(glitch: (state: MeterState) => MeterState): Promise<void> {
  const meter = states(40);
  const run = await serve(meter.map((s, i) => telegramText(i === 10 ? glitch(s) : s)));
  near(run.usage.total.import?.t1, 0.39, "import t1 of the day");
  near(run.usage.total.cost?.import, 0.39 * 0.30, "its cost", 0.0005);
  assert.deepEqual(run.usage.gaps, [], "no segment starts at the glitch");
  const held = meter.map((s, i) => joules(i === 10 ? meter[9]!.importT1 : s.importT1));
  assert.deepEqual(run.series.get(T1), held, "the counter holds at the glitch, then follows");
  assert.equal(run.status.counters.registerGlitches, 1);
  assert.equal(run.series.get("p1_meter_register_glitches_total")?.at(-1), 1);
  const { code, output } = await promtoolResets(run.series);
  assert.equal(code, 0, output);
}

Deno.test({
  name: "one telegram whose import register reads 0 (CRC valid) costs no usage, no reset, no gap",
  ...RESOURCES,
}, () => leftOut((s) => ({ ...s, importT1: 0 })));

Deno.test({
  name: "one telegram 500 kWh ahead counts neither as usage nor as cost, nor raises the counter",
  ...RESOURCES,
}, () => leftOut((s) => ({ ...s, importT1: s.importT1 + 500 })));

Deno.test({
  name: "a DSMR 3.0 telegram (no CRC) with one garbled digit is left out, and the log names no CRC",
  ...RESOURCES,
}, async () => {
  const kwh = Array.from({ length: 40 }, (_, i) => 1000.5 + i * 0.01);
  const text = (value: number) => value.toFixed(3).padStart(9, "0");
  // 01000.650 read as 91000.650: one digit, and nothing that could tell.
  const sent = kwh.map((value, i) => dsmr30(i === 15 ? `9${text(value).slice(1)}` : text(value)));
  const today = dutchDate(Date.now());
  const run = await serve(sent, today);
  near(run.usage.total.import?.t1, 0.39, "import t1 of the day");
  near(run.usage.total.cost?.import, 0.39 * 0.30, "its cost", 0.0005);
  const held = kwh.map((value, i) => joules(i === 15 ? kwh[14]! : value));
  assert.deepEqual(run.series.get(T1), held, "the counter never takes 91,000 kWh");
  assert.equal(Math.max(...run.series.get(T1)!), joules(kwh.at(-1)!));
  assert.equal(run.status.counters.registerGlitches, 1);
  const warning = run.log.split("\n").find((line) => line.includes("energy.import.t1"));
  assert.match(warning ?? "", /WARN.*energy\.import\.t1 rose from 1000\.64 to 91000\.65/);
  assert.doesNotMatch(warning!, /CRC/, "a DSMR 3.0 telegram has no CRC to name");
});

Deno.test({
  name: "a replaced meter that keeps its id starts a new segment and one counter reset",
  ...RESOURCES,
}, async () => {
  // Every 30 s: 10 telegrams of the old meter, then a new one from 0.5 kWh for 40 telegrams.
  const meter = states(50, 30_000).map((s, i) =>
    i < 10 ? s : { ...s, importT1: Math.round((0.5 + (i - 10) * 0.01) * 1000) / 1000 }
  );
  const run = await serve(meter.map(telegramText));
  const { code, output } = await promtoolResets(run.series, { [T1]: 1 });
  assert.equal(code, 0, output);
  assert.equal(run.series.get(T1)!.at(-1), joules(meter.at(-1)!.importT1), "then it follows");
  const gap = run.usage.gaps.find((g) => g.reason === "register fell");
  assert.ok(gap, JSON.stringify(run.usage.gaps));
  // The new level is taken once it lasted 15 minutes; the usage before is unknown (the gap).
  const first = meter.find((s) => s.time === Date.parse(gap.to))!;
  assert.equal(first.time - meter[10]!.time, 15 * 60_000);
  near(
    run.usage.total.import?.t1,
    (meter[9]!.importT1 - meter[0]!.importT1) + (meter.at(-1)!.importT1 - first.importT1),
    "both segments, each its own register difference",
  );
});

Deno.test({
  name: "a new meter with another equipment id and valid CRCs is taken at its first telegram",
  ...RESOURCES,
}, async () => {
  // Replaced at 10:01:25, in the minute of the old meter's last telegram (10:01:15).
  const meter = states(20).map((s, i) =>
    i < 8 ? s : {
      ...s,
      equipmentId: "E0000000000000002",
      importT1: Math.round((0.1 + (i - 8) * 0.01) * 1000) / 1000,
    }
  );
  const run = await serve(meter.map(telegramText));
  const { code, output } = await promtoolResets(run.series, { [T1]: 1 });
  assert.equal(code, 0, output);
  assert.deepEqual(run.series.get(T1), meter.map((s) => joules(s.importT1)), "follows at once");
  assert.equal(run.status.counters.registerGlitches, 0, "none of its telegrams is a glitch");
  assert.equal(run.series.get("p1_meter_register_glitches_total")?.at(-1), 0);
  assert.deepEqual(
    run.usage.gaps.map((g) => [g.reason, g.equipmentId, Date.parse(g.from), Date.parse(g.to)]),
    [["meter replaced", "E0000000000000002", meter[7]!.time, meter[8]!.time]],
  );
  near(
    run.usage.total.import?.t1,
    (meter[7]!.importT1 - meter[0]!.importT1) + (meter[19]!.importT1 - meter[8]!.importT1),
    "both meters, each its own register difference from its first telegram",
  );
  assert.match(
    run.log,
    /WARN.*energy\.import\.t1 went from 1000\.07 to 0\.1 with another meter, E0000000000000002 \(the telegram's CRC was valid\): taken at once/,
  );
});

Deno.test({
  name: "a new meter with another equipment id and no CRC (DSMR 3.0) is taken after 3 telegrams",
  ...RESOURCES,
}, async () => {
  const kwh = Array.from(
    { length: 20 },
    (_, i) => i < 8 ? 1000.5 + i * 0.01 : 0.1 + (i - 8) * 0.01,
  );
  const text = (value: number) => value.toFixed(3).padStart(9, "0");
  const sent = kwh.map((value, i) => {
    const telegram = dsmr30(text(value));
    return i < 8 ? telegram : telegram.replace(/0-0:96\.1\.1\(\w+\)/, `0-0:96.1.1(${HEX_B})`);
  });
  const run = await serve(sent, dutchDate(Date.now()));
  const { code, output } = await promtoolResets(run.series, { [T1]: 1 });
  assert.equal(code, 0, output);
  const counter = run.series.get(T1)!;
  assert.deepEqual(counter.slice(8, 10), [joules(kwh[7]!), joules(kwh[7]!)], "held for 2");
  assert.deepEqual(counter.slice(10), kwh.slice(10).map(joules));
  assert.equal(run.status.counters.registerGlitches, 2);
});
