/**
 * The delivery loop the pushes share (DSMR reader, InfluxDB): items go into a durable queue and
 * leave it only once the receiving end accepted them. The loop waits while the queue is empty,
 * sends the oldest records (up to a batch), and acts on the answer: accepted records are removed;
 * a batch refused for good is split in halves until the record at fault is alone, which goes to
 * the dead-letter file; an answer the user must act on pauses; anything else is retried with
 * doubling backoff and jitter. A failure is logged once until the next success, and the queue's
 * write trouble once when it begins and once when it ends; records dropped because the queue was
 * full, or refused because the disk fell behind the source, at most once a minute.
 *
 * Delivery keeps queue order and never blocks the receiver.
 *
 * @module
 */

import { type Logger, SILENT } from "../../log.ts";
import { sleep } from "../../source/source.ts";
import { type OutputContext, OutputStartError } from "../output.ts";
import { DurableQueue, type QueueRecord, type QueueStats } from "./queue.ts";

/** What an answer means for the records sent. */
export type DeliveryOutcome = "delivered" | "refused" | "paused" | "retry";

/** The receiving end's answer to one request. */
export interface DeliveryAnswer {
  /** Accepted; refused for good; needing the user (pause); or failed for now (retry). */
  outcome: DeliveryOutcome;
  /** What happened, for logs and the dead-letter file (no secrets). */
  detail: string;
  /** How long the server asked to wait, if it did. */
  retryAfterMs?: number | undefined;
}

/** What the log lines of a push say, in its own words. */
export interface DeliveryWording {
  /** Who receives, e.g. `DSMR reader`. */
  target: string;
  /** The queue as `--data-dir`'s error names it, e.g. `push queue`. */
  queue: string;
  /** What a paused push asks the user to check. */
  pausedHint: string;
  /** The request, e.g. `push` or `write`. */
  request: string;
  /** What is delivered, e.g. `telegrams` or `points`. */
  items: string;
  /** A refused record, e.g. `a telegram` or `a telegram's points`. */
  refusedItem: string;
}

/** Options for {@linkcode QueueDelivery}. */
export interface DeliveryOptions<T> {
  /** The queue's and the dead-letter file's names in the data directory, e.g. `dsmr-reader`. */
  name: string;
  /** How the log lines name things. */
  wording: DeliveryWording;
  /**
   * Sends records in one request.
   *
   * @param records The oldest queued records, at most a batch.
   * @param signal Aborted when the push stops.
   */
  send(records: readonly QueueRecord<T>[], signal: AbortSignal): Promise<DeliveryAnswer>;
  /** The receiving end's URL (logged redacted). */
  url: string;
  /** Most records in one request. @default {1} */
  batchMax?: number;
  /** How much one item counts (points in a telegram). @default {() => 1} */
  weigh?: (item: T) => number;
  /** Backoff after a failure: doubling with jitter. @default {{ initialMs: 1000, maxMs: 300000 }} */
  backoff?: { initialMs?: number; maxMs?: number };
  /** Wait after an answer the user must act on. */
  pauseMs: number;
  /** Logs. */
  logger?: Logger;
}

/** Requests by what their answer meant. */
export interface DeliveryCounts {
  /** Accepted. */
  delivered: number;
  /** Refused for good: split, or the record dead-lettered. */
  refused: number;
  /** Needing the user: retried after a pause. */
  paused: number;
  /** Failed for now: retried with backoff. */
  retry: number;
}

/** What a delivery has done. */
export interface DeliveryStats {
  /** `idle`, `sending`, `retrying` or `paused`. */
  state: "idle" | "sending" | "retrying" | "paused";
  /** Requests by outcome. */
  requests: DeliveryCounts;
  /** What the receiving end accepted, weighed by `weigh`. */
  delivered: number;
  /** What it refused for good and went to the dead-letter file, weighed by `weigh`. */
  deadLettered: number;
  /** Records refused for good that could not be written to the dead-letter file either. */
  deadLetterLost: number;
  /** The durable queue. */
  queue: QueueStats;
  /** When the receiving end last accepted a request (ms since the epoch). */
  lastSuccessAt: number | undefined;
}

const NO_QUEUE: QueueStats = {
  length: 0,
  bytes: 0,
  oldestQueuedAt: undefined,
  dropped: 0,
  lost: 0,
  overrun: 0,
  corrupt: 0,
  writeError: undefined,
};

