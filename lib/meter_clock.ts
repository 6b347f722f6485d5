/**
 * MeterClock: tells a meter clock that jumps from one that runs. Outputs that order telegrams by
 * meter time (thinning, the history, "today") follow the meter's clock; one telegram stamped
 * 2069 would otherwise put their notion of "now" 46 years ahead and every later telegram behind
 * it.
 *
 * A telegram's time is trusted when it follows the last trusted telegram's: not more than
 * {@linkcode CLOCK_JUMP_MS} behind it, and not more than that ahead of where the host's clock
 * says the meter should be by now. A telegram that does not is a jump, kept out of those
 * outputs. When the next telegram follows the jumped one rather than the old time, the meter's
 * clock was really set (or the host's clock was wrong at the start), and the new time is
 * trusted from then on: a glitch costs one telegram, a real change of the clock one telegram.
 *
 * The first telegram has nothing before it; it is checked against the host's clock, and only
 * for being ahead of it: a replayed capture is behind the host's clock by design.
 *
 * A replayed capture (a file or standard input) runs faster than the host's clock, so there the
 * elapsed time explains nothing: a telegram follows when it is not more than
 * {@linkcode REPLAY_JUMP_MS} ahead of the last trusted one, which lets a capture thinned to one
 * telegram every few minutes, or one holding a night of downtime, through, and still stops a
 * telegram stamped decades ahead.
 *
 * @module
 */

/** How far a meter's clock may move beyond what the elapsed time explains before it counts as a jump. */
export const CLOCK_JUMP_MS = 60_000;

/** How far ahead of the last trusted telegram a replayed one may be before it counts as a jump. */
export const REPLAY_JUMP_MS = 86_400_000;

/** Options for {@linkcode MeterClock}. */
export interface MeterClockOptions {
  /**
   * The telegrams come from a replay (a file or standard input), which runs faster than the
   * host's clock: a telegram may then be up to {@linkcode REPLAY_JUMP_MS} ahead of the last one.
   * @default {false}
   */
  replay?: boolean;
}

/** A telegram's clock reading: the meter's time and the host's time when it arrived. */
interface Reading {
  meterMs: number;
  receivedAt: number;
}

/**
 * Whether `next` follows `from`: its meter time moved about as far as the host's time did (in a
 * replay, at most `replayAheadMs` ahead).
 */
function follows(from: Reading, next: Reading, replayAheadMs: number): boolean {
  const moved = next.meterMs - from.meterMs;
  const elapsed = Math.max(0, next.receivedAt - from.receivedAt, replayAheadMs);
  return moved >= -CLOCK_JUMP_MS && moved <= elapsed + CLOCK_JUMP_MS;
}

/** Describes an instant for a log line: ISO time in UTC, to the second. */
function instant(ms: number): string {
  return Number.isFinite(ms) ? new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z") : String(ms);
}

/**
 * Follows one meter's clock through its telegrams.
 *
 * @example A one-telegram glitch is a jump; the telegram after it is trusted again
 * ```ts
 * import { MeterClock } from "./meter_clock.ts";
 * import assert from "node:assert/strict";
 *
 * const clock = new MeterClock();
 * const start = Date.UTC(2024, 0, 15, 9);
 * assert.equal(clock.check(start, start), undefined);
 * assert.match(clock.check(Date.UTC(2069, 11, 31), start + 1000)!, /jumped \d+ d ahead/);
 * assert.equal(clock.check(start + 2000, start + 2000), undefined);
 * ```
 */
export class MeterClock {
  readonly #replayAheadMs: number;
  #trusted: Reading | undefined;
  #jumped: Reading | undefined;

  /** Makes a clock that trusts nothing yet; see {@linkcode MeterClockOptions}. */
  constructor(options: MeterClockOptions = {}) {
    this.#replayAheadMs = options.replay ? REPLAY_JUMP_MS : 0;
  }

  /**
   * Checks a telegram's time.
   *
   * @param meterMs The meter's time of the telegram (its receive time when it has none).
   * @param receivedAt When it arrived, by the host's clock.
   * @returns `undefined` when the time is trusted, else why it is not (for the log).
   */
  check(meterMs: number, receivedAt: number): string | undefined {
    const reading = { meterMs, receivedAt };
    const trusted = this.#trusted;
    const ahead = this.#replayAheadMs;
    const ok = trusted ? follows(trusted, reading, ahead) : meterMs - receivedAt <= CLOCK_JUMP_MS;
    if (ok || (this.#jumped && follows(this.#jumped, reading, ahead))) {
      this.#trusted = reading;
      this.#jumped = undefined;
      return undefined;
    }
    this.#jumped = reading;
    const [from, what] = trusted
      ? [trusted.meterMs + Math.max(0, receivedAt - trusted.receivedAt), "the previous telegram"]
      : [receivedAt, "this host's clock"];
    return `the meter's clock jumped ${describeSpan(Math.abs(meterMs - from))} ${
      meterMs > from ? "ahead" : "back"
    } (${instant(meterMs)}; expected about ${instant(from)} from ${what})`;
  }
}

/** A length of time in the largest whole unit that fits: `3 s`, `12 min`, `5 h`, `16802 d`. */
function describeSpan(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172_800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86_400)} d`;
}
