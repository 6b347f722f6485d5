/**
 * A generated meter: what it says at each telegram over weeks or a year, with tariffs switching
 * at night and at weekends, solar export by day, a gas meter capturing every 5 minutes, optional
 * downtime (no telegrams, the registers go on) and a meter replacement (a new equipment id,
 * registers starting low). The registers are rounded as a meter writes them, and tests compute
 * the expected usage from these same values, independently of the history's code.
 *
 * @module
 */

import { euSummer, type MeterState, telegramText } from "./meter_telegrams.ts";

/** What to generate. */
export interface GeneratedMeter {
  /** The first telegram's time (ms since the epoch). */
  start: number;
  /** No telegram at or after this time. */
  end: number;
  /** Time between telegrams (ms). */
  stepMs: number;
  /** Periods without telegrams, `[from, to)`. */
  downtime?: [number, number][];
  /** When the meter is replaced, and the new one's id. */
  replacement?: { at: number; equipmentId: string };
}

const HOUR_MS = 3_600_000;

function localHour(time: number): number {
  return new Date(time + (euSummer(time) ? 2 : 1) * HOUR_MS).getUTCHours();
}

function localWeekday(time: number): number {
  return new Date(time + (euSummer(time) ? 2 : 1) * HOUR_MS).getUTCDay();
}

/** Import and export power (kW) at a moment: evening peaks, solar export from 10:00 to 16:00. */
function powerAt(time: number): { importKw: number; exportKw: number } {
  const hour = localHour(time);
  const solar = hour >= 10 && hour < 16 ? 1.2 + (hour % 3) * 0.4 : 0;
  const use = 0.25 + (hour >= 17 && hour < 22 ? 1.4 : 0) + (hour >= 7 && hour < 9 ? 0.6 : 0);
  return { importKw: Math.max(0, use - solar), exportKw: Math.max(0, solar - use) };
}

/** Tariff 1 (low) at night and at weekends, else tariff 2. */
function tariffAt(time: number): 1 | 2 {
  const hour = localHour(time);
  const weekday = localWeekday(time);
  return hour >= 23 || hour < 7 || weekday === 0 || weekday === 6 ? 1 : 2;
}

/** Gas per hour (m3): more in the morning and evening. */
function gasRate(time: number): number {
  const hour = localHour(time);
  return hour >= 6 && hour < 9 || hour >= 17 && hour < 22 ? 0.24 : 0.06;
}

const round3 = (value: number) => Math.round(value * 1000) / 1000;

/**
 * The states of the telegrams of a generated meter.
 *
 * @param meter What to generate.
 * @returns One state per telegram, in time order.
 */
export function generateStates(meter: GeneratedMeter): MeterState[] {
  const states: MeterState[] = [];
  let equipmentId = "E0000000000000001";
  const registers = { importT1: 1200, importT2: 2400, exportT1: 300, exportT2: 700 };
  let gas = 3000;
  let gasAt = Math.floor(meter.start / 300_000) * 300_000;
  let replaced = false;
  for (let time = meter.start; time < meter.end; time += meter.stepMs) {
    // The registers count the step before this telegram at the power of its start.
    const before = time - meter.stepMs;
    if (time > meter.start) {
      const { importKw, exportKw } = powerAt(before);
      const tariff = tariffAt(before);
      const hours = meter.stepMs / HOUR_MS;
      if (tariff === 1) {
        registers.importT1 += importKw * hours;
        registers.exportT1 += exportKw * hours;
      } else {
        registers.importT2 += importKw * hours;
        registers.exportT2 += exportKw * hours;
      }
    }
    while (gasAt + 300_000 <= time) {
      gas += gasRate(gasAt) * 300_000 / HOUR_MS;
      gasAt += 300_000;
    }
    if (meter.replacement && !replaced && time >= meter.replacement.at) {
      replaced = true;
      equipmentId = meter.replacement.equipmentId;
      Object.assign(registers, { importT1: 0.5, importT2: 0.8, exportT1: 0, exportT2: 0.1 });
    }
    if (meter.downtime?.some(([from, to]) => time >= from && time < to)) continue;
    const { importKw, exportKw } = powerAt(time);
    states.push({
      time,
      equipmentId,
      importT1: round3(registers.importT1),
      importT2: round3(registers.importT2),
      exportT1: round3(registers.exportT1),
      exportT2: round3(registers.exportT2),
      tariff: tariffAt(time),
      powerImport: round3(importKw),
      powerExport: round3(exportKw),
      gas: { time: gasAt, m3: round3(gas) },
    });
  }
  return states;
}

/** The capture of some states: their telegrams, one after another. */
export function captureOf(states: readonly MeterState[]): string {
  return states.map(telegramText).join("");
}