/** A durable queue and the loop that empties it; see the module documentation. */
export class QueueDelivery<T> {
  readonly #options: DeliveryOptions<T>;
  readonly #words: DeliveryWording;
  readonly #stopping = new AbortController();
  readonly #requests: DeliveryCounts = { delivered: 0, refused: 0, paused: 0, retry: 0 };
  readonly #batchMax: number;
  readonly #initialDelay: number;
  readonly #maxDelay: number;
  readonly #weigh: (item: T) => number;
  #log: Logger;
  #queue: DurableQueue<T> | undefined;
  #deadLetterPath = "";
  #state: DeliveryStats["state"] = "idle";
  #delivered = 0;
  #deadLettered = 0;
  #deadLetterLost = 0;
  #lastSuccessAt: number | undefined;
  /** While a refused batch is split: the size of the next one, and the last record it held. */
  #batchLimit: number;
  #splitThrough = 0;
  #wake: (() => void) | undefined;
  #queuedSinceLease = false;
  /** The append the last push joined: the next one that joins another is followed up. */
  #lastAppend: Promise<boolean> | undefined;
  #loop: Promise<void> | undefined;
  #failureLogged: string | undefined;
  /** Whether the queue's write trouble has been logged and has not ended yet. */
  #inTrouble = false;
  /** Records lost as of the last time the queue could write. */
  #lostWhenWell = 0;
  #corruptLogged = 0;
  /** Drops and overruns as last logged, and when. */
  #droppedLogged = 0;
  #overrunLogged = 0;
  #loggedLossAt = -Infinity;
  /** When a record refused for good was last logged, and how many were refused since. */
  #deadLetterLoggedAt = -Infinity;
  #deadLettersUnlogged = 0;

  /**
   * Makes the delivery; {@linkcode QueueDelivery.open} opens its queue.
   *
   * @param options What to send, how, and how to log it.
   */
  constructor(options: DeliveryOptions<T>) {
    this.#options = options;
    this.#words = options.wording;
    this.#log = options.logger ?? SILENT;
    this.#batchMax = options.batchMax ?? 1;
    this.#batchLimit = this.#batchMax;
    this.#initialDelay = options.backoff?.initialMs ?? 1000;
    this.#maxDelay = options.backoff?.maxMs ?? 300_000;
    this.#weigh = options.weigh ?? (() => 1);
  }

