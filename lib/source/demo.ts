/**
 * A simulated DSMR 5 meter: realistic telegrams with valid CRCs, so that a newcomer sees real
 * output at once (`deno task demo`) and tests have a live source. Counters grow with the power
 * drawn, per-phase power moves, solar export appears around midday, the tariff switches at
 * 07:00/23:00 and at weekends, and the gas meter reports every 5 minutes.
 *
 * @module
 */

import { crc16, formatCrc } from "../dsmr/crc16.ts";
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

function hex(text: string): string {
  let out = "";
  for (let i = 0; i < text.length; i++) {
    out += text.charCodeAt(i).toString(16).toUpperCase().padStart(2, "0");
  }
  return out;
}

/** Last Sunday of a month (1-based month), as a day of the month. */
function lastSunday(year: number, month: number): number {
  const last = new Date(Date.UTC(year, month, 0));
  return last.getUTCDate() - last.getUTCDay();
}

/** Meter-local (Europe/Amsterdam) time parts and the S/W flag for a UTC instant. */
function localTime(epochMs: number): { date: Date; flag: "S" | "W" } {
  const year = new Date(epochMs).getUTCFullYear();
  const summer = epochMs >= Date.UTC(year, 2, lastSunday(year, 3), 1) &&
    epochMs < Date.UTC(year, 9, lastSunday(year, 10), 1);
  return { date: new Date(epochMs + (summer ? 2 : 1) * 3_600_000), flag: summer ? "S" : "W" };
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

/** The simulated meter: call {@linkcode DemoMeter.telegram} once per interval. */
export class DemoMeter {
  readonly #now: () => number;
  #seed: number;
  #last: number | undefined;
  /** Energy registers in Wh: import t1, import t2, export t1, export t2. */
  readonly #registers = [11_080_001, 11_931_124, 914_942, 1_837_962];
  #gasDm3 = 6_919_956;
  #gasCapture = 0;
  #gasReported = 6_919_956;
  #phaseShare = [0.5, 0.3, 0.2];

  /** Makes a meter whose counters start from the original product's example values. */
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
    const elapsed = this.#last === undefined ? 1 : Math.max(0, (now - this.#last) / 1000);
    this.#last = now;
    const { date } = localTime(now);
    const hour = date.getUTCHours() + date.getUTCMinutes() / 60;
    const weekend = date.getUTCDay() === 0 || date.getUTCDay() === 6;
    const tariff = weekend || hour < 7 || hour >= 23 ? 1 : 2;

    // Household use with a slow wave and noise; solar around midday.
    const use = 250 + 450 * (1 + Math.sin((hour / 24) * 2 * Math.PI - 2)) +
      900 * this.#random() ** 3;
    const solar = hour > 7 && hour < 19
      ? 3200 * Math.sin(((hour - 7) / 12) * Math.PI) * (0.7 + 0.3 * this.#random())
      : 0;
    const net = Math.round(use - solar);
    const importW = Math.max(0, net);
    const exportW = Math.max(0, -net);
    this.#registers[tariff - 1]! += (importW * elapsed) / 3600;
    this.#registers[tariff + 1]! += (exportW * elapsed) / 3600;

    // Gas: heating in the cold hours, reported every 5 minutes with its capture time.
    this.#gasDm3 += (hour < 9 || hour > 17 ? 0.4 : 0.1) * elapsed * (0.5 + this.#random());
    const capture = Math.floor(now / 300_000) * 300_000;
    if (capture !== this.#gasCapture) {
      this.#gasCapture = capture;
      this.#gasReported = this.#gasDm3;
    }

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
      `1-0:1.8.1(${kwh(this.#registers[0]!)}*kWh)`,
      `1-0:1.8.2(${kwh(this.#registers[1]!)}*kWh)`,
      `1-0:2.8.1(${kwh(this.#registers[2]!)}*kWh)`,
      `1-0:2.8.2(${kwh(this.#registers[3]!)}*kWh)`,
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
      `0-1:24.2.1(${tst(this.#gasCapture || capture)})(${
        fixed(Math.floor(this.#gasReported) / 1000, 3, 9)
      }*m3)`,
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
