/**
 * RegisterWatch: the meter's registers (energy by tariff, failure, sag and swell counts, M-Bus
 * readings) only ever grow, and no faster than a home can use energy. A reading that falls, or
 * grows faster than that ({@linkcode mostGrowth}), is a glitch (a garbled digit the CRC could not
 * catch, or a format without CRC) or a new meter. Taken as usage it would cost thousands of kWh;
 * exported as a Prometheus counter it would read as a reset, or stay its "highest" for decades.
 * So the watch keeps, per register, the last value it took, and judges each telegram against it:
 *
 * - a telegram with a register off that value's track is a glitch: left out (the receiver flags
 *   it, and the history, its costs, the thinned pushes and the counters skip it), and the counter
 *   stays at the value taken;
 * - a register that stays off for {@linkcode RESET_AFTER_TELEGRAMS} telegrams in a row, each on
 *   the track of the one before, and {@linkcode RESET_AFTER_MS}, or for those telegrams from a
 *   meter with another equipment id (a replaced meter), is at a new level: it is taken, the counter
 *   follows it (Prometheus's `rate()` and `increase()` treat a fall as a reset) and the history
 *   starts a new segment. Telegrams that alternate between two ids never make a new level.
 * - a telegram whose CRC was checked and valid (DSMR 4 and 5) cannot carry a garbled equipment id:
 *   when it names another meter than the register's, that is a replaced meter, and its value is
 *   taken at once as the new level. Only an id the register never had is: a meter that was replaced
 *   does not come back, so telegrams alternating between two ids make one new level at most, at the
 *   first switch, and the old id's telegrams are glitches from then on.
 * - the first value of a register (after a start) has nothing to be judged by: it is taken, and
 *   until a telegram follows it, those telegrams in a row replace it without the wait (a garbled
 *   first telegram costs three telegrams, not a quarter of an hour).
 *
 * Time is the meter's clock or the host's, whichever moved more: a replay runs faster than the
 * host's clock, a meter's clock can stand still.
 *
 * @module
 */

import type { Telegram } from "./dsmr/model.ts";

/** How long a register must stay off its track before its new level is taken. */
export const RESET_AFTER_MS = 15 * 60_000;

/** How many telegrams in a row must show a register off its track before its new level is taken. */
export const RESET_AFTER_TELEGRAMS = 3;

/** How fast a register can grow at most: per hour, plus a margin for each step. */
export interface GrowthLimit {
  /** Per hour, in the register's unit. */
  readonly perHour: number;
  /** Added to every step: a meter that counts in whole units steps by one at a time. */
  readonly margin: number;
}

/**
 * How fast registers can grow, by unit, with room to spare for any home: 100 kW of electricity
 * (a 3 x 80 A connection draws 55 kW), 60 m3/h of gas or water (a G40 gas meter), 1 GJ/h of heat
 * (280 kW); `count`, the counts of power failures and voltage sags and swells, one a second.
 */
export const GROWTH_LIMITS: Readonly<Record<string, GrowthLimit>> = {
  kWh: { perHour: 100, margin: 1 },
  m3: { perHour: 60, margin: 1 },
  GJ: { perHour: 1, margin: 0.1 },
  count: { perHour: 3600, margin: 10 },
};

/**
 * The shortest time a step is judged over: two telegrams a second apart may show up to 10 s of
 * counting (and a replay at full speed shows none).
 */
export const MIN_STEP_MS = 10_000;

/**
 * The most a register can grow in a time.
 *
 * @param unit Its unit (see {@linkcode GROWTH_LIMITS}).
 * @param elapsedMs The time (at least {@linkcode MIN_STEP_MS} is used).
 * @returns The growth, `Infinity` for a unit without a limit.
 */
export function mostGrowth(unit: string, elapsedMs: number): number {
  const limit = GROWTH_LIMITS[unit];
  if (limit === undefined) return Infinity;
  return limit.perHour * Math.max(elapsedMs, MIN_STEP_MS) / 3_600_000 + limit.margin;
}

