/**
 * Gathers the telegrams of one minute of meter time into one record: the average, minimum and
 * maximum of every power value, the last value of every register, and each register's readings
 * thinned to those that matter for usage. Within one minute (which never spans an hour's end) a
 * register's usage is its last value minus its first, so the readings between go, unless the
 * register fell (a new segment starts there).
 *
 * @module
 */

import {
  type EnergyRegister,
  type MeterIdentity,
  meterKey,
  POWER_FIELDS,
  type Reading,
  type RegisterName,
  type TelegramFacts,
} from "./readings.ts";

/** The average, minimum and maximum of a power value over a minute (W). */
export interface PowerStats {
  /** The average, rounded to whole watts. */
  readonly avg: number;
  /** The lowest. */
  readonly min: number;
  /** The highest. */
  readonly max: number;
}

/** The readings of one register of one meter, oldest first, times increasing. */
export interface SeriesReadings {
  /** The meter. */
  readonly meter: MeterIdentity;
  /** The register. */
  readonly register: RegisterName;
  /** The readings. */
  readonly readings: Reading[];
}

/** One minute of meter time. */
export interface MinuteRecord {
  /** When the minute starts (ms since the epoch). */
  readonly minute: number;
  /** The meter time of its first telegram. */
  readonly firstTime: number;
  /** The format of its last telegram. */
  readonly format: string;
  /** The electricity meter of its last telegram. */
  readonly meter: MeterIdentity;
  /** How many telegrams it gathered. */
  readonly telegrams: number;
  /** Per {@linkcode POWER_FIELDS} entry, the statistics, or `undefined` when never sent. */
  readonly power: readonly (PowerStats | undefined)[];
  /** The last value of each register of the electricity meter. */
  readonly registers: ReadonlyMap<EnergyRegister, number>;
  /** Every register's readings. */
  readonly series: readonly SeriesReadings[];
}

const MINUTE_MS = 60_000;

interface PowerSum {
  sum: number;
  count: number;
  min: number;
  max: number;
}

interface OpenMinute {
  minute: number;
  firstTime: number;
  format: string;
  meter: MeterIdentity;
  telegrams: number;
  power: (PowerSum | undefined)[];
  registers: Map<EnergyRegister, number>;
  series: Map<string, SeriesReadings>;
}

/** Adds a reading to a register's readings, dropping the one before when it no longer matters. */
function append(readings: Reading[], reading: Reading): void {
  const last = readings.at(-1);
  if (last && reading.time <= last.time) return; // the same capture again, or older
  const before = readings.at(-2);
  const sameMinute = (a: Reading) =>
    Math.floor(a.time / MINUTE_MS) === Math.floor(reading.time / MINUTE_MS);
  if (
    last && before && before.value <= last.value && last.value <= reading.value &&
    sameMinute(before) && sameMinute(last)
  ) {
    readings[readings.length - 1] = reading;
    return;
  }
  readings.push(reading);
}

/**
 * Builds minute records from telegrams in meter-time order.
 *
 * @example
 * ```ts
 * import { MinuteBuilder } from "./minute.ts";
 * import assert from "node:assert/strict";
 * const meter = { kind: "electricity", channel: 0, equipmentId: "E1", unit: "kWh" } as const;
 * const builder = new MinuteBuilder();
 * const telegram = (time: number, value: number, watts: number) => ({
 *   time,
 *   format: "dsmr50",
 *   meter,
 *   readings: [{ meter, register: "import_t1" as const, reading: { time, value } }],
 *   power: [watts],
 * });
 * builder.add(telegram(0, 1, 100));
 * builder.add(telegram(30_000, 1.5, 300));
 * const minute = builder.add(telegram(60_000, 2, 200));
 * assert.deepEqual(minute?.power[0], { avg: 200, min: 100, max: 300 });
 * assert.deepEqual(minute?.series[0]?.readings, [{ time: 0, value: 1 }, { time: 30_000, value: 1.5 }]);
 * ```
 */
export class MinuteBuilder {
  #open: OpenMinute | undefined;
  #newest = -Infinity;
  #newestTime = -Infinity;
  #late = 0;

  /** Telegrams ignored because their meter time was before the minute being gathered. */
  get late(): number {
    return this.#late;
  }

  /** The meter time of the newest telegram taken (`-Infinity` before the first). */
  get newestTime(): number {
    return this.#newestTime;
  }

  /** When the minute being gathered starts, if one is. */
  get openMinute(): number | undefined {
    return this.#open?.minute;
  }

  /**
   * Adds a telegram's facts.
   *
   * @param facts The facts.
   * @returns The previous minute, when this telegram starts a new one.
   */
  add(facts: TelegramFacts): MinuteRecord | undefined {
    const minute = Math.floor(facts.time / MINUTE_MS) * MINUTE_MS;
    let closed: MinuteRecord | undefined;
    if (minute < this.#newest) {
      this.#late++;
      return undefined;
    }
    this.#newest = minute;
    this.#newestTime = Math.max(this.#newestTime, facts.time);
    if (this.#open && minute > this.#open.minute) closed = this.close();
    const open = this.#open ??= {
      minute,
      firstTime: facts.time,
      format: facts.format,
      meter: facts.meter,
      telegrams: 0,
      power: POWER_FIELDS.map(() => undefined),
      registers: new Map(),
      series: new Map(),
    };
    open.telegrams++;
    open.format = facts.format;
    open.meter = facts.meter;
    facts.power.forEach((watts, index) => {
      if (watts === undefined) return;
      const sum = open.power[index];
      if (!sum) open.power[index] = { sum: watts, count: 1, min: watts, max: watts };
      else {
        sum.sum += watts;
        sum.count++;
        if (watts < sum.min) sum.min = watts;
        if (watts > sum.max) sum.max = watts;
      }
    });
    for (const { meter, register, reading } of facts.readings) {
      if (register !== "reading") open.registers.set(register, reading.value);
      const key = `${meterKey(meter)}\u0000${register}`;
      let series = open.series.get(key);
      if (!series) open.series.set(key, series = { meter, register, readings: [] });
      append(series.readings, reading);
    }
    return closed;
  }

  /**
   * Closes the minute being gathered and forgets the time order, so that the next telegram may be
   * at any time: a capture made of captures joined in any order starts a new run where its time
   * goes back, as a capture of its own would.
   *
   * @returns The minute that was being gathered, if any.
   */
  restart(): MinuteRecord | undefined {
    this.#newest = -Infinity;
    this.#newestTime = -Infinity;
    return this.close();
  }

  /** Closes the minute being gathered, if any, and returns it. */
  close(): MinuteRecord | undefined {
    const open = this.#open;
    if (!open) return undefined;
    this.#open = undefined;
    return {
      minute: open.minute,
      firstTime: open.firstTime,
      format: open.format,
      meter: open.meter,
      telegrams: open.telegrams,
      power: open.power.map((sum) =>
        sum && { avg: Math.round(sum.sum / sum.count), min: sum.min, max: sum.max }
      ),
      registers: open.registers,
      series: [...open.series.values()],
    };
  }
}
