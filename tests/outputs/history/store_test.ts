import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { parseTelegram } from "../../../lib/dsmr/parse.ts";
import { CENTRAL_EUROPEAN_TIME } from "../../../lib/dsmr/values.ts";
import { MeterCalendar } from "../../../lib/outputs/history/calendar.ts";
import { MinuteBuilder, type MinuteRecord } from "../../../lib/outputs/history/minute.ts";
import { factsOf } from "../../../lib/outputs/history/readings.ts";
import { HistoryStore, HistoryStoreError } from "../../../lib/outputs/history/store.ts";
import { readUsageQuery, usageOf } from "../../../lib/outputs/history/usage.ts";
import { dutchMidnight, type MeterState, telegramText } from "../../support/meter_telegrams.ts";

const CALENDAR = new MeterCalendar(CENTRAL_EUROPEAN_TIME);

/** The minute records of telegrams saying `states`, as the service builds them. */
function recordsOf(states: MeterState[]): MinuteRecord[] {
  const builder = new MinuteBuilder();
  const records: MinuteRecord[] = [];
  for (const state of states) {
    const closed = builder.add(factsOf(parseTelegram(telegramText(state)), state.time));
    if (closed) records.push(closed);
  }
  const last = builder.close();
  if (last) records.push(last);
  return records;
}

function state(time: number, importT1: number, extra: Partial<MeterState> = {}): MeterState {
  return {
    time,
    equipmentId: "E0012345678901234",
    importT1,
    importT2: 100,
    exportT1: 50,
    exportT2: 60,
    tariff: 1,
    powerImport: 0.5,
    powerExport: 0,
    ...extra,
  };
}

async function withStore(run: (store: HistoryStore, dir: string) => void | Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "history-store-" });
  const { store } = HistoryStore.open(`${dir}/history.sqlite`);
  try {
    await run(store, dir);
  } finally {
    store.close();
    await Deno.remove(dir, { recursive: true });
  }
}

function dayUsage(store: HistoryStore, from: string, to: string) {
  return usageOf(store, CALENDAR, undefined, readUsageQuery({ from, to, step: "day" }, to, "2025"));
}

function hourUsage(store: HistoryStore, date: string) {
  const query = readUsageQuery({ from: date, to: date, step: "hour" }, date, "2025");
  return usageOf(store, CALENDAR, undefined, query);
}

Deno.test("usage between two readings is spread over the hours between them, in proportion to time", () =>
  withStore((store) => {
    const t = Date.UTC(2025, 0, 10, 10, 58); // 11:58 in the Netherlands
    store.write(
      recordsOf([state(t, 1000), state(t + 4 * 60_000, 1004)]),
      CENTRAL_EUROPEAN_TIME,
      31,
    );
    const answer = hourUsage(store, "2025-01-10");
    const byHour = Object.fromEntries(
      answer.steps.filter((s) => s.import).map((s) => [s.start.slice(11, 16), s.import!.t1]),
    );
    assert.deepEqual(byHour, { "11:00": 2, "12:00": 2 });
    assert.equal(answer.total.import?.t1, 4);
  }));

Deno.test("a day's usage is the register difference across the meter-local day, also on a 23-hour day", () =>
  withStore((store) => {
    // 2025-03-30 has 23 hours in the Netherlands; one reading every 5 minutes, 0.005 kWh each.
    const states: MeterState[] = [];
    const start = dutchMidnight("2025-03-30") - 30 * 60_000;
    for (let i = 0; i <= 26 * 12; i++) states.push(state(start + i * 300_000, 1000 + i * 0.005));
    store.write(recordsOf(states), CENTRAL_EUROPEAN_TIME, 31);
    const answer = dayUsage(store, "2025-03-30", "2025-03-30");
    assert.equal(answer.steps[0]!.start, "2025-03-30T00:00:00+01:00");
    assert.equal(answer.steps[0]!.end, "2025-03-31T00:00:00+02:00");
    assert.equal(answer.steps[0]!.import!.t1, 1.38, "23 hours of 12 readings of 0.005 kWh");
    assert.equal(answer.steps[0]!.gap, false);
  }));

Deno.test("writing the same minutes again counts nothing twice", () =>
  withStore((store) => {
    const t = Date.UTC(2025, 0, 10, 10, 0);
    const records = recordsOf([state(t, 1000), state(t + 60_000, 1001), state(t + 120_000, 1003)]);
    assert.equal(store.write(records, CENTRAL_EUROPEAN_TIME, 31).minutes, 3);
    const again = store.write(records, CENTRAL_EUROPEAN_TIME, 31);
    assert.equal(again.minutes, 0);
    assert.ok(again.skipped > 0);
    assert.equal(dayUsage(store, "2025-01-10", "2025-01-10").total.import?.t1, 3);
  }));

