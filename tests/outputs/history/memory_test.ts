import assert from "node:assert/strict";
import { History, type HistoryPoint, pointOf } from "../../../lib/outputs/history/memory.ts";
import { FrameScanner } from "../../../lib/dsmr/framer.ts";
import { parseTelegram } from "../../../lib/dsmr/parse.ts";
import { fixtureBytes } from "../../support/paths.ts";
import { demoTelegrams } from "../../support/telegrams.ts";

/** A point at a UTC instant, with the Dutch meter-local day (CET/CEST by the EU rule). */
function point(time: number, importKwh: number, importW = 500): HistoryPoint {
  const year = new Date(time).getUTCFullYear();
  const lastSunday = (month: number) => {
    const last = new Date(Date.UTC(year, month, 0));
    return last.getUTCDate() - last.getUTCDay();
  };
  const summer = time >= Date.UTC(year, 2, lastSunday(3), 1) &&
    time < Date.UTC(year, 9, lastSunday(10), 1);
  const day = new Date(time + (summer ? 2 : 1) * 3_600_000).toISOString().slice(0, 10);
  return { time, day, importW, exportW: 0, importKwh, exportKwh: 0 };
}

Deno.test("History stays bounded whatever the uptime", () => {
  const history = new History();
  const start = Date.UTC(2024, 0, 1);
  for (let s = 0; s < 3 * 86_400; s++) history.add(point(start + s * 1000, s / 3600));
  const { recent, minutes } = history.sizes;
  assert.ok(recent <= 3601, `recent ${recent}`);
  assert.ok(minutes <= 48 * 60 + 1, `minutes ${minutes}`);
  assert.ok(minutes >= 48 * 60 - 1, `minutes ${minutes}`);
});

Deno.test("History keeps one point per telegram for the hour and rolls older ones up per minute", () => {
  const history = new History();
  const start = Date.UTC(2024, 0, 1, 12, 0, 0);
  for (let s = 0; s < 180; s++) history.add(point(start + s * 1000, 100 + s / 1000, s % 60));
  const hour = history.query(60);
  assert.equal(hour.resolution, "telegram");
  assert.equal(hour.points.length, 180);
  const day = history.query(24 * 60);
  assert.equal(day.resolution, "minute");
  assert.deepEqual(day.points.map((p) => [p.time, p.importW, p.importKwh]), [
    [start, 30, 100.059],
    [start + 60_000, 30, 100.119],
  ]);
});

Deno.test("History counts today from the previous meter-local day's last reading, also on a 23-hour DST day", () => {
  const history = new History();
  // 2024-03-31: clocks go from 02:00 CET to 03:00 CEST, so the Dutch day has 23 hours.
  let kwh = 1000;
  for (let t = Date.UTC(2024, 2, 30, 22, 0); t <= Date.UTC(2024, 2, 31, 21, 59); t += 60_000) {
    history.add(point(t, kwh));
    kwh = Math.round((kwh + 0.001) * 1000) / 1000;
  }
  const today = history.query(60).today!;
  assert.equal(today.day, "2024-03-31");
  assert.equal(today.importKwh, 1.38, "23 hours x 60 minutes x 0.001 kWh");
});

Deno.test("History counts a 25-hour autumn day as one day", () => {
  const history = new History();
  let kwh = 1000;
  // 2024-10-27: 03:00 CEST becomes 02:00 CET; the Dutch day runs 22:00Z on the 26th to 23:00Z.
  for (let t = Date.UTC(2024, 9, 26, 21, 0); t <= Date.UTC(2024, 9, 27, 22, 59); t += 60_000) {
    history.add(point(t, kwh));
    kwh = Math.round((kwh + 0.001) * 1000) / 1000;
  }
  const today = history.query(60).today!;
  assert.equal(today.day, "2024-10-27");
  assert.equal(today.importKwh, 1.5, "25 hours");
});

Deno.test("pointOf() takes power, phases, registers and gas from a telegram", () => {
  const [raw] = new FrameScanner().push(fixtureBytes("nl-dsmr50-3phase-4mbus.txt"));
  const p = pointOf(parseTelegram(raw!), 0);
  assert.deepEqual(p, {
    time: Date.UTC(2024, 5, 30, 21, 59, 59),
    day: "2024-06-30",
    importW: 1193,
    exportW: 0,
    phasesW: [412, 131, 650],
    importKwh: 35802.467,
    exportKwh: 3580.245,
    gasM3: 4321.987,
  });
});

Deno.test("History.record() leaves out a telegram that does not follow the ones before", () => {
  const history = new History();
  const [a, b, c, d] = demoTelegrams(4, { start: Date.UTC(2024, 0, 15, 9) }).map((bytes) =>
    parseTelegram(new FrameScanner().push(bytes)[0]!)
  );
  history.record({ telegram: a!, bytes: new Uint8Array(), receivedAt: 0 });
  history.record({
    telegram: b!,
    bytes: new Uint8Array(),
    receivedAt: 0,
    implausible: "clock jump",
  });
  history.record({
    telegram: c!,
    bytes: new Uint8Array(),
    receivedAt: 0,
    implausible: "register glitch",
  });
  history.record({ telegram: d!, bytes: new Uint8Array(), receivedAt: 0 });
  const { points, today } = history.query(60);
  assert.deepEqual(points.map((p) => p.time), [a!, d!].map((t) => t.timestamp!.epochMs));
  assert.equal(today?.day, "2024-01-15");
});

Deno.test("History goes on after the meter's clock was set back, dropping the points after it", () => {
  const history = new History();
  const start = Date.UTC(2024, 0, 1, 12, 0, 0);
  for (let s = 0; s < 120; s++) history.add(point(start + s * 1000, 100 + s / 1000));
  // The clock is set back 90 s: the last 90 points were stamped ahead of the real time.
  for (let s = 30; s < 60; s++) history.add(point(start + s * 1000, 100.2 + s / 1000));
  const { points } = history.query(60);
  assert.equal(points.length, 60);
  assert.equal(points.at(-1)!.importKwh, 100.259);
  assert.ok(points.every((p, i) => i === 0 || p.time > points[i - 1]!.time), "in time order");
  assert.deepEqual(history.query(24 * 60).points.map((p) => p.time), [], "no minute closed yet");
});
