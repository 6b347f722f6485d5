/**
 * RegisterWatch: the meter's registers (energy by tariff, failure, sag and swell counts, M-Bus
 * readings) only ever grow. One that falls, with a valid CRC, is either a glitch or a new meter,
 * and Prometheus tells a counter's reset from a glitch by nothing but a fall. So the watch keeps,
 * per register, the value `/metrics` exports as a counter:
 *
 * - a register below its highest value is held at that highest value: a glitch never reaches
 *   Prometheus, and the counter goes on once the register passes the highest value again;
 * - a register that stays below for {@linkcode RESET_AFTER_TELEGRAMS} telegrams in a row and
 *   {@linkcode RESET_AFTER_MS}, or for those telegrams from a meter with another equipment id (a
 *   replaced meter), was reset: the counter follows it down, and Prometheus's `rate()` and
 *   `increase()` treat that as a reset. Telegrams that alternate between two ids never reset it.
 *
 * Each fall is counted once, when the register first drops below its highest value.
 *
 * @module
 */

import type { Telegram } from "./dsmr/model.ts";

/** How long a register must stay below its highest value before the fall is taken as a reset. */
export const RESET_AFTER_MS = 15 * 60_000;

/** How many telegrams in a row must show the register below its highest value for a reset. */
export const RESET_AFTER_TELEGRAMS = 3;

/** One register of a telegram. */
export interface RegisterReading {
  /** Which register: `energy.import.t1`, `phases.l2.voltageSags`, `mbus.1`, ... */
  key: string;
  /** Its value as the meter sent it. */
  value: number;
  /** The equipment id of the meter or device it belongs to, when the telegram names it. */
  owner: string | undefined;
}

const TARIFFS = ["t1", "t2", "t3", "t4", "total"] as const;
const PHASES = ["l1", "l2", "l3"] as const;

/** The keys of the registers, written once for {@linkcode meterRegisters} and its readers. */
export const REGISTER_KEYS = {
  /** An energy register: `energy.import.t1`, `energy.export.total`. */
  energy: (direction: "import" | "export", tariff: (typeof TARIFFS)[number]) =>
    `energy.${direction}.${tariff}`,
  /** A power failure count: `powerFailures.short`, `powerFailures.long`. */
  powerFailures: (length: "short" | "long") => `powerFailures.${length}`,
  /** A phase's event count: `phases.l1.voltageSags`. */
  phase: (phase: (typeof PHASES)[number], count: "voltageSags" | "voltageSwells") =>
    `phases.${phase}.${count}`,
  /** An M-Bus device's reading, by channel: `mbus.1`. */
  mbus: (channel: number) => `mbus.${channel}`,
} as const;

/**
 * Every register a telegram carries, by key.
 *
 * @param t The telegram.
 * @returns The registers, in telegram model order.
 */
export function meterRegisters(t: Telegram): RegisterReading[] {
  const owner = t.equipmentId;
  const out: RegisterReading[] = [];
  const add = (key: string, value: number | undefined, by = owner) => {
    // A value that is no number at all is the parser's problem to report, not a register's high.
    if (value !== undefined && Number.isFinite(value)) out.push({ key, value, owner: by });
  };
  for (const direction of ["import", "export"] as const) {
    for (const tariff of TARIFFS) {
      add(REGISTER_KEYS.energy(direction, tariff), t.energy[direction][tariff]?.value);
    }
  }
  for (const length of ["short", "long"] as const) {
    add(REGISTER_KEYS.powerFailures(length), t.powerFailures[length]);
  }
  for (const phase of PHASES) {
    for (const count of ["voltageSags", "voltageSwells"] as const) {
      add(REGISTER_KEYS.phase(phase, count), t.phases[phase]?.[count]);
    }
  }
  for (const device of t.mbus) {
    add(REGISTER_KEYS.mbus(device.channel), device.reading?.value.value, device.id);
  }
  return out;
}

/** What happened to a register at a telegram. */
export type RegisterEvent =
  | { kind: "fell"; key: string; from: number; to: number }
  | { kind: "reset"; key: string; from: number; to: number; reason: string };

