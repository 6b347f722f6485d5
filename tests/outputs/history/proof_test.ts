/**
 * The proof of the history: the real service replays a generated capture of five weeks (through
 * the spring DST change, the end of a month, two days of downtime, a meter replacement and a price
 * change), is restarted in the middle, and every day's and month's usage and costs it answers are
 * checked against the register differences computed here from the telegrams' own values.
 */
import assert from "node:assert/strict";
import { captureOf, generateStates } from "../../support/history_capture.ts";
import { startServer } from "../../support/server.ts";
import { dutchDate, dutchMidnight, type MeterState } from "../../support/meter_telegrams.ts";

const START = Date.UTC(2025, 2, 9, 23, 0, 37); // 2025-03-10 00:00:37 in the Netherlands
const END = Date.UTC(2025, 3, 15, 12, 0); // 2025-04-15 14:00
const DOWNTIME: [number, number] = [Date.UTC(2025, 3, 2, 11, 2), Date.UTC(2025, 3, 4, 7, 17)];
const REPLACED = Date.UTC(2025, 3, 8, 10, 0);
const RESTART = Date.UTC(2025, 2, 25, 9, 30);

const PRICES = [
  "--price-import-t1",
  "0.25,2025-04-01=0.27",
  "--price-import-t2",
  "0.30,2025-04-01=0.32",
  "--price-export",
  "0.07,2025-04-01=0.05",
  "--price-gas",
  "1.30,2025-04-01=1.35",
  "--price-fixed",
  "0.90,2025-04-01=1.10",
];

type Register = "importT1" | "importT2" | "exportT1" | "exportT2" | "gas";

/** A register's readings in runs that each continue the one before (a new meter starts a run). */
function segments(states: MeterState[], register: Register): { time: number; value: number }[][] {
  const runs: { time: number; value: number }[][] = [];
  let key = "";
  for (const state of states) {
    const reading = register === "gas"
      ? { time: state.gas!.time, value: state.gas!.m3 }
      : { time: state.time, value: state[register] };
    const run = register === "gas" ? "gas" : state.equipmentId;
    if (run !== key) runs.push([]);
    key = run;
    const current = runs.at(-1)!;
    if (current.at(-1)?.time !== reading.time) current.push(reading);
  }
  return runs;
}

/** A run's register at a moment inside it, on the straight line between the readings around it. */
function valueAt(run: { time: number; value: number }[], time: number): number {
  let i = 1;
  while (run[i]!.time < time) i++;
  const a = run[i - 1]!;
  const b = run[i]!;
  return a.value + (b.value - a.value) * (time - a.time) / (b.time - a.time);
}

/** The register's difference from `from` to `to`, added over the runs that cover part of it. */
function expectedUsage(runs: { time: number; value: number }[][], from: number, to: number) {
  let total = 0;
  for (const run of runs) {
    const a = Math.max(from, run[0]!.time);
    const b = Math.min(to, run.at(-1)!.time);
    if (b > a) total += valueAt(run, b) - valueAt(run, a);
  }
  return total;
}

function price(schedule: string, date: string): number {
  const [first, later] = schedule.split(",");
  const [from, value] = later!.split("=");
  return Number(date >= from! ? value : first);
}

function days(from: string, to: string): string[] {
  const list: string[] = [];
  for (
    let t = Date.parse(`${from}T12:00:00Z`);
    t <= Date.parse(`${to}T12:00:00Z`);
    t += 86_400_000
  ) {
    list.push(new Date(t).toISOString().slice(0, 10));
  }
  return list;
}

async function json(url: string) {
  const response = await fetch(url);
  assert.equal(response.status, 200, `${url}: ${response.status}`);
  return await response.json();
}

