/**
 * The demo meter's registers: read off the clock, so that a demo started again goes on from where
 * the last one was, each register growing only in its own tariff's hours.
 */
import assert from "node:assert/strict";
import { FrameScanner } from "../../lib/dsmr/framer.ts";
import { parseTelegram } from "../../lib/dsmr/parse.ts";
import { DemoMeter } from "../../lib/source/demo.ts";

const MINUTE_MS = 60_000;

/** What a telegram of the meter says at an instant: its tariff, registers (kWh) and gas (m³). */
function readAt(meter: DemoMeter, clock: { now: number }, at: number) {
  clock.now = at;
  const telegram = parseTelegram(new FrameScanner().push(meter.telegram())[0]!);
  const { import: imported, export: exported } = telegram.energy;
  return {
    tariff: telegram.tariff,
    registers: [imported.t1!.value, imported.t2!.value, exported.t1!.value, exported.t2!.value],
    gas: telegram.mbus[0]!.reading!.value.value,
  };
}

/** A meter on a clock the test sets. */
function meterOnClock(seed: number) {
  const clock = { now: 0 };
  const meter = new DemoMeter({ now: () => clock.now, seed });
  return (at: number) => readAt(meter, clock, at);
}

Deno.test("a demo meter started again reads on from where the one before it stopped", () => {
  const start = Date.UTC(2026, 10, 30, 17, 0); // a Monday evening: tariff 2, no sun
  const first = meterOnClock(1);
  const initial = first(start);
  let last = initial;
  for (let at = start + 1000; at <= start + 10 * MINUTE_MS; at += 1000) last = first(at);
  assert.ok(last.registers[1]! > initial.registers[1]!, "the first run counted");

  // Started again 5 s later, and after a night off: the registers and gas are the running meter's.
  for (const restart of [start + 10 * MINUTE_MS + 5000, start + 14 * 60 * MINUTE_MS]) {
    const again = meterOnClock(7)(restart);
    const running = first(restart);
    assert.deepEqual([again.registers, again.gas], [running.registers, running.gas]);
    assert.ok(again.registers.every((value, i) => value >= last.registers[i]!), "none fell");
  }
});

Deno.test("the demo meter's registers grow steadily, each only in its tariff, through midnight and the clock changes", () => {
  // Friday to Monday around both changes of 2024: a 23-hour and a 25-hour Sunday.
  const walks = [
    [Date.UTC(2024, 2, 29, 11), Date.UTC(2024, 3, 1, 11)],
    [Date.UTC(2024, 9, 25, 11), Date.UTC(2024, 9, 28, 11)],
  ];
  for (const [from, to] of walks) {
    const meter = meterOnClock(3);
    let before = meter(from!);
    for (let at = from! + 5 * MINUTE_MS; at <= to!; at += 5 * MINUTE_MS) {
      const now = meter(at);
      const grown = now.registers.map((value, i) => value - before.registers[i]!);
      const when = new Date(at).toISOString();
      assert.ok(grown.every((kwh) => kwh >= 0), `no register falls at ${when}: ${grown}`);
      // Five minutes at no more than 2 kW: a day or an hour counted twice would show.
      assert.ok(grown.every((kwh) => kwh <= 0.17), `no register jumps at ${when}: ${grown}`);
      assert.ok(now.gas >= before.gas && now.gas - before.gas <= 0.026, `gas at ${when}`);
      if (before.tariff === now.tariff) {
        const idle = now.tariff === 1 ? [grown[1], grown[3]] : [grown[0], grown[2]];
        assert.deepEqual(idle, [0, 0], `only tariff ${now.tariff}'s registers grow at ${when}`);
      }
      before = now;
    }
  }
});