Deno.test("usage across downtime is the register difference, kept with the gap and marked", () =>
  withStore((store) => {
    const before = dutchMidnight("2025-01-10") + 12 * 3_600_000; // noon on the 10th
    const after = dutchMidnight("2025-01-12") + 12 * 3_600_000; // noon on the 12th
    store.write(
      recordsOf([state(before - 60_000, 999), state(before, 1000)]),
      CENTRAL_EUROPEAN_TIME,
      31,
    );
    store.write(
      recordsOf([state(after, 1048), state(after + 60_000, 1049)]),
      CENTRAL_EUROPEAN_TIME,
      31,
    );
    const answer = dayUsage(store, "2025-01-09", "2025-01-13");
    assert.deepEqual(
      answer.steps.map((s) => [s.start.slice(0, 10), s.import?.t1 ?? null, s.gap]),
      [
        ["2025-01-09", null, false],
        ["2025-01-10", 13, true],
        ["2025-01-11", 24, true],
        ["2025-01-12", 13, true],
        ["2025-01-13", null, false],
      ],
    );
    assert.equal(answer.total.import?.t1, 50);
    assert.deepEqual(answer.gaps.map((g) => [g.meter, g.reason, g.from, g.to]), [[
      "electricity",
      "no readings",
      "2025-01-10T12:00:00+01:00",
      "2025-01-12T12:00:00+01:00",
    ]]);
  }));

Deno.test("a register that falls starts a new segment: no negative usage, the step is marked", () =>
  withStore((store) => {
    const t = Date.UTC(2025, 0, 10, 10, 0);
    store.write(
      recordsOf([
        state(t, 1000),
        state(t + 60_000, 1002),
        state(t + 120_000, 3),
        state(t + 180_000, 4),
      ]),
      CENTRAL_EUROPEAN_TIME,
      31,
    );
    const answer = dayUsage(store, "2025-01-10", "2025-01-10");
    assert.equal(answer.total.import?.t1, 3);
    assert.equal(answer.total.gap, true);
    assert.deepEqual(answer.gaps.map((g) => g.reason), ["register fell"]);
  }));

Deno.test("a register that rises faster than a meter counts starts a new segment, not usage", () =>
  withStore((store) => {
    const t = Date.UTC(2025, 0, 10, 10, 0);
    // 498 kWh in a minute is 30 MW; 1,000 kWh over 11 hours of downtime is 91 kW, and counts.
    store.write(
      recordsOf([
        state(t, 1000),
        state(t + 60_000, 1002),
        state(t + 120_000, 1500),
        state(t + 180_000, 1501),
        state(t + 11 * 3_600_000, 2501),
      ]),
      CENTRAL_EUROPEAN_TIME,
      31,
    );
    const answer = dayUsage(store, "2025-01-10", "2025-01-10");
    assert.equal(answer.total.import?.t1, 2 + 1 + 1000);
    assert.deepEqual(answer.gaps.map((g) => g.reason), ["register jumped", "no readings"]);
  }));

Deno.test("a meter replaced within a minute is marked from its predecessor's last reading", () =>
  withStore((store) => {
    const t = Date.UTC(2025, 0, 10, 10, 0);
    const other = { equipmentId: "E0099999999999999" };
    store.write(
      recordsOf([
        state(t, 1000),
        state(t + 10_000, 1000.01),
        state(t + 40_000, 5, other),
        state(t + 70_000, 5.01, other),
      ]),
      CENTRAL_EUROPEAN_TIME,
      31,
    );
    const answer = dayUsage(store, "2025-01-10", "2025-01-10");
    assert.deepEqual(answer.gaps.map((g) => [g.reason, Date.parse(g.from), Date.parse(g.to)]), [
      ["meter replaced", t + 10_000, t + 40_000],
    ]);
  }));

Deno.test("a new equipment id is a new meter, and the change is marked", () =>
  withStore((store) => {
    const t = Date.UTC(2025, 0, 10, 10, 0);
    store.write(
      recordsOf([
        state(t, 1000),
        state(t + 60_000, 1002),
        state(t + 180_000, 5, { equipmentId: "E0099999999999999" }),
        state(t + 240_000, 6, { equipmentId: "E0099999999999999" }),
      ]),
      CENTRAL_EUROPEAN_TIME,
      31,
    );
    assert.deepEqual(store.meters().map((m) => [m.kind, m.equipmentId]), [
      ["electricity", "E0012345678901234"],
      ["electricity", "E0099999999999999"],
    ]);
    const answer = dayUsage(store, "2025-01-10", "2025-01-10");
    assert.equal(answer.total.import?.t1, 3);
    assert.deepEqual(answer.gaps.map((g) => [g.reason, g.equipmentId]), [[
      "meter replaced",
      "E0099999999999999",
    ]]);
  }));

