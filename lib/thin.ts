/**
 * Thinning a telegram stream by meter time (not wall time), for outputs that want at most one
 * telegram per interval: a replayed capture thins the same way as a live meter.
 *
 * @module
 */

import type { ReceivedTelegram } from "./receiver.ts";

/**
 * Lets through at most one telegram per `intervalSeconds` of meter time. A telegram that does not
 * follow the ones before (`implausible`: a clock jump, a register glitch) is never let through; a
 * meter clock that was set back starts the count again from its new time, so thinning never waits
 * for the old time to return.
 */
export class MeterTimeThinner {
  readonly #intervalMs: number;
  #last: number | undefined;

  /** @param intervalSeconds 0 lets every telegram through. */
  constructor(intervalSeconds: number) {
    this.#intervalMs = intervalSeconds * 1000;
  }

  /**
   * Whether this telegram is let through (and counts as the latest one let through).
   *
   * @param received The telegram; its meter time, or its receive time when it has none.
   * @returns `true` to use it.
   */
  accept(received: ReceivedTelegram): boolean {
    if (received.implausible) return false;
    const time = received.telegram.timestamp?.epochMs ?? received.receivedAt;
    const last = this.#last;
    if (
      this.#intervalMs > 0 && last !== undefined && time >= last && time - last < this.#intervalMs
    ) {
      return false;
    }
    this.#last = time;
    return true;
  }
}