/** Waits until the replay has ended and the history has written every minute of it. */
async function replayed(url: string, telegrams: number): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const status = await json(`${url}/api/v1/status`);
    if (
      status.state === "ended" && status.counters.telegramsOk === telegrams &&
      status.history.pendingMinutes === 0
    ) return;
    if (Date.now() > deadline) {
      throw new Error(`the replay did not finish: ${JSON.stringify(status)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

Deno.test({
  name:
    "five weeks through DST, downtime, a new meter and a price change, with a restart: every day and month matches the registers",
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const states = generateStates({
    start: START,
    end: END,
    stepMs: 60_000,
    downtime: [DOWNTIME],
    replacement: { at: REPLACED, equipmentId: "E0000000000000002" },
  });
  const dir = await Deno.makeTempDir({ prefix: "history-proof-" });
  const first = states.filter((s) => s.time < RESTART);
  const second = states.filter((s) => s.time >= RESTART);
  await Deno.writeTextFile(`${dir}/first.txt`, captureOf(first));
  await Deno.writeTextFile(`${dir}/second.txt`, captureOf(second));
  const common = ["--data-dir", `${dir}/data`, "--replay-interval", "0", ...PRICES];
  try {
    // The first part, then a restart without telegrams: the history answers the same.
    let service = await startServer(["--source", `file:${dir}/first.txt`, ...common]);
    await replayed(service.url, first.length);
    const before = await json(`${service.url}/api/v1/history?minutes=2880`);
    const usageBefore = await json(`${service.url}/api/v1/usage?from=2025-03-10&to=2025-03-25`);
    assert.equal(before.points.length, 2 * 1440, "two days of minutes, one telegram in each");
    assert.equal((await service.stop()).code, 0);
    const refused = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const silent = `tcp://127.0.0.1:${refused.addr.port}`;
    refused.close();
    service = await startServer(["--source", silent, ...common]);
    assert.deepEqual(await json(`${service.url}/api/v1/history?minutes=2880`), before);
    assert.deepEqual(
      await json(`${service.url}/api/v1/usage?from=2025-03-10&to=2025-03-25`),
      usageBefore,
    );
    assert.equal((await service.stop()).code, 0);

    service = await startServer(["--source", `file:${dir}/second.txt`, ...common]);
    await replayed(service.url, second.length);
    const byDay = await json(`${service.url}/api/v1/usage?from=2025-03-10&to=2025-04-15&step=day`);
    const byMonth = await json(`${service.url}/api/v1/usage?from=2025-03&to=2025-04&step=month`);
    const dstHours = await json(
      `${service.url}/api/v1/usage?from=2025-03-30&to=2025-03-30&step=hour`,
    );
    const csv = await (await fetch(`${service.url}/api/v1/usage.csv?from=2025-03-10&to=2025-04-15`))
      .text();
    const history = await json(`${service.url}/api/v1/history?minutes=60`);
    assert.equal((await service.stop()).code, 0);

    // Replayed faster than it was recorded, the first telegram after the downtime is a meter clock
    // jump to the receiver (its clock moved two days while the host's did not): it is left out. The
    // new meter's registers start below the old one's, but its telegrams' valid CRCs vouch for its
    // new equipment id: it is a new meter from its first telegram on, none of them left out.
    const kept = states.filter((s, i) => i === 0 || s.time - states[i - 1]!.time <= 60_000);
    assert.equal(kept.length, states.length - 1);
    const runs = Object.fromEntries(
      (["importT1", "importT2", "exportT1", "exportT2", "gas"] as const).map((r) => [
        r,
        segments(kept, r),
      ]),
    ) as Record<Register, ReturnType<typeof segments>>;
    const expected = (from: number, to: number) => {
      const u = (r: Register) => expectedUsage(runs[r], from, to);
      return {
        importT1: u("importT1"),
        importT2: u("importT2"),
        exportT1: u("exportT1"),
        exportT2: u("exportT2"),
        gas: u("gas"),
      };
    };
    const near = (actual: number, wanted: number, what: string, tolerance = 0.0011) =>
      assert.ok(Math.abs(actual - wanted) <= tolerance, `${what}: ${actual}, expected ${wanted}`);

    const gapDays = new Set(["2025-04-02", "2025-04-03", "2025-04-04", "2025-04-08"]);
    assert.equal(byDay.steps.length, 37);
    for (const [index, date] of days("2025-03-10", "2025-04-15").entries()) {
      const step = byDay.steps[index];
      assert.equal(step.start.slice(0, 10), date);
      const from = dutchMidnight(date);
      const to = dutchMidnight(days(date, "2025-04-16")[1]!);
      const want = expected(from, to);
      near(step.import.t1, want.importT1, `${date} import t1`);
      near(step.import.t2, want.importT2, `${date} import t2`);
      near(step.export.t1, want.exportT1, `${date} export t1`);
      near(step.export.t2, want.exportT2, `${date} export t2`);
      near(step.gas, want.gas, `${date} gas`);
      assert.equal(step.gap, gapDays.has(date), `${date} gap`);
      const cost = want.importT1 * price(PRICES[1]!, date) +
        want.importT2 * price(PRICES[3]!, date) -
        (want.exportT1 + want.exportT2) * price(PRICES[5]!, date) +
        want.gas * price(PRICES[7]!, date) + price(PRICES[9]!, date);
      near(step.cost.total, cost, `${date} cost`, 0.002);
    }
    for (const [index, month] of ["2025-03", "2025-04"].entries()) {
      const from = dutchMidnight(`${month}-01`);
      const to = dutchMidnight(month === "2025-03" ? "2025-04-01" : "2025-05-01");
      const want = expected(from, to);
      const step = byMonth.steps[index];
      near(step.import.t1, want.importT1, `${month} import t1`);
      near(step.import.t2, want.importT2, `${month} import t2`);
      near(step.export.total, want.exportT1 + want.exportT2, `${month} export`);
      near(step.gas, want.gas, `${month} gas`);
      const daysOfMonth = byDay.steps.filter((s: { start: string }) => s.start.startsWith(month));
      const sumOfDays = daysOfMonth.reduce(
        (t: number, s: { cost: { total: number } }) => t + s.cost.total,
        0,
      );
      near(step.cost.total, sumOfDays, `${month} cost = its days' costs`, 0.01);
    }
    // The first telegram's day starts with no reading before it; the month's total is the sum of
    // the days measured, and the whole range adds up to the registers' differences.
    const whole = expected(START, END);
    near(byDay.total.import.total, whole.importT1 + whole.importT2, "all import");

    assert.equal(dstHours.steps.length, 23, "2025-03-30 has 23 hours");
    assert.equal(dstHours.steps[2].start, "2025-03-30T03:00:00+02:00");
    near(dstHours.total.import.total, byDay.steps[20].import.total, "the DST day's hours add up");

    assert.deepEqual(
      byDay.gaps.map((g: { meter: string; reason: string }) => `${g.meter}: ${g.reason}`),
      ["gas: no readings", "electricity: no readings", "electricity: meter replaced"],
    );

    const lines = csv.trimEnd().split("\r\n");
    assert.equal(lines.length, 38);
    assert.equal(
      lines[0],
      "start,end,import_t1_kwh,import_t2_kwh,import_kwh,export_t1_kwh,export_t2_kwh,export_kwh," +
        "gas_m3,cost_import_eur,cost_export_eur,cost_gas_eur,cost_fixed_eur,cost_total_eur,gap",
    );
    const day = byDay.steps[23];
    assert.equal(
      lines[24],
      [
        day.start,
        day.end,
        day.import.t1,
        day.import.t2,
        day.import.total,
        day.export.t1,
        day.export.t2,
        day.export.total,
        day.gas,
        day.cost.import,
        day.cost.export,
        day.cost.gas,
        day.cost.fixed,
        day.cost.total,
        day.gap ? 1 : 0,
      ].join(","),
    );

    // Today is the last telegram's day, counted from its midnight.
    const lastDay = dutchDate(states.at(-1)!.time);
    assert.equal(history.today.day, lastDay);
    const today = expected(dutchMidnight(lastDay), END);
    near(history.today.importKwh, today.importT1 + today.importT2, "today's import");
    near(history.today.gasM3, today.gas, "today's gas");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
