/**
 * The DSMR reader push: every telegram to push goes first into the durable queue and leaves it
 * only after DSMR reader answered 201 (or, for a telegram it can never accept, into the
 * dead-letter file). Delivery keeps meter order and never blocks the receiver.
 *
 * @module
 */

import { type Logger, SILENT } from "../log.ts";
import type { ReceivedTelegram } from "../receiver.ts";
import { sleep } from "../source/source.ts";
import { MeterTimeThinner } from "../thin.ts";
import {
  classifyResponse,
  type DsmrReaderApi,
  type PushItem,
  pushRequest,
  v2Fields,
} from "./dsmr_reader.ts";
import type { DurableQueue } from "./queue.ts";

/** Options for {@linkcode DsmrReaderPusher}. */
export interface PusherOptions {
  /** DSMR reader's base URL. */
  url: string;
  /** Its API key (never logged). */
  apiKey: string;
  /** Which API to push to. @default {"v1"} */
  api?: DsmrReaderApi;
  /** Request timeout. @default {3000} */
  timeoutMs?: number;
  /** Push at most one telegram per this many seconds of meter time (0: every one). @default {0} */
  intervalSeconds?: number;
  /** The durable queue. */
  queue: DurableQueue<PushItem>;
  /** Where refused telegrams are appended (JSON lines). */
  deadLetterPath: string;
  /** Backoff after transport errors and 5xx: doubling with jitter. @default {{ initialMs: 1000, maxMs: 300000 }} */
  backoff?: { initialMs?: number; maxMs?: number };
  /** Wait after 403/405 before trying again. @default {300000} */
  pauseMs?: number;
  /** Logs. */
  logger?: Logger;
}

/** What the pusher has done. */
export interface PushStats {
  /** Requests by outcome. */
  pushes: { delivered: number; deadLetter: number; paused: number; retry: number };
  /** Telegrams waiting. */
  queueLength: number;
  /** Bytes waiting. */
  queueBytes: number;
  /** When the oldest waiting telegram was queued (ms since the epoch). */
  oldestQueuedAt: number | undefined;
  /** Telegrams dropped because the queue was full. */
  dropped: number;
  /** Telegrams lost because they could not be written (to the queue, or to the dead-letter file). */
  lost: number;
  /** Queued telegrams skipped because their record in the queue file was damaged. */
  corruptSkipped: number;
  /** What fails to be written to the queue, while it fails. */
  queueWriteError: string | undefined;
  /** When DSMR reader last accepted a telegram (ms since the epoch). */
  lastSuccessAt: number | undefined;
  /** `idle`, `sending`, `retrying` or `paused`. */
  state: "idle" | "sending" | "retrying" | "paused";
}

/** Pushes telegrams to DSMR reader through a durable queue. */
export class DsmrReaderPusher {
  readonly #options: PusherOptions;
  readonly #queue: DurableQueue<PushItem>;
  readonly #log: Logger;
  readonly #api: DsmrReaderApi;
  readonly #stopping = new AbortController();
  readonly #counts = { delivered: 0, deadLetter: 0, paused: 0, retry: 0 };
  #lastSuccessAt: number | undefined;
  readonly #thinner: MeterTimeThinner;
  readonly #initialDelay: number;
  #state: PushStats["state"] = "idle";
  #wake: (() => void) | undefined;
  #queuedSinceLease = false;
  #enqueueing: Promise<unknown> = Promise.resolve();
  #loop: Promise<void> | undefined;
  #failureLogged: string | undefined;
  #deadLetterLost = 0;
  /** Whether the queue's write trouble has been logged and has not ended yet. */
  #inTrouble = false;
  /** Telegrams lost as of the last time the queue could write. */
  #lostWhenWell = 0;
  #corruptLogged = 0;

  /** Makes the pusher; {@linkcode DsmrReaderPusher.start} begins delivery. */
  constructor(options: PusherOptions) {
    this.#options = options;
    this.#queue = options.queue;
    this.#log = options.logger ?? SILENT;
    this.#api = options.api ?? "v1";
    this.#thinner = new MeterTimeThinner(options.intervalSeconds ?? 0);
    this.#initialDelay = options.backoff?.initialMs ?? 1000;
  }

