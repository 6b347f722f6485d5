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
  #state: PushStats["state"] = "idle";
  #wake: (() => void) | undefined;
  #queuedSincePeek = false;
  #enqueueing: Promise<unknown> = Promise.resolve();
  #loop: Promise<void> | undefined;
  #failureLogged: string | undefined;

  /** Makes the pusher; {@linkcode DsmrReaderPusher.start} begins delivery. */
  constructor(options: PusherOptions) {
    this.#options = options;
    this.#queue = options.queue;
    this.#log = options.logger ?? SILENT;
    this.#api = options.api ?? "v1";
    this.#thinner = new MeterTimeThinner(options.intervalSeconds ?? 0);
  }

  /** A snapshot of what the pusher has done. */
  get stats(): PushStats {
    return {
      pushes: { ...this.#counts },
      queueLength: this.#queue.length,
      queueBytes: this.#queue.bytes,
      oldestQueuedAt: this.#queue.oldestQueuedAt,
      dropped: this.#queue.dropped,
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
    const done = this.#enqueueing.then(async () => {
      const dropped = await this.#queue.push(item);
      if (dropped > 0) {
        this.#log.warn(`DSMR reader queue is full: dropped the ${dropped} oldest telegram(s)`, {
          dropped: this.#queue.dropped,
        });
      }
      this.#queuedSincePeek = true;
      this.#wake?.();
    });
    this.#enqueueing = done.catch((error) =>
      this.#log.error("cannot queue a telegram", { error: String(error) })
    );
    return this.#enqueueing.then(() => {});
  }

  /** Starts delivering in the background. */
  start(): void {
    if (this.#queue.tornBytes > 0) {
      this.#log.warn(
        `DSMR reader queue: skipped a torn last record (${this.#queue.tornBytes} bytes) from a crash`,
      );
    }
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
    const initial = this.#options.backoff?.initialMs ?? 1000;
    const max = this.#options.backoff?.maxMs ?? 300_000;
    let delay = initial;
    while (!signal.aborted) {
      this.#queuedSincePeek = false;
      const record = await this.#queue.peek();
      if (!record) {
        this.#state = "idle";
        if (this.#queuedSincePeek) continue; // queued while we looked: no need to wait
        await new Promise<void>((resolve) => (this.#wake = resolve));
        this.#wake = undefined;
        continue;
      }
      this.#state = "sending";
      const { outcome, detail } = await this.#send(record.item);
      if (signal.aborted && outcome !== "delivered") break;
      switch (outcome) {
        case "delivered":
          await this.#queue.remove(record.seq);
          this.#counts.delivered++;
          this.#lastSuccessAt = Date.now();
          if (this.#failureLogged !== undefined) {
            this.#log.info(`DSMR reader accepts telegrams again; ${this.#queue.length} queued`);
            this.#failureLogged = undefined;
          }
          delay = initial;
          break;
        case "dead-letter":
          await this.#deadLetter(record, detail);
          await this.#queue.remove(record.seq);
          this.#counts.deadLetter++;
          this.#log.error(
            `DSMR reader refused a telegram for good (${detail}): moved to the dead-letter file`,
            {
              file: this.#options.deadLetterPath,
            },
          );
          break;
        case "paused": {
          this.#counts.paused++;
          this.#state = "paused";
          const pause = this.#options.pauseMs ?? 300_000;
          this.#logFailure(
            `DSMR reader refused the push (${detail}): check the API key and that its API is enabled; ` +
              `retrying every ${pause / 1000} s, telegrams stay queued`,
            "error",
          );
          await sleep(pause, signal);
          break;
        }
        case "retry": {
          this.#counts.retry++;
          this.#state = "retrying";
          this.#logFailure(
            `DSMR reader push failed (${detail}); retrying with backoff, telegrams stay queued`,
            "warn",
          );
          await sleep(delay * (0.5 + Math.random() / 2), signal);
          delay = Math.min(delay * 2, max);
          break;
        }
      }
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

  async #deadLetter(
    record: { seq: number; queuedAt: number; item: PushItem },
    reason: string,
  ): Promise<void> {
    const line = `${JSON.stringify({ ...record, reason, at: new Date().toISOString() })}\n`;
    await Deno.writeTextFile(this.#options.deadLetterPath, line, { append: true });
  }
}