Deno.test("gas usage lands in the hour of its own capture time", () =>
  withStore((store) => {
    // DSMR 4 style: the gas meter's reading changes once an hour, captured on the hour; the
    // electricity telegrams relay it minutes later.
    const base = Date.UTC(2025, 0, 10, 9, 0); // 10:00 local
    const states: MeterState[] = [];
    for (let minute = 0; minute <= 180; minute += 10) {
      const capture = base + Math.floor(minute / 60) * 3_600_000;
      const m3 = 500 + Math.floor(minute / 60) * 0.25;
      states.push(state(base + minute * 60_000 + 7_000, 1000, { gas: { time: capture, m3 } }));
    }
    store.write(recordsOf(states), CENTRAL_EUROPEAN_TIME, 31);
    const answer = hourUsage(store, "2025-01-10");
    const gas = Object.fromEntries(
      answer.steps.filter((s) => s.gas !== null).map((s) => [s.start.slice(11, 16), s.gas]),
    );
    assert.deepEqual(gas, { "10:00": 0.25, "11:00": 0.25, "12:00": 0.25 });
  }));

Deno.test("an import of older readings fills in before the first one, never over known ones", () =>
  withStore((store) => {
    const t = Date.UTC(2025, 0, 10, 10, 0);
    const all = [0, 1, 2, 3, 4, 5].map((i) => state(t + i * 60_000, 1000 + i));
    store.write(recordsOf(all.slice(3)), CENTRAL_EUROPEAN_TIME, 31);
    const result = store.write(recordsOf(all), CENTRAL_EUROPEAN_TIME, 31);
    assert.equal(result.minutes, 3);
    assert.equal(dayUsage(store, "2025-01-10", "2025-01-10").total.import?.t1, 5);
  }));

Deno.test("minute rows older than the kept days go; usage rollups stay", () =>
  withStore((store) => {
    const t = Date.UTC(2025, 0, 1, 10, 0);
    store.write(recordsOf([state(t, 1000), state(t + 60_000, 1001)]), CENTRAL_EUROPEAN_TIME, 2);
    const later = t + 3 * 86_400_000;
    store.write(
      recordsOf([state(later, 1010), state(later + 60_000, 1011)]),
      CENTRAL_EUROPEAN_TIME,
      2,
    );
    assert.deepEqual(store.minutes(0, later + 60_000).map((m) => m.minute), [
      later,
      later + 60_000,
    ]);
    assert.equal(dayUsage(store, "2025-01-01", "2025-01-04").total.import?.t1, 11);
  }));

Deno.test("a file that is not a database is moved aside, kept, and a new one started", async () => {
  const dir = await Deno.makeTempDir({ prefix: "history-store-" });
  const path = `${dir}/history.sqlite`;
  const junk = "this is not an SQLite database\n".repeat(200);
  await Deno.writeTextFile(path, junk);
  const { store, movedAside } = HistoryStore.open(path, Date.UTC(2025, 0, 2, 3, 4, 5));
  try {
    assert.equal(movedAside, `${path}.corrupt-20250102T030405Z`);
    assert.equal(await Deno.readTextFile(movedAside!), junk);
    assert.deepEqual(store.meters(), []);
  } finally {
    store.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a database of another program is refused, not touched", async () => {
  const dir = await Deno.makeTempDir({ prefix: "history-store-" });
  const path = `${dir}/other.sqlite`;
  const other = new DatabaseSync(path);
  other.exec("CREATE TABLE recipes (name TEXT)");
  other.close();
  try {
    assert.throws(() => HistoryStore.open(path), HistoryStoreError);
    const again = new DatabaseSync(path);
    assert.deepEqual(
      again.prepare("SELECT name FROM sqlite_schema").all().map((r) => r.name),
      ["recipes"],
    );
    again.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a database of the first schema gains the gaps' end readings and is written on", async () => {
  const dir = await Deno.makeTempDir({ prefix: "history-store-" });
  const path = `${dir}/history.sqlite`;
  HistoryStore.open(path).store.close();
  const old = new DatabaseSync(path);
  old.exec(
    "ALTER TABLE gaps DROP COLUMN start_value; ALTER TABLE gaps DROP COLUMN end_value; " +
      "PRAGMA user_version = 1",
  );
  old.close();
  const { store } = HistoryStore.open(path);
  try {
    const t = Date.UTC(2025, 0, 10, 10, 0);
    store.write(recordsOf([state(t, 1000)]), CENTRAL_EUROPEAN_TIME, 31);
    store.write(recordsOf([state(t + 3_600_000, 1004)]), CENTRAL_EUROPEAN_TIME, 31);
    store.write(recordsOf([state(t + 1_800_000, 1001)]), CENTRAL_EUROPEAN_TIME, 31);
    assert.deepEqual(
      store.gaps(t, t + 3_600_000).filter((gap) => gap.register === "import_t1")
        .map((gap) => [gap.start, gap.end, gap.amount]),
      [[t, t + 1_800_000, 1], [t + 1_800_000, t + 3_600_000, 3]],
      "a reading in the gap splits it",
    );
  } finally {
    store.close();
    await Deno.remove(dir, { recursive: true });
  }
});