/** One register of a telegram. */
export interface RegisterReading {
  /** Which register: `energy.import.t1`, `phases.l2.voltageSags`, `mbus.1`, ... */
  key: string;
  /** Its value as the meter sent it. */
  value: number;
  /** The equipment id of the meter or device it belongs to, when the telegram names it. */
  owner: string | undefined;
  /** Its unit (`kWh`, `m3`, `GJ`; `""` when unknown), or `count` for a count of events. */
  unit: string;
  /**
   * For an M-Bus device's reading, when the device took it (ms since the epoch), or `null` when
   * the telegram does not say: such a reading changes once per capture (every 5 minutes, or every
   * hour), so it is then judged over the time since it last changed. Absent for the meter's own
   * registers, which are judged from telegram to telegram.
   */
  capturedAt?: number | null;
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
  const add = (reading: RegisterReading) => {
    // A value that is no number at all is the parser's problem to report, not a register's value.
    if (Number.isFinite(reading.value)) out.push(reading);
  };
  for (const direction of ["import", "export"] as const) {
    for (const tariff of TARIFFS) {
      const quantity = t.energy[direction][tariff];
      const key = REGISTER_KEYS.energy(direction, tariff);
      if (quantity) add({ key, value: quantity.value, owner, unit: quantity.unit });
    }
  }
  const count = (key: string, value: number | undefined) => {
    if (value !== undefined) add({ key, value, owner, unit: "count" });
  };
  for (const length of ["short", "long"] as const) {
    count(REGISTER_KEYS.powerFailures(length), t.powerFailures[length]);
  }
  for (const phase of PHASES) {
    for (const kind of ["voltageSags", "voltageSwells"] as const) {
      count(REGISTER_KEYS.phase(phase, kind), t.phases[phase]?.[kind]);
    }
  }
  for (const device of t.mbus) {
    const reading = device.reading;
    if (!reading) continue;
    add({
      key: REGISTER_KEYS.mbus(device.channel),
      value: reading.value.value,
      owner: device.id,
      unit: reading.value.unit,
      capturedAt: reading.time?.epochMs ?? null,
    });
  }
  return out;
}

/** What happened to a register at a telegram. */
export type RegisterEvent =
  | { kind: "fell" | "rose"; key: string; from: number; to: number; elapsedMs: number }
  | { kind: "new level"; key: string; from: number; to: number; reason: string }
  | { kind: "new meter"; key: string; from: number; to: number; owner: string };