/**
 * A register event as a log line.
 *
 * @param event The event.
 * @returns What happened and what `/metrics` does about it.
 */
export function describeRegisterEvent(event: RegisterEvent): string {
  return event.kind === "fell"
    ? `meter register ${event.key} fell from ${event.from} to ${event.to} with a valid CRC: ` +
      "/metrics holds its counter at the highest value until the register passes it again"
    : `meter register ${event.key} fell from ${event.from} to ${event.to} (${event.reason}): ` +
      "taken as a reset, /metrics follows it";
}

interface RegisterState {
  /** The equipment id of the meter at the highest value. */
  owner: string | undefined;
  /** The highest value seen since the last reset: what is exported. */
  highest: number;
  /**
   * Since when, and for how many telegrams in a row, the register has been below `highest`, and
   * whether each of them came from a meter with another equipment id.
   */
  below?: { since: number; telegrams: number; otherMeter: boolean } | undefined;
}

/**
 * Follows the registers of one meter from telegram to telegram.
 *
 * @example A one-telegram glitch is held; the counter goes on
 * ```ts
 * import { RegisterWatch } from "./meter_registers.ts";
 * import { parseTelegram } from "./dsmr/parse.ts";
 * import assert from "node:assert/strict";
 *
 * const watch = new RegisterWatch();
 * const at = (kwh: string) => parseTelegram(`/ISK5\\2M550T-1012\r\n\r\n1-0:1.8.1(${kwh}*kWh)\r\n!`, {
 *   format: "dsmr22",
 * });
 * watch.observe(at("000100.000"), 0);
 * assert.deepEqual(watch.observe(at("000090.000"), 1000), [
 *   { kind: "fell", key: "energy.import.t1", from: 100, to: 90 },
 * ]);
 * assert.equal(watch.counterValue("energy.import.t1"), 100);
 * watch.observe(at("000100.002"), 2000);
 * assert.equal(watch.counterValue("energy.import.t1"), 100.002);
 * assert.equal(watch.falls, 1);
 * ```
 */
export class RegisterWatch {
  readonly #registers = new Map<string, RegisterState>();
  #falls = 0;

  /** Falls seen so far (each counted once, when the register first dropped). */
  get falls(): number {
    return this.#falls;
  }

  /**
   * The value to export for a register as a Prometheus counter.
   *
   * @param key The register's key (see {@linkcode meterRegisters}).
   * @returns Its highest value since its last reset, `undefined` for a register never seen.
   */
  counterValue(key: string): number | undefined {
    return this.#registers.get(key)?.highest;
  }

  /**
   * Takes the registers of a new telegram.
   *
   * @param t The telegram.
   * @param receivedAt When it arrived, by the host's clock (the meter's clock may be what is wrong).
   * @returns What happened: falls and resets (usually nothing).
   */
  observe(t: Telegram, receivedAt: number): RegisterEvent[] {
    const events: RegisterEvent[] = [];
    for (const { key, value, owner } of meterRegisters(t)) {
      const state = this.#registers.get(key);
      if (!state) {
        this.#registers.set(key, { owner, highest: value });
        continue;
      }
      const from = state.highest;
      if (value >= from) {
        state.highest = value;
        state.owner = owner ?? state.owner;
        state.below = undefined;
        continue;
      }
      if (!state.below) {
        state.below = { since: receivedAt, telegrams: 0, otherMeter: true };
        this.#falls++;
        events.push({ kind: "fell", key, from, to: value });
      }
      const below = state.below;
      below.telegrams++;
      below.otherMeter &&= owner !== undefined && state.owner !== undefined &&
        owner !== state.owner;
      const lasted = receivedAt - below.since;
      if (
        below.telegrams >= RESET_AFTER_TELEGRAMS && (below.otherMeter || lasted >= RESET_AFTER_MS)
      ) {
        this.#registers.set(key, { owner: owner ?? state.owner, highest: value });
        const reason = below.otherMeter
          ? `another meter, ${owner}`
          : `below its highest value for ${Math.round(lasted / 60_000)} min`;
        events.push({ kind: "reset", key, from, to: value, reason });
      }
    }
    return events;
  }
}