  /** A snapshot of what the pusher has done. */
  get stats(): PushStats {
    const queue = this.#queue.stats;
    return {
      pushes: { ...this.#counts },
      queueLength: queue.length,
      queueBytes: queue.bytes,
      oldestQueuedAt: queue.oldestQueuedAt,
      dropped: queue.dropped,
      lost: queue.lost + this.#deadLetterLost,
      corruptSkipped: queue.corrupt,
      queueWriteError: queue.writeError,
      lastSuccessAt: this.#lastSuccessAt,
      state: this.#state,
    };
  }

  /**
   * Queues a telegram (thinned by meter time); returns once it is on disk.
   *
   * @param received The telegram as received.
   */
  offer(received: ReceivedTelegram): Promise<void> {
    const t = received.telegram;
    if (!this.#thinner.accept(received)) return this.#enqueueing.then(() => {});
    let item: PushItem;
    if (this.#api === "v1") {
      item = { api: "v1", telegram: t.raw };
    } else {
      const fields = v2Fields(t);
      if (!fields) {
        this.#log.debug("telegram lacks a field DSMR reader's v2 API requires; not pushed");
        return this.#enqueueing.then(() => {});
      }
      item = { api: "v2", fields };
    }
    this.#enqueueing = this.#enqueueing.then(async () => {
      try {
        const dropped = await this.#queue.push(item);
        if (dropped > 0) {
          this.#log.warn(`DSMR reader queue is full: dropped the ${dropped} oldest telegram(s)`, {
            dropped: this.#queue.stats.dropped,
          });
        }
        this.#queuedSinceLease = true;
        this.#wake?.();
      } catch {
        // The queue counted the telegram as lost; #watchQueue logs the trouble once.
      }
      this.#watchQueue();
    });
    return this.#enqueueing.then(() => {});
  }

  /** Starts delivering in the background. */
  start(): void {
    this.#watchQueue();
    if (this.#queue.length > 0) {
      this.#log.info(`DSMR reader queue: ${this.#queue.length} telegram(s) from before to deliver`);
    }
    this.#loop ??= this.#deliver();
  }

  /** Stops delivering; what is queued stays on disk for the next start. */
  async stop(): Promise<void> {
    this.#stopping.abort();
    this.#wake?.();
    await this.#enqueueing;
    await this.#loop;
    await this.#queue.close();
  }

  async #deliver(): Promise<void> {
    const signal = this.#stopping.signal;
    let delay = this.#initialDelay;
    while (!signal.aborted) {
      try {
        delay = await this.#deliverNext(delay);
      } catch (error) {
        // The queue could not be read back (an I/O error): its records stay; try again later.
        this.#queue.release();
        this.#state = "retrying";
        this.#logFailure(
          `DSMR reader queue failed (${(error as Error).message}); retrying with backoff`,
          "error",
        );
        delay = await this.#backOff(delay);
      }
    }
  }

  /**
   * Waits for the oldest queued telegram, sends it and acts on the answer.
   *
   * @param delay The backoff delay before the next retry.
   * @returns The backoff delay after this attempt.
   */
  async #deliverNext(delay: number): Promise<number> {
    const signal = this.#stopping.signal;
    this.#queuedSinceLease = false;
    const [record] = await this.#queue.lease();
    this.#watchQueue(); // leasing skips damaged records
    if (!record) {
      this.#state = "idle";
      if (this.#queuedSinceLease) return delay; // queued while we looked: no need to wait
      await new Promise<void>((resolve) => (this.#wake = resolve));
      this.#wake = undefined;
      return delay;
    }
    this.#state = "sending";
    const { outcome, detail } = await this.#send(record.item);
    if (signal.aborted && outcome !== "delivered") {
      this.#queue.release();
      return delay;
    }
    switch (outcome) {
      case "delivered":
        await this.#queue.remove(record.seq);
        this.#watchQueue();
        this.#counts.delivered++;
        this.#lastSuccessAt = Date.now();
        if (this.#failureLogged !== undefined) {
          this.#log.info(`DSMR reader accepts telegrams again; ${this.#queue.length} queued`);
          this.#failureLogged = undefined;
        }
        return this.#initialDelay;
      case "dead-letter":
        await this.#deadLetter(record, detail);
        await this.#queue.remove(record.seq);
        this.#watchQueue();
        this.#counts.deadLetter++;
        return delay;
      case "paused": {
        this.#queue.release();
        this.#counts.paused++;
        this.#state = "paused";
        const pause = this.#options.pauseMs ?? 300_000;
        this.#logFailure(
          `DSMR reader refused the push (${detail}): check the API key and that its API is enabled; ` +
            `retrying every ${pause / 1000} s, telegrams stay queued`,
          "error",
        );
        await sleep(pause, signal);
        return delay;
      }
      case "retry":
        this.#queue.release();
        this.#counts.retry++;
        this.#state = "retrying";
        this.#logFailure(
          `DSMR reader push failed (${detail}); retrying with backoff, telegrams stay queued`,
          "warn",
        );
        return await this.#backOff(delay);
    }
  }

  /** Sleeps for about `delay` (with jitter); returns the doubled delay, up to the maximum. */
  async #backOff(delay: number): Promise<number> {
    await sleep(delay * (0.5 + Math.random() / 2), this.#stopping.signal);
    return Math.min(delay * 2, this.#options.backoff?.maxMs ?? 300_000);
  }

  /**
   * Logs the queue's write trouble once when it begins and once when it ends (with the telegrams
   * lost meanwhile), and damaged records as they are skipped.
   */
  #watchQueue(): void {
    const { queueWriteError, lost, corruptSkipped } = this.stats;
    if (corruptSkipped > this.#corruptLogged) {
      this.#log.warn(
        `DSMR reader queue: skipped ${corruptSkipped - this.#corruptLogged} damaged record(s); ` +
          `the telegrams after them are kept`,
        { file: this.#queue.path },
      );
      this.#corruptLogged = corruptSkipped;
    }
    if (queueWriteError === undefined) {
      if (this.#inTrouble) {
        this.#log.info(
          `DSMR reader queue: writing works again; ${lost - this.#lostWhenWell} telegram(s) ` +
            `were lost meanwhile`,
        );
        this.#inTrouble = false;
      }
      this.#lostWhenWell = lost;
    } else if (!this.#inTrouble) {
      this.#inTrouble = true;
      this.#log.error(
        `DSMR reader queue: ${queueWriteError}; telegrams that cannot be queued are counted as ` +
          `lost, and writing is retried with every telegram`,
      );
    }
  }

  /** Logs a failure once until the next success (no line per retry). */
  #logFailure(message: string, level: "warn" | "error"): void {
    const kind = message.slice(0, 40);
    if (this.#failureLogged === kind) return;
    this.#failureLogged = kind;
    this.#log[level](message, { url: this.#options.url, queued: this.#queue.length });
  }

  async #send(
    item: PushItem,
  ): Promise<{ outcome: ReturnType<typeof classifyResponse>; detail: string }> {
    const { url, init } = pushRequest(this.#options.url, this.#options.apiKey, item);
    const timeout = this.#options.timeoutMs ?? 3000;
    try {
      const response = await fetch(url, {
        ...init,
        signal: AbortSignal.any([AbortSignal.timeout(timeout), this.#stopping.signal]),
      });
      const body = await response.text();
      const outcome = classifyResponse(response.status, body);
      return { outcome, detail: `${response.status} ${body.slice(0, 80).trim()}`.trim() };
    } catch (error) {
      const name = (error as Error).name;
      const detail = name === "TimeoutError"
        ? `no answer within ${timeout / 1000} s`
        : (error as Error).message;
      return { outcome: "retry", detail };
    }
  }

  /** Appends a refused telegram to the dead-letter file; one that cannot be written is lost. */
  async #deadLetter(
    record: { seq: number; queuedAt: number; item: PushItem },
    reason: string,
  ): Promise<void> {
    const file = this.#options.deadLetterPath;
    const line = `${JSON.stringify({ ...record, reason, at: new Date().toISOString() })}\n`;
    try {
      await Deno.writeTextFile(file, line, { append: true });
      this.#log.error(
        `DSMR reader refused a telegram for good (${reason}): moved to the dead-letter file`,
        { file },
      );
    } catch (error) {
      this.#deadLetterLost++;
      this.#log.error(
        `DSMR reader refused a telegram for good (${reason}), and it cannot be written to the ` +
          `dead-letter file (${(error as Error).message}): counted as lost`,
        { file },
      );
    }
  }
}