/** A number of milliseconds as a log line says it: `10 s`, `15 min`, `3 h`. */
function span(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s} s`;
  return s < 7200 ? `${Math.round(s / 60)} min` : `${Math.round(s / 3600)} h`;
}

/**
 * A register event as a log line.
 *
 * @param event The event.
 * @param telegram The telegram it happened at: the line names its CRC only when it had one.
 * @returns What happened and what the reader does about it.
 */
export function describeRegisterEvent(event: RegisterEvent, telegram: Telegram): string {
  const what = `meter register ${event.key}`;
  if (event.kind === "new meter") {
    return `${what} went from ${event.from} to ${event.to} with another meter, ${event.owner} ` +
      "(the telegram's CRC was valid): taken at once as a new level; /metrics counts a reset, the " +
      "history starts a new segment";
  }
  if (event.kind === "new level") {
    return `${what} went from ${event.from} to ${event.to} and stayed there (${event.reason}): ` +
      "taken as a new level; /metrics counts a reset, the history starts a new segment";
  }
  const crc = telegram.checksum.valid === true ? " (the telegram's CRC was valid)" : "";
  const how = event.kind === "fell"
    ? `fell from ${event.from} to ${event.to}`
    : `rose from ${event.from} to ${event.to} in ${
      span(event.elapsedMs)
    }, faster than a meter counts`;
  return `${what} ${how}${crc}: telegram left out of the history, its costs, the pushes and the ` +
    "/metrics counters (a new level is taken once it lasts)";
}

/** A register's value at a telegram, with the telegram's times. */
interface Step {
  value: number;
  /** The meter's time (the receive time for a meter without a clock). */
  meterTime: number;
  /** When the telegram arrived, by the host's clock. */
  hostTime: number;
  /** When an M-Bus device took the reading. */
  capturedAt: number | undefined;
}

/** The time between two steps: the most that any of the clocks moved. */
function elapsed(from: Step, to: Step): number {
  const captured = from.capturedAt !== undefined && to.capturedAt !== undefined
    ? to.capturedAt - from.capturedAt
    : -Infinity;
  return Math.max(to.meterTime - from.meterTime, to.hostTime - from.hostTime, captured);
}

/** Whether `to` can follow `from` on a register in `unit`, or how it cannot. */
function judge(from: Step, to: Step, unit: string): "follows" | "fell" | "rose" {
  if (to.value < from.value) return "fell";
  return to.value - from.value <= mostGrowth(unit, elapsed(from, to)) ? "follows" : "rose";
}

interface RegisterState {
  /** The equipment id of the meter of the value taken. */
  owner: string | undefined;
  /** The last value taken: what is exported. */
  taken: Step;
  /** The first step at that value (a reading that changes once per capture is judged from it). */
  since: Step;
  /** Whether a telegram followed the value taken (the first value is taken on trust). */
  confirmed: boolean;
  /** The equipment ids the register had before `owner`: a replaced meter does not come back. */
  retired: ReadonlySet<string>;
  /**
   * Telegrams in a row off the value taken, each following the one before (a new level, if it
   * lasts): the first and the last, how many, and whether all came from another meter.
   */
  off?: { first: Step; last: Step; telegrams: number; otherMeter: boolean } | undefined;
}

/** What the watch made of a telegram. */
export interface RegisterVerdict {
  /** A register of it is off its track: the telegram is to be left out. */
  glitch: boolean;
  /** Registers that went off their track, and new levels taken (usually none). */
  events: RegisterEvent[];
}

/**
 * Follows the registers of one meter from telegram to telegram.
 *
 * @example A one-telegram glitch is left out; the counter goes on
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
 * assert.deepEqual(watch.observe(at("000090.000"), 10_000), {
 *   glitch: true,
 *   events: [{ kind: "fell", key: "energy.import.t1", from: 100, to: 90, elapsedMs: 10_000 }],
 * });
 * assert.equal(watch.counterValue("energy.import.t1"), 100);
 * assert.equal(watch.observe(at("100100.000"), 20_000).glitch, true, "100,000 kWh in 20 s");
 * assert.equal(watch.observe(at("000100.002"), 30_000).glitch, false);
 * assert.equal(watch.counterValue("energy.import.t1"), 100.002);
 * ```
 */
export class RegisterWatch {
  readonly #registers = new Map<string, RegisterState>();

  /**
   * The value to export for a register as a Prometheus counter.
   *
   * @param key The register's key (see {@linkcode meterRegisters}).
   * @returns The last value taken, `undefined` for a register never seen.
   */
  counterValue(key: string): number | undefined {
    return this.#registers.get(key)?.taken.value;
  }

