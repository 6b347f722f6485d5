/**
 * A simulated DSMR 5 meter: realistic telegrams with valid CRCs, so that a newcomer sees real
 * output at once (`deno task demo`) and tests have a live source. Per-phase power moves, solar
 * export appears around midday, the tariff switches at 07:00/23:00 and at weekends, and the gas
 * meter reports every 5 minutes.
 *
 * Its registers are read off the clock: a made-up household has used energy and gas at the same
 * pace every day since {@linkcode DEMO_EPOCH}, so a demo started again goes on from where the last
 * one was (the energy history sees no fall and no gap), and every register grows only in its own
 * tariff's hours.
 *
 * @module
 */

import { crc16, formatCrc } from "../dsmr/crc16.ts";
import { isEuSummerTime } from "../dsmr/values.ts";
import { type ByteSource, type ByteStream, sleep } from "./source.ts";

/** Options for {@linkcode DemoMeter} and {@linkcode DemoSource}. */
export interface DemoOptions {
  /**
   * Milliseconds between telegrams.
   * @default {1000}
   */
  intervalMs?: number;
  /**
   * Seed of the random movement, for repeatable runs.
   * @default {1}
   */
  seed?: number;
  /** The clock, in milliseconds since the epoch. @default {Date.now} */
  now?: () => number;
}

/**
 * When the demo meter's registers read the original product's example values (the start of
 * 5 February 2023, meter-local, the day of its example telegram); they stand still before it.
 */
export const DEMO_EPOCH: number = Date.UTC(2023, 1, 4, 23);

/** The registers at {@linkcode DEMO_EPOCH}: import t1, t2, export t1, t2 (Wh) and gas (dm³). */
const EPOCH_REGISTERS = [11_080_001, 11_931_124, 914_942, 1_837_962, 6_919_956];

const HOUR_MS = 3_600_000;

function hex(text: string): string {
  let out = "";
  for (let i = 0; i < text.length; i++) {
    out += text.charCodeAt(i).toString(16).toUpperCase().padStart(2, "0");
  }
  return out;
}

/** Meter-local (Europe/Amsterdam) time parts and the S/W flag for a UTC instant. */
function localTime(epochMs: number): { date: Date; flag: "S" | "W" } {
  const summer = isEuSummerTime(epochMs);
  return { date: new Date(epochMs + (summer ? 2 : 1) * HOUR_MS), flag: summer ? "S" : "W" };
}

/** When the meter-local day of an instant starts (midnight is never inside a change of offset). */
function startOfDay(epochMs: number): number {
  const midnight = Math.floor(localTime(epochMs).date.getTime() / 86_400_000) * 86_400_000;
  return isEuSummerTime(midnight - HOUR_MS) ? midnight - 2 * HOUR_MS : midnight - HOUR_MS;
}

function tst(epochMs: number): string {
  const { date, flag } = localTime(epochMs);
  const two = (n: number) => String(n).padStart(2, "0");
  return `${two(date.getUTCFullYear() % 100)}${two(date.getUTCMonth() + 1)}${
    two(date.getUTCDate())
  }` +
    `${two(date.getUTCHours())}${two(date.getUTCMinutes())}${two(date.getUTCSeconds())}${flag}`;
}

const fixed = (value: number, decimals: number, width: number) =>
  value.toFixed(decimals).padStart(width, "0");
/** A register kept in Wh (with fractions) as the meter writes it: whole Wh, in kWh. */
const kwh = (wh: number) => fixed(Math.floor(wh) / 1000, 3, 10);

/** Whether a meter-local date (see `localTime`) falls on a Saturday or Sunday. */
function isWeekend(date: Date): boolean {
  return date.getUTCDay() === 0 || date.getUTCDay() === 6;
}

/** Tariff 1 (low) at night and at weekends, tariff 2 (normal) on weekdays from 07:00 to 23:00. */
function tariffAt(hour: number, weekend: boolean): 1 | 2 {
  return weekend || hour < 7 || hour >= 23 ? 1 : 2;
}

/**
 * The household's use (W) at a meter-local hour of the day, a slow wave; on top of it come
 * appliances switching on and off, from 0 to 900 W ({@linkcode APPLIANCES_W} on average).
 */
function useWave(hour: number): number {
  return 250 + 450 * (1 + Math.sin((hour / 24) * 2 * Math.PI - 2));
}

/** What the appliances add on average (W): 900 W times a random number cubed. */
const APPLIANCES_W = 225;

/**
 * The solar panels' yield (W) under a clear sky at a meter-local hour of the day; clouds leave
 * 70 to 100 % of it ({@linkcode CLOUDS} on average).
 */
function clearSky(hour: number): number {
  return hour > 7 && hour < 19 ? 3200 * Math.sin(((hour - 7) / 12) * Math.PI) : 0;
}

