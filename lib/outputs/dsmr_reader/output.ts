/**
 * The DSMR reader push: every telegram to push goes first into the durable queue and leaves it
 * only after DSMR reader answered 201 (or, for a telegram it can never accept, into the
 * dead-letter file). Delivery keeps meter order and never blocks the receiver. Its options, its
 * status and its metric families are here too.
 *
 * @module
 */

import { optionGroup, whenSet } from "../../config/option.ts";
import { nonEmpty, oneOf, positiveMilliseconds, seconds, url } from "../../config/readers.ts";
import { withoutTrailingSlash } from "../../config/readers.ts";
import { redactUrl } from "../../log.ts";
import type { ReceivedTelegram } from "../../receiver.ts";
import { MeterTimeThinner } from "../../thin.ts";
import type { Output, OutputContext, OutputDefinition, OutputMetric } from "../output.ts";
import { type DeliveryAnswer, QueueDelivery, sendRequest } from "../queue/delivery.ts";
import {
  classifyResponse,
  type DsmrReaderApi,
  type PushItem,
  pushRequest,
  v2Fields,
} from "./api.ts";

/** The push to DSMR reader, on when both its URL and its key are set. */
export const DSMR_READER_OPTIONS = optionGroup(
  {
    url: {
      name: "dsmr-reader-url",
      env: "P1READER_DSMR_READER_URL",
      value: "URL",
      help: "DSMR reader base URL, e.g. http://192.168.1.99:7777 (a proxy's user:password@ may " +
        "precede the host)",
      read: (given: string) =>
        withoutTrailingSlash(
          url(["http:", "https:"], "expected an http:// or https:// URL")(given),
        ),
    },
    apiKey: {
      name: "dsmr-reader-key",
      env: "P1READER_DSMR_READER_KEY",
      value: "KEY",
      help: "DSMR reader API key",
      secret: true,
      read: nonEmpty,
    },
    timeoutMs: {
      name: "dsmr-reader-timeout",
      env: "P1READER_DSMR_READER_TIMEOUT",
      default: "3",
      value: "SECONDS|hh:mm:ss",
      help: "DSMR reader request timeout",
      read: positiveMilliseconds,
    },
    api: {
      name: "dsmr-reader-api",
      env: "P1READER_DSMR_READER_API",
      default: "v1",
      value: "v1|v2",
      help:
        "v1 posts the raw telegram (DSMR reader parses everything); v2 posts fields, like the original",
      read: oneOf(["v1", "v2"]),
    },
    intervalSeconds: {
      name: "dsmr-reader-interval",
      env: "P1READER_DSMR_READER_INTERVAL",
      default: "0",
      value: "SECONDS",
      help: "push at most one telegram per this many seconds of meter time (0: every telegram)",
      read: seconds,
    },
  },
  (values) => ({ dsmrReader: whenSet(values, "url", "apiKey") }),
  { keys: ["url", "apiKey"], purpose: "to push to DSMR reader" },
);

/** Options for {@linkcode DsmrReaderOutput}. */
export interface DsmrReaderOptions {
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
  /** Backoff after transport errors and 5xx: doubling with jitter. @default {{ initialMs: 1000, maxMs: 300000 }} */
  backoff?: { initialMs?: number; maxMs?: number };
  /** Wait after 403/405 before trying again. @default {300000} */
  pauseMs?: number;
}

/** What the push has done. */
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
  /** Telegrams not queued because they came faster than the disk took them. */
  overrun: number;
  /** Queued telegrams skipped because their record in the queue file was damaged. */
  corruptSkipped: number;
  /** What fails to be written to the queue, while it fails. */
  queueWriteError: string | undefined;
  /** When DSMR reader last accepted a telegram (ms since the epoch). */
  lastSuccessAt: number | undefined;
  /** `idle`, `sending`, `retrying` or `paused`. */
  state: "idle" | "sending" | "retrying" | "paused";
}