  /**
   * Takes the registers of a new telegram.
   *
   * @param t The telegram.
   * @param receivedAt When it arrived, by the host's clock.
   * @returns Whether it is a glitch, and what happened (usually nothing).
   */
  observe(t: Telegram, receivedAt: number): RegisterVerdict {
    const meterTime = t.timestamp?.epochMs ?? receivedAt;
    // A valid CRC vouches for the equipment id: another one is another meter.
    const idVouched = t.checksum.valid === true;
    const events: RegisterEvent[] = [];
    const following: [RegisterState | undefined, RegisterReading, Step][] = [];
    const newMeters: [RegisterState, RegisterReading, Step][] = [];
    let glitch = false;
    for (const reading of meterRegisters(t)) {
      const capturedAt = reading.capturedAt ?? undefined;
      const step = { value: reading.value, meterTime, hostTime: receivedAt, capturedAt };
      const state = this.#registers.get(reading.key);
      // A reading that changes once per capture, its time unknown, is judged since it changed.
      const from = reading.capturedAt === null ? state?.since : state?.taken;
      const verdict = state && from ? judge(from, step, reading.unit) : "follows";
      if (!state || !from || verdict === "follows") following.push([state, reading, step]);
      else if (idVouched && this.#isNewMeter(state, reading)) {
        newMeters.push([state, reading, step]);
      } else if (this.#offTrack(state, reading, step, elapsed(from, step), verdict, events)) {
        glitch = true;
      }
    }
    // A new meter is taken at once, but not from a telegram that is doubtful for another register.
    if (!glitch) {
      for (const [state, reading, step] of newMeters) {
        this.#takeNewMeter(state, reading, step, events);
      }
    }
    // A register on its track ends its run off it, but takes nothing from a doubtful telegram.
    for (const [state, { key, owner }, step] of following) {
      if (!state) {
        if (!glitch) {
          const retired = new Set<string>();
          this.#registers.set(key, { owner, taken: step, since: step, confirmed: false, retired });
        }
        continue;
      }
      state.off = undefined;
      if (glitch) continue;
      if (step.value !== state.taken.value) state.since = step;
      state.taken = step;
      if (owner !== undefined && owner !== state.owner) {
        state.retired = retire(state);
        state.owner = owner;
      }
      state.confirmed = true;
    }
    return { glitch, events };
  }

  /**
   * Whether a reading comes from another meter, one the register never had (the caller knows that
   * the telegram's CRC vouches for its equipment id).
   */
  #isNewMeter(state: RegisterState, { owner }: RegisterReading): boolean {
    return owner !== undefined && state.owner !== undefined && owner !== state.owner &&
      !state.retired.has(owner);
  }

  /** Takes a new meter's reading off its register's track at once, as its new level. */
  #takeNewMeter(
    state: RegisterState,
    { key, value, owner }: RegisterReading,
    step: Step,
    events: RegisterEvent[],
  ): void {
    events.push({ kind: "new meter", key, from: state.taken.value, to: value, owner: owner! });
    const retired = retire(state);
    this.#registers.set(key, { owner, taken: step, since: step, confirmed: true, retired });
  }

  /**
   * Follows a register's run off its track: a step that follows the run's last goes on with it,
   * any other starts a new one (an event). A run that lasted becomes the register's new level.
   *
   * @returns Whether the telegram stays a glitch (no new level was taken).
   */
  #offTrack(
    state: RegisterState,
    { key, value, owner, unit }: RegisterReading,
    step: Step,
    elapsedMs: number,
    verdict: "fell" | "rose",
    events: RegisterEvent[],
  ): boolean {
    const other = owner !== undefined && state.owner !== undefined && owner !== state.owner;
    const off = state.off;
    if (off && judge(off.last, step, unit) === "follows") {
      off.last = step;
      off.telegrams++;
      off.otherMeter &&= other;
    } else {
      state.off = { first: step, last: step, telegrams: 1, otherMeter: other };
      events.push({ kind: verdict, key, from: state.taken.value, to: value, elapsedMs });
    }
    const run = state.off!;
    const lasted = elapsed(run.first, step);
    const reason = run.otherMeter
      ? `another meter, ${owner}`
      : !state.confirmed
      ? "no telegram followed the value before"
      : lasted >= RESET_AFTER_MS
      ? `for ${span(lasted)}`
      : undefined;
    if (run.telegrams < RESET_AFTER_TELEGRAMS || reason === undefined) return true;
    events.push({ kind: "new level", key, from: state.taken.value, to: value, reason });
    const next = owner ?? state.owner;
    const retired = next === state.owner ? state.retired : retire(state);
    this.#registers.set(key, { owner: next, taken: step, since: step, confirmed: true, retired });
    return false;
  }
}

/** The ids a register has had before, with its current owner's added (it is being replaced). */
function retire(state: RegisterState): ReadonlySet<string> {
  if (state.owner === undefined) return state.retired;
  return new Set([...state.retired, state.owner]);
}