/** The share of the clear-sky yield left by the clouds on average. */
const CLOUDS = 0.85;

/** Gas (dm³ an hour): heating in the cold hours. */
function gasPerHour(hour: number): number {
  return hour < 9 || hour >= 18 ? 300 : 50;
}

/**
 * What one whole meter-local hour adds to each register (import t1, t2, export t1, t2 in Wh, gas
 * in dm³): the average of the household at the middle of the hour.
 */
const HOUR_AMOUNTS: readonly (readonly number[])[][] = [false, true].map((weekend) =>
  Array.from({ length: 24 }, (_, hour) => {
    const middle = hour + 0.5;
    const net = useWave(middle) + APPLIANCES_W - CLOUDS * clearSky(middle);
    const amounts = [0, 0, 0, 0, gasPerHour(hour)];
    const t = tariffAt(hour, weekend) - 1;
    amounts[t] = Math.max(0, net);
    amounts[t + 2] = Math.max(0, -net);
    return amounts;
  })
);

/** Adds what the hours from `from` to `to` add to the registers, to `totals`. */
function addHours(totals: number[], from: number, to: number): void {
  for (let hour = from; hour < to; hour += HOUR_MS) {
    const { date } = localTime(hour);
    const amounts = HOUR_AMOUNTS[isWeekend(date) ? 1 : 0]![date.getUTCHours()]!;
    const share = Math.min(1, (to - hour) / HOUR_MS);
    for (let i = 0; i < totals.length; i++) totals[i]! += amounts[i]! * share;
  }
}

/** What a whole meter-local day adds, by kind (weekend or not, and its length): the same each time. */
const DAY_AMOUNTS = new Map<string, number[]>();

/** Adds what the meter-local day from `start` to `end` adds to the registers, to `totals`. */
function addDay(totals: number[], start: number, end: number): void {
  const kind = `${isWeekend(localTime(start).date)} ${end - start}`;
  let amounts = DAY_AMOUNTS.get(kind);
  if (!amounts) {
    amounts = [0, 0, 0, 0, 0];
    addHours(amounts, start, end);
    DAY_AMOUNTS.set(kind, amounts);
  }
  for (let i = 0; i < totals.length; i++) totals[i]! += amounts[i]!;
}

/** The registers at the start of a meter-local day: where a meter's count of whole days stands. */
interface DayTotals {
  start: number;
  totals: readonly number[];
}

/**
 * The registers at an instant: the whole days since {@linkcode DEMO_EPOCH}, counted on from
 * `days` (moved on to the instant's day), then the hours of its day.
 */
function registersAt(time: number, days: DayTotals): number[] {
  const at = Math.max(time, DEMO_EPOCH);
  const today = startOfDay(at);
  if (days.start > today) Object.assign(days, { start: DEMO_EPOCH, totals: EPOCH_REGISTERS });
  while (days.start < today) {
    const next = startOfDay(days.start + 26 * HOUR_MS);
    const totals = [...days.totals];
    addDay(totals, days.start, next);
    Object.assign(days, { start: next, totals });
  }
  const totals = [...days.totals];
  addHours(totals, today, at);
  return totals;
}

/** The simulated meter: call {@linkcode DemoMeter.telegram} once per interval. */
export class DemoMeter {
  readonly #now: () => number;
  #seed: number;
  #phaseShare = [0.5, 0.3, 0.2];
  readonly #days: DayTotals = { start: DEMO_EPOCH, totals: EPOCH_REGISTERS };

  /**
   * Makes a meter whose registers read the original product's example values at
   * {@linkcode DEMO_EPOCH} and have grown with the clock since.
   */
  constructor(options: DemoOptions = {}) {
    this.#seed = options.seed ?? 1;
    this.#now = options.now ?? Date.now;
  }