  /**
   * Opens the queue in the data directory (what an earlier run left in it is delivered first).
   *
   * @param context The data directory, the queue's limits and where to log.
   * @throws {OutputStartError} When the queue cannot be kept there.
   */
  async open(
    context: Pick<OutputContext, "dataDir" | "claimDataDir" | "queue" | "logger">,
  ): Promise<void> {
    const { dataDir, queue: limits } = context;
    this.#log = context.logger;
    this.#deadLetterPath = `${dataDir}/${this.#options.name}.dead-letter.jsonl`;
    try {
      await context.claimDataDir();
      this.#queue = await DurableQueue.open<T>({
        dir: dataDir,
        name: this.#options.name,
        ...limits,
        signal: this.#stopping.signal,
      });
    } catch (error) {
      if (error instanceof OutputStartError) throw error;
      throw new OutputStartError(
        `--data-dir "${dataDir}": cannot keep the ${this.#words.queue} there: ${
          (error as Error).message
        }`,
      );
    }
  }

  /** Records waiting. */
  get length(): number {
    return this.#queue?.length ?? 0;
  }

  /** A snapshot of what it has done. */
  get stats(): DeliveryStats {
    return {
      state: this.#state,
      requests: { ...this.#requests },
      delivered: this.#delivered,
      deadLettered: this.#deadLettered,
      deadLetterLost: this.#deadLetterLost,
      queue: this.#queue?.stats ?? NO_QUEUE,
      lastSuccessAt: this.#lastSuccessAt,
    };
  }

  /**
   * Queues an item; resolves once it is on disk, or counted as lost or overrun.
   *
   * @param item What to deliver.
   */
  push(item: T): Promise<void> {
    const queue = this.#queue;
    if (!queue) return Promise.resolve();
    const appended = queue.push(item);
    // Items written together need one follow-up, not one each.
    if (appended !== this.#lastAppend) {
      this.#lastAppend = appended;
      appended.then((written) => {
        if (written) {
          this.#queuedSinceLease = true;
          this.#wake?.();
        }
        this.#watchQueue();
      });
    }
    return appended.then(() => {});
  }

  /** Resolves once every item queued so far is on disk, or counted as lost or overrun. */
  settled(): Promise<void> {
    return this.#queue?.settled() ?? Promise.resolve();
  }

  /** Starts delivering in the background. */
  start(): void {
    const queue = this.#queue;
    if (!queue) return;
    this.#watchQueue();
    if (queue.length > 0) {
      this.#log.info(
        `${this.#words.target} queue: ${queue.length} telegram(s) from before to deliver`,
      );
    }
    this.#loop ??= this.#deliver(queue);
  }

  /**
   * Stops delivering; what is queued stays on disk for the next start, and what waits to be
   * written (at most the queue's `maxWaiting`) is written first.
   */
  async stop(): Promise<void> {
    this.#stopping.abort();
    this.#wake?.();
    await this.#loop;
    await this.#queue?.close();
  }

  async #deliver(queue: DurableQueue<T>): Promise<void> {
    let delay = this.#initialDelay;
    while (!this.#stopping.signal.aborted) {
      try {
        delay = await this.#deliverNext(queue, delay);
      } catch (error) {
        // The queue could not be read back (an I/O error): its records stay; try again later.
        queue.release();
        this.#state = "retrying";
        this.#logFailure(
          `${this.#words.target} queue failed (${(error as Error).message}); retrying with backoff`,
          "error",
        );
        delay = await this.#backOff(delay, undefined);
      }
    }
  }

  /**
   * Waits for queued records, sends a batch of them and acts on the answer.
   *
   * @returns The backoff delay after this attempt.
   */
  async #deliverNext(queue: DurableQueue<T>, delay: number): Promise<number> {
    const words = this.#words;
    this.#queuedSinceLease = false;
    const records = await queue.lease(this.#batchLimit);
    this.#watchQueue(); // leasing skips damaged records
    const last = records.at(-1);
    if (!last) {
      this.#state = "idle";
      if (this.#queuedSinceLease) return delay; // queued while we looked: no need to wait
      await new Promise<void>((resolve) => (this.#wake = resolve));
      this.#wake = undefined;
      return delay;
    }
    this.#state = "sending";
    const answer = await this.#options.send(records, this.#stopping.signal);
    if (this.#stopping.signal.aborted && answer.outcome !== "delivered") {
      queue.release();
      return delay;
    }
    switch (answer.outcome) {
      case "delivered":
        await queue.remove(last.seq);
        this.#requests.delivered++;
        this.#delivered += this.#weight(records);
        this.#lastSuccessAt = Date.now();
        this.#splitDone(last.seq);
        if (this.#failureLogged !== undefined) {
          this.#log.info(
            `${words.target} accepts ${words.items} again: ${records.length} queued telegram(s) ` +
              `delivered, ${queue.length} still queued`,
          );
          this.#failureLogged = undefined;
        }
        this.#watchQueue();
        return this.#initialDelay;
      case "refused":
        this.#requests.refused++;
        if (records.length > 1) {
          // Find the record at fault: the next batches are halves of this one.
          queue.release();
          this.#splitThrough = Math.max(this.#splitThrough, last.seq);
          this.#batchLimit = Math.ceil(records.length / 2);
          return delay;
        }
        await this.#deadLetter(last, answer.detail);
        await queue.remove(last.seq);
        this.#deadLettered += this.#weight(records);
        this.#splitDone(last.seq);
        this.#watchQueue();
        return delay;
      case "paused": {
        queue.release();
        this.#requests.paused++;
        this.#state = "paused";
        const pause = Math.max(this.#options.pauseMs, answer.retryAfterMs ?? 0);
        this.#logFailure(
          `${words.target} refused the ${words.request} (${answer.detail}): ${words.pausedHint}; ` +
            `retrying every ${pause / 1000} s, ${words.items} stay queued`,
          "error",
        );
        await sleep(pause, this.#stopping.signal);
        return delay;
      }
      case "retry":
        queue.release();
        this.#requests.retry++;
        this.#state = "retrying";
        this.#logFailure(
          `${words.target} ${words.request} failed (${answer.detail}); retrying with backoff, ` +
            `${words.items} stay queued`,
          "warn",
        );
        return await this.#backOff(delay, answer.retryAfterMs);
    }
  }

  #weight(records: readonly QueueRecord<T>[]): number {
    return records.reduce((sum, record) => sum + this.#weigh(record.item), 0);
  }

  /** After a record through `seq` left the queue: a split batch is done once past its end. */
  #splitDone(seq: number): void {
    if (seq >= this.#splitThrough) this.#batchLimit = this.#batchMax;
  }

  /** Sleeps about `delay` (with jitter, at least what the server asked); returns the next delay. */
  async #backOff(delay: number, retryAfter: number | undefined): Promise<number> {
    const max = this.#maxDelay;
    const wait = Math.min(Math.max(delay * (0.5 + Math.random() / 2), retryAfter ?? 0), max);
    await sleep(wait, this.#stopping.signal);
    return Math.min(delay * 2, max);
  }

  /** Appends a refused record to the dead-letter file; one that cannot be written is lost. */
  async #deadLetter(record: QueueRecord<T>, reason: string): Promise<void> {
    const file = this.#deadLetterPath;
    const line = `${JSON.stringify({ ...record, reason, at: new Date().toISOString() })}\n`;
    const refused = `${this.#words.target} refused ${this.#words.refusedItem} for good (${reason})`;
    try {
      await Deno.writeTextFile(file, line, { append: true });
      this.#logDeadLetter(`${refused}: moved to the dead-letter file`, file);
    } catch (error) {
      this.#deadLetterLost++;
      this.#logDeadLetter(
        `${refused}, and it cannot be written to the dead-letter file (${
          (error as Error).message
        }): counted as lost`,
        file,
      );
    }
  }

  /**
   * Logs a record refused for good at most once a minute, saying how many went unlogged since: a
   * lasting refusal (a field type the database will not take) refuses every telegram.
   */
  #logDeadLetter(message: string, file: string): void {
    const now = Date.now();
    if (now - this.#deadLetterLoggedAt < 60_000) {
      this.#deadLettersUnlogged++;
      return;
    }
    const more = this.#deadLettersUnlogged;
    this.#log.error(more > 0 ? `${message} (and ${more} more in the last minute)` : message, {
      file,
    });
    this.#deadLetterLoggedAt = now;
    this.#deadLettersUnlogged = 0;
  }

  /** Logs a failure once until the next success (no line per retry). */
  #logFailure(message: string, level: "warn" | "error"): void {
    const kind = message.slice(0, 40);
    if (this.#failureLogged === kind) return;
    this.#failureLogged = kind;
    this.#log[level](message, { url: this.#options.url, queued: this.#queue?.length });
  }

  /**
   * Logs the queue's write trouble once when it begins and once when it ends (with the records
   * lost meanwhile), damaged records as they are skipped, and drops and overruns at most once a
   * minute.
   */
  #watchQueue(): void {
    const queue = this.#queue;
    if (!queue) return;
    const { writeError, corrupt, dropped, overrun } = queue.stats;
    const lost = queue.stats.lost + this.#deadLetterLost;
    const target = this.#words.target;
    const now = Date.now();
    if (
      (dropped > this.#droppedLogged || overrun > this.#overrunLogged) &&
      now - this.#loggedLossAt >= 60_000
    ) {
      if (dropped > this.#droppedLogged) {
        this.#log.warn(
          `${target} queue is full: dropped the ${dropped - this.#droppedLogged} oldest ` +
            "telegram(s)",
          { dropped },
        );
      }
      if (overrun > this.#overrunLogged) {
        this.#log.warn(
          `${target} queue: ${overrun - this.#overrunLogged} telegram(s) came faster than the ` +
            "disk took them and were not queued",
          { overrun },
        );
      }
      this.#droppedLogged = dropped;
      this.#overrunLogged = overrun;
      this.#loggedLossAt = now;
    }
    if (corrupt > this.#corruptLogged) {
      this.#log.warn(
        `${target} queue: skipped ${corrupt - this.#corruptLogged} damaged record(s); ` +
          "the telegrams after them are kept",
        { file: queue.path },
      );
      this.#corruptLogged = corrupt;
    }
    if (writeError === undefined) {
      if (this.#inTrouble) {
        this.#log.info(
          `${target} queue: writing works again; ${lost - this.#lostWhenWell} telegram(s) ` +
            "were lost meanwhile",
        );
        this.#inTrouble = false;
      }
      this.#lostWhenWell = lost;
    } else if (!this.#inTrouble) {
      this.#inTrouble = true;
      this.#log.error(
        `${target} queue: ${writeError}; telegrams that cannot be queued are counted as lost, ` +
          "and writing is retried with every telegram",
      );
    }
  }
}

/** The receiving end's answer to a request, or why there was none. */
export type HttpAnswer = { response: Response; body: string } | { failure: string };

/**
 * Sends one request of a push, giving up after `timeoutMs` or when the push stops.
 *
 * @param url Where to.
 * @param init The request.
 * @param timeoutMs How long to wait for the whole answer.
 * @param stopping Aborted when the push stops.
 * @returns The response and its body, or why there is none (`no answer within 3 s`).
 */
export async function sendRequest(
  url: string,
  init: RequestInit,
  timeoutMs: number,
  stopping: AbortSignal,
): Promise<HttpAnswer> {
  try {
    const response = await fetch(url, {
      ...init,
      signal: AbortSignal.any([AbortSignal.timeout(timeoutMs), stopping]),
    });
    return { response, body: await response.text() };
  } catch (error) {
    return {
      failure: (error as Error).name === "TimeoutError"
        ? `no answer within ${timeoutMs / 1000} s`
        : (error as Error).message,
    };
  }
}
