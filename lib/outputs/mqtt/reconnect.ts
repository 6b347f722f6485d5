/**
 * When to try the broker again, and what a lost connection most likely meant. The wait between
 * attempts doubles up to a maximum, and starts again from the first wait only once a connection
 * has held for twice the maximum wait: a connection that merely opened proves nothing.
 *
 * A broker allows one connection per client id and closes the older one when another client
 * connects with the same id. Two readers with one id then take turns knocking each other off;
 * while each connect restarted the backoff, they did so every second, for ever. So a connection
 * the broker closes before it held, with no error on our side, followed by an attempt the broker
 * accepts at once (it was reachable all along), counts as taken over. Takeovers come in episodes
 * that end when a connection holds; the first takeover of an episode is the one worth logging.
 *
 * Pure: the publisher reports the client's events and the time.
 *
 * @module
 */

/** What a closed connection or a failed attempt was. */
export type Loss =
  /** A connection that had held, or had an error, is gone: the broker or network may be away. */
  | "lost"
  /** The broker closed a connection that had not held yet, with no error: maybe a takeover. */
  | "closed early"
  /** An attempt failed, and nothing has said yet that the broker is away. */
  | "unreachable"
  /** Another failed attempt of an outage already reported. */
  | "still unreachable";

/** What a connection just made follows. */
export interface Reconnection {
  /** The broker closed the previous connection early and accepted this attempt: taken over. */
  takenOver: boolean;
  /** The first takeover since a connection last held (the one to log). */
  firstOfEpisode: boolean;
}

/** The reconnect backoff and the takeover episodes of one client. */
export class ReconnectBackoff {
  readonly #initialMs: number;
  readonly #maxMs: number;
  #waitMs: number;
  #connectedAt: number | undefined;
  #errored = false;
  #closedEarly = false;
  #outageReported = false;
  #episode = false;
  #takeovers = 0;

  /**
   * Makes the backoff.
   *
   * @param initialMs The first wait, and the wait after a connection that held.
   * @param maxMs The longest wait.
   */
  constructor(initialMs: number, maxMs: number) {
    this.#initialMs = initialMs;
    this.#maxMs = Math.max(maxMs, initialMs);
    this.#waitMs = initialMs;
  }

  /** The wait before the attempt after the next loss. */
  get waitMs(): number {
    return this.#waitMs;
  }

  /** How long a connection must stay up to have held: twice the longest wait. */
  get holdMs(): number {
    return 2 * this.#maxMs;
  }

  /** Connections taken over so far. */
  get takeovers(): number {
    return this.#takeovers;
  }

  /** The broker accepted a connection at `now` (milliseconds). */
  connected(now: number): Reconnection {
    const takenOver = this.#closedEarly;
    const firstOfEpisode = takenOver && !this.#episode;
    if (takenOver) {
      this.#takeovers++;
      this.#episode = true;
    }
    this.#connectedAt = now;
    this.#errored = false;
    this.#closedEarly = false;
    this.#outageReported = false;
    return { takenOver, firstOfEpisode };
  }

  /** The client reported an error (on the connection, or of an attempt). */
  errored(): void {
    this.#errored = true;
  }

  /** The connection made at the last {@linkcode connected} held: the backoff starts again. */
  held(): { episodeEnded: boolean } {
    const episodeEnded = this.#episode;
    this.#episode = false;
    this.#waitMs = this.#initialMs;
    return { episodeEnded };
  }

  /** The connection, or an attempt, closed at `now`; the next wait doubles. */
  closed(now: number): Loss {
    const connectedAt = this.#connectedAt;
    this.#connectedAt = undefined;
    this.#waitMs = Math.min(this.#waitMs * 2, this.#maxMs);
    if (connectedAt === undefined) {
      this.#closedEarly = false;
      if (this.#outageReported) return "still unreachable";
      this.#outageReported = true;
      return "unreachable";
    }
    if (now - connectedAt < this.holdMs && !this.#errored) {
      this.#closedEarly = true;
      return "closed early";
    }
    this.#outageReported = true;
    return "lost";
  }
}