  #random(): number {
    this.#seed = (this.#seed * 1103515245 + 12345) % 2 ** 31;
    return this.#seed / 2 ** 31;
  }

  /**
   * The next telegram, CR LF line ends and CRC included.
   *
   * @returns The telegram's bytes.
   */
  telegram(): Uint8Array {
    const now = this.#now();
    const { date } = localTime(now);
    const hour = date.getUTCHours() + date.getUTCMinutes() / 60;
    const tariff = tariffAt(hour, isWeekend(date));

    // The household's power moves about its average; the registers count the average.
    const use = useWave(hour) + 900 * this.#random() ** 3;
    const solar = clearSky(hour) * (0.7 + 0.3 * this.#random());
    const net = Math.round(use - solar);
    const importW = Math.max(0, net);
    const exportW = Math.max(0, -net);
    const registers = registersAt(now, this.#days);
    // The gas meter's reading as captured at the last whole 5 minutes.
    const capture = Math.floor(now / 300_000) * 300_000;
    const gasDm3 = registersAt(capture, this.#days)[4]!;

    this.#phaseShare = this.#phaseShare.map((share) =>
      Math.max(0.05, share + (this.#random() - 0.5) * 0.05)
    );
    const total = this.#phaseShare.reduce((a, b) => a + b, 0);
    const lines = [
      "/KTK5\\2P1READER-DEMO",
      "",
      "1-3:0.2.8(50)",
      `0-0:1.0.0(${tst(now)})`,
      `0-0:96.1.1(${hex("DEMO0000000000001")})`,
      `1-0:1.8.1(${kwh(registers[0]!)}*kWh)`,
      `1-0:1.8.2(${kwh(registers[1]!)}*kWh)`,
      `1-0:2.8.1(${kwh(registers[2]!)}*kWh)`,
      `1-0:2.8.2(${kwh(registers[3]!)}*kWh)`,
      `0-0:96.14.0(${fixed(tariff, 0, 4)})`,
      `1-0:1.7.0(${fixed(importW / 1000, 3, 6)}*kW)`,
      `1-0:2.7.0(${fixed(exportW / 1000, 3, 6)}*kW)`,
      "0-0:96.7.21(00007)",
      "0-0:96.7.9(00009)",
      "1-0:99.97.0(2)(0-0:96.7.19)(221009193502S)(0000027164*s)(230115083012W)(0000000241*s)",
      "1-0:32.32.0(00046)",
      "1-0:52.32.0(00002)",
      "1-0:72.32.0(00001)",
      "1-0:32.36.0(00014)",
      "1-0:52.36.0(00000)",
      "1-0:72.36.0(00000)",
      "0-0:96.13.0()",
    ];
    const phases = ["32", "52", "72"];
    const currents = ["31", "51", "71"];
    const imports = ["21", "41", "61"];
    const exports = ["22", "42", "62"];
    const voltages = phases.map(() => 229 + 4 * this.#random());
    phases.forEach((code, i) => lines.push(`1-0:${code}.7.0(${fixed(voltages[i]!, 1, 5)}*V)`));
    currents.forEach((code, i) => {
      const watts = Math.abs(net) * (this.#phaseShare[i]! / total);
      lines.push(`1-0:${code}.7.0(${fixed(Math.round(watts / voltages[i]!), 0, 3)}*A)`);
    });
    imports.forEach((code, i) =>
      lines.push(
        `1-0:${code}.7.0(${fixed((importW * this.#phaseShare[i]! / total) / 1000, 3, 6)}*kW)`,
      )
    );
    exports.forEach((code, i) =>
      lines.push(
        `1-0:${code}.7.0(${fixed((exportW * this.#phaseShare[i]! / total) / 1000, 3, 6)}*kW)`,
      )
    );
    lines.push(
      "0-1:24.1.0(003)",
      `0-1:96.1.0(${hex("G0000000000000001")})`,
      `0-1:24.2.1(${tst(capture)})(${fixed(Math.floor(gasDm3) / 1000, 3, 9)}*m3)`,
    );
    const body = `${lines.join("\r\n")}\r\n!`;
    const bytes = new Uint8Array(body.length + 6);
    for (let i = 0; i < body.length; i++) bytes[i] = body.charCodeAt(i);
    const crc = `${formatCrc(crc16(bytes, 0, body.length))}\r\n`;
    for (let i = 0; i < 6; i++) bytes[body.length + i] = crc.charCodeAt(i);
    return bytes;
  }
}

/** The demo meter as a {@linkcode ByteSource}: one telegram per interval, for ever. */
export class DemoSource implements ByteSource {
  /** The demo never ends. */
  readonly endless = true;
  readonly #meter: DemoMeter;
  readonly #intervalMs: number;

  /** Makes the source; see {@linkcode DemoOptions}. */
  constructor(options: DemoOptions = {}) {
    this.#meter = new DemoMeter(options);
    this.#intervalMs = options.intervalMs ?? 1000;
  }

  /** For example `demo meter (a DSMR 5 telegram every 1 s)`. */
  get description(): string {
    return `demo meter (a DSMR 5 telegram every ${this.#intervalMs / 1000} s)`;
  }

  /** Starts the meter. */
  open(): Promise<ByteStream> {
    const meter = this.#meter;
    const interval = this.#intervalMs;
    const closing = new AbortController();
    let first = true;
    return Promise.resolve({
      warnings: [],
      async read() {
        if (!first) await sleep(interval, closing.signal);
        first = false;
        return closing.signal.aborted ? null : meter.telegram();
      },
      close() {
        closing.abort();
        return Promise.resolve();
      },
    });
  }
}