/**
 * The push's part of `/api/v1/status`.
 *
 * @param stats A snapshot.
 * @param now The clock.
 * @returns Ages in seconds, times in ISO 8601, `null` for what is not known.
 */
export function pushStatus(stats: PushStats, now: number) {
  const { oldestQueuedAt, lastSuccessAt, queueWriteError, ...rest } = stats;
  return {
    ...rest,
    queueWriteError: queueWriteError ?? null,
    oldestQueuedAgeSeconds: oldestQueuedAt === undefined ? null : (now - oldestQueuedAt) / 1000,
    lastSuccessAt: lastSuccessAt === undefined ? null : new Date(lastSuccessAt).toISOString(),
  };
}

/** Pushes telegrams to DSMR reader through a durable queue. */
export class DsmrReaderOutput implements Output<PushStats> {
  /** Its key in `/api/v1/status`. */
  readonly name = "dsmrReader";
  /** Its `/metrics` families. */
  readonly metrics = DSMR_READER_METRICS;
  readonly #options: DsmrReaderOptions;
  readonly #api: DsmrReaderApi;
  readonly #thinner: MeterTimeThinner;
  readonly #delivery: QueueDelivery<PushItem>;
  #unsubscribe: (() => void) | undefined;
  #debug: (message: string) => void = () => {};

