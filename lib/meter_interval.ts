/**
 * MeterInterval: how often the meter really sends, from the gaps between the last valid
 * telegrams. The format's interval is what its specification says; a DSMR 4 meter read as DSMR 5,
 * or a meter behind a relay that passes every tenth telegram, sends less often than that, and a
 * stale limit taken from the format alone would call it stale between every two telegrams.
 *
 * @module
 */

/** Gaps kept: enough for an outage or a burst to be an outlier, few enough to follow a change. */
const GAPS_KEPT = 15;

/** The shortest interval assumed: no P1 meter sends more than one telegram a second. */
const SHORTEST_MS = 1000;

/**
 * The interval assumed before the second telegram shows a gap: the longest a P1 meter
 * usually takes (DSMR 2.2 to 4.2 send every 10 s), so that a slow meter's first gap is not
 * taken for silence.
 */
export const FIRST_GAP_ASSUMED_MS = 10_000;

/**
 * The gaps between telegrams, and the interval they show.
 *
 * @example A meter read as DSMR 5 (1 s) that sends every 10 s
 * ```ts
 * import { MeterInterval } from "./meter_interval.ts";
 * import assert from "node:assert/strict";
 *
 * const interval = new MeterInterval();
 * for (let t = 0; t <= 40_000; t += 10_000) interval.observe(t);
 * assert.equal(interval.expectedMs(1000), 10_000);
 * ```
 */
export class MeterInterval {
  readonly #gaps: number[] = [];
  #last: number | undefined;

  /**
   * Notes a valid telegram.
   *
   * @param receivedAt When it arrived (ms, host clock).
   */
  observe(receivedAt: number): void {
    if (this.#last !== undefined) {
      if (this.#gaps.length === GAPS_KEPT) this.#gaps.shift();
      this.#gaps.push(Math.max(0, receivedAt - this.#last));
    }
    this.#last = receivedAt;
  }

  /**
   * The interval to expect between telegrams.
   *
   * @param formatMs The format's interval.
   * @returns The upper median of the gaps seen (an outage or a burst does not move it; with two
   *   gaps the longer one, so that doubt makes the limit longer, not shorter) in whole seconds, as
   *   meters send, and at least 1 s; before any gap, the format's interval but at least
   *   {@linkcode FIRST_GAP_ASSUMED_MS}.
   */
  expectedMs(formatMs: number): number {
    if (this.#gaps.length === 0) return Math.max(formatMs, FIRST_GAP_ASSUMED_MS);
    const sorted = this.#gaps.toSorted((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)]!;
    return Math.max(Math.round(median / 1000) * 1000, SHORTEST_MS);
  }
}