  /**
   * Makes the push; {@linkcode DsmrReaderOutput.start} opens its queue and begins delivery.
   *
   * @param options Where to push, how, and how often.
   */
  constructor(options: DsmrReaderOptions) {
    this.#options = options;
    this.#api = options.api ?? "v1";
    this.#thinner = new MeterTimeThinner(options.intervalSeconds ?? 0);
    this.#delivery = new QueueDelivery<PushItem>({
      name: "dsmr-reader",
      wording: {
        target: "DSMR reader",
        queue: "push queue",
        pausedHint: "check the API key and that its API is enabled",
        request: "push",
        items: "telegrams",
        refusedItem: "a telegram",
      },
      url: options.url,
      send: ([record], signal) => this.#send(record!.item, signal),
      pauseMs: options.pauseMs ?? 300_000,
      ...(options.backoff ? { backoff: options.backoff } : {}),
    });
  }

  /** Opens the queue in the data directory, subscribes to the receiver and starts delivering. */
  async start(context: OutputContext): Promise<void> {
    const log = context.logger;
    this.#debug = (message) => log.debug(message);
    await this.#delivery.open(context);
    log.info(`pushing to DSMR reader (API ${this.#api})`, {
      url: redactUrl(this.#options.url),
      dataDir: context.dataDir,
      queued: this.#delivery.length,
    });
    this.#unsubscribe = context.receiver.subscribe((received) => void this.offer(received));
    this.#delivery.start();
  }

  /** Stops delivering; what is queued stays on disk for the next start. */
  async stop(): Promise<void> {
    this.#unsubscribe?.();
    await this.#delivery.stop();
  }

  /** A snapshot of what the push has done. */
  stats(): PushStats {
    const { requests, queue, deadLetterLost, lastSuccessAt, state } = this.#delivery.stats;
    return {
      pushes: {
        delivered: requests.delivered,
        deadLetter: requests.refused,
        paused: requests.paused,
        retry: requests.retry,
      },
      queueLength: queue.length,
      queueBytes: queue.bytes,
      oldestQueuedAt: queue.oldestQueuedAt,
      dropped: queue.dropped,
      lost: queue.lost + deadLetterLost,
      overrun: queue.overrun,
      corruptSkipped: queue.corrupt,
      queueWriteError: queue.writeError,
      lastSuccessAt,
      state,
    };
  }

  /** Its part of `/api/v1/status`. */
  status(stats: PushStats, now: number): ReturnType<typeof pushStatus> {
    return pushStatus(stats, now);
  }

  /**
   * Queues a telegram (thinned by meter time); resolves once it is on disk.
   *
   * @param received The telegram as received.
   */
  offer(received: ReceivedTelegram): Promise<void> {
    if (!this.#thinner.accept(received)) return this.#delivery.settled();
    const t = received.telegram;
    if (this.#api === "v1") return this.#delivery.push({ api: "v1", telegram: t.raw });
    const fields = v2Fields(t);
    if (!fields) {
      this.#debug("telegram lacks a field DSMR reader's v2 API requires; not pushed");
      return this.#delivery.settled();
    }
    return this.#delivery.push({ api: "v2", fields });
  }

  async #send(item: PushItem, stopping: AbortSignal): Promise<DeliveryAnswer> {
    const { url, init } = pushRequest(this.#options.url, this.#options.apiKey, item);
    const answer = await sendRequest(url, init, this.#options.timeoutMs ?? 3000, stopping);
    if ("failure" in answer) return { outcome: "retry", detail: answer.failure };
    const { response, body } = answer;
    return {
      outcome: classifyResponse(response.status, body),
      detail: `${response.status} ${body.slice(0, 80).trim()}`.trim(),
    };
  }
}

/** The push's `/metrics` families. */
export const DSMR_READER_METRICS: readonly OutputMetric<PushStats>[] = [
  {
    name: "p1_dsmr_reader_pushes_total",
    help: "Requests to DSMR reader, by outcome",
    type: "counter",
    read: (s) => [
      { labels: { result: "delivered" }, value: s.pushes.delivered },
      { labels: { result: "dead_letter" }, value: s.pushes.deadLetter },
      { labels: { result: "paused" }, value: s.pushes.paused },
      { labels: { result: "retry" }, value: s.pushes.retry },
    ],
  },
  {
    name: "p1_dsmr_reader_queued_telegrams",
    help: "Telegrams waiting to be pushed",
    type: "gauge",
    read: (s) => [{ value: s.queueLength }],
  },
  {
    name: "p1_dsmr_reader_queued_bytes",
    help: "Bytes of the telegrams waiting to be pushed",
    type: "gauge",
    read: (s) => [{ value: s.queueBytes }],
  },
  {
    name: "p1_dsmr_reader_oldest_queued_age_seconds",
    help: "How long the oldest waiting telegram has waited",
    type: "gauge",
    read: (s) => [{
      value: s.oldestQueuedAt === undefined ? 0 : (Date.now() - s.oldestQueuedAt) / 1000,
    }],
  },
  {
    name: "p1_dsmr_reader_dropped_total",
    help: "Telegrams dropped because the push queue was full",
    type: "counter",
    read: (s) => [{ value: s.dropped }],
  },
  {
    name: "p1_dsmr_reader_lost_total",
    help: "Telegrams lost because they could not be written to the push queue or dead-letter file",
    type: "counter",
    read: (s) => [{ value: s.lost }],
  },
  {
    name: "p1_dsmr_reader_overrun_total",
    help: "Telegrams not queued because they came faster than the disk took them",
    type: "counter",
    read: (s) => [{ value: s.overrun }],
  },
  {
    name: "p1_dsmr_reader_corrupt_skipped_total",
    help: "Queued telegrams skipped because their record in the queue file was damaged",
    type: "counter",
    read: (s) => [{ value: s.corruptSkipped }],
  },
  {
    name: "p1_dsmr_reader_last_success_timestamp_seconds",
    help: "When DSMR reader last accepted a telegram",
    type: "gauge",
    read: (s) => (s.lastSuccessAt === undefined ? [] : [{ value: s.lastSuccessAt / 1000 }]),
  },
];

/** The DSMR reader push as the service's list of outputs holds it. */
export const DSMR_READER: OutputDefinition<
  typeof DSMR_READER_OPTIONS.rows,
  ReturnType<typeof DSMR_READER_OPTIONS.build>
> = {
  name: "dsmrReader",
  nullWhenOff: true,
  when: "only with `--dsmr-reader-url`",
  metrics: DSMR_READER_METRICS,
  options: DSMR_READER_OPTIONS,
  create: ({ dsmrReader }) => (dsmrReader ? new DsmrReaderOutput(dsmrReader) : undefined),
};
