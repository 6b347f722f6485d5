/**
 * The InfluxDB output: every telegram (thinned by meter time when asked) becomes points in line
 * protocol, which go into the durable queue the DSMR reader push also uses, one record per
 * telegram, and leave it only once the database accepted them. Writes are batches of up to a
 * thousand telegrams (about five thousand points, the batch size InfluxDB recommends), so a
 * backlog after an outage is sent in a few requests; live, each telegram is written as it comes.
 *
 * A batch the database refuses for good (400, 413, 422) is split in halves until the telegram
 * at fault is alone; that one goes to the dead-letter file, the others are written. Writing a
 * point twice is harmless: its timestamp is the meter's, so it overwrites itself.
 *
 * @module
 */

import { redactUrl } from "../../log.ts";
import type { ReceivedTelegram } from "../../receiver.ts";
import { MeterTimeThinner } from "../../thin.ts";
import type { Output, OutputContext, OutputDefinition } from "../output.ts";
import { type DeliveryAnswer, QueueDelivery, sendRequest } from "../queue/delivery.ts";
import { classifyWrite, type InfluxTarget, retryAfterMs, writeRequest } from "./client.ts";
import { formatLine } from "./line_protocol.ts";
import { telegramPoints } from "./points.ts";
import { INFLUX_OPTIONS, type InfluxSettings } from "./settings.ts";
import { INFLUX_METRICS, type InfluxStats, influxStatus } from "./stats.ts";

/** One queued telegram: its points as lines of line protocol. */
export interface InfluxItem {
  /** How many points (lines). */
  points: number;
  /** The lines, separated by `\n`. */
  lines: string;
}

/** Options for {@linkcode InfluxOutput}. */
export interface InfluxOutputOptions extends InfluxSettings {
  /** Most telegrams in one write. @default {1000} */
  batchTelegrams?: number;
  /** Backoff after no answer, 429 and 5xx: doubling with jitter. @default {{ initialMs: 1000, maxMs: 300000 }} */
  backoff?: { initialMs?: number; maxMs?: number };
  /** Wait after an answer the user must act on (401, 403, 404). @default {60000} */
  pauseMs?: number;
}

/** Writes every reading to InfluxDB or VictoriaMetrics; see the module documentation. */
export class InfluxOutput implements Output<InfluxStats> {
  /** Its key in `/api/v1/status`. */
  readonly name = "influx";
  /** Its `/metrics` families. */
  readonly metrics = INFLUX_METRICS;
  readonly #options: InfluxOutputOptions;
  readonly #target: InfluxTarget;
  readonly #thinner: MeterTimeThinner;
  readonly #delivery: QueueDelivery<InfluxItem>;
  /** Event lines of the telegram queued last: the meter repeats them unchanged. */
  #lastEvents = new Set<string>();
  #unsubscribe: (() => void) | undefined;

  /**
   * Makes the output; {@linkcode InfluxOutput.start} opens its queue and begins writing.
   *
   * @param options Where to write, thinning, batches.
   */
  constructor(options: InfluxOutputOptions) {
    this.#options = options;
    this.#target = options.target;
    this.#thinner = new MeterTimeThinner(options.intervalSeconds);
    this.#delivery = new QueueDelivery<InfluxItem>({
      name: "influx",
      wording: {
        target: "InfluxDB",
        queue: "InfluxDB queue",
        pausedHint: "check --influx-url, the database or bucket, and the credentials",
        request: "write",
        items: "points",
        refusedItem: "a telegram's points",
      },
      url: options.target.url,
      send: (records, signal) =>
        this.#send(records.map((record) => record.item.lines).join("\n"), signal),
      batchMax: options.batchTelegrams ?? 1000,
      weigh: (item) => item.points,
      pauseMs: options.pauseMs ?? 60_000,
      ...(options.backoff ? { backoff: options.backoff } : {}),
    });
  }

  /** Opens the queue in the data directory, subscribes to the receiver and starts writing. */
  async start(context: OutputContext): Promise<void> {
    await this.#delivery.open(context);
    const target = this.#target;
    context.logger.info(`writing to InfluxDB (API ${target.api})`, {
      url: redactUrl(target.url),
      ...(target.api === "v1" ? { db: target.db } : { org: target.org, bucket: target.bucket }),
      queued: this.#delivery.length,
    });
    this.#unsubscribe = context.receiver.subscribe((received) => void this.offer(received));
    this.#delivery.start();
  }

  /** Stops writing; what is queued stays on disk for the next start. */
  async stop(): Promise<void> {
    this.#unsubscribe?.();
    await this.#delivery.stop();
  }

  /** A snapshot of what it has done. */
  stats(): InfluxStats {
    const { requests, delivered, deadLettered, ...rest } = this.#delivery.stats;
    return {
      api: this.#target.api,
      state: rest.state,
      writes: {
        written: requests.delivered,
        refused: requests.refused,
        paused: requests.paused,
        retry: requests.retry,
      },
      pointsWritten: delivered,
      pointsDeadLettered: deadLettered,
      deadLetterLost: rest.deadLetterLost,
      queue: rest.queue,
      lastSuccessAt: rest.lastSuccessAt,
    };
  }

  /** Its part of `/api/v1/status`. */
  status(stats: InfluxStats, now: number): ReturnType<typeof influxStatus> {
    return influxStatus(stats, now);
  }

  /**
   * Queues a telegram's points (thinned by meter time); resolves once they are on disk.
   *
   * @param received The telegram as received.
   */
  offer(received: ReceivedTelegram): Promise<void> {
    if (!this.#thinner.accept(received)) return this.#delivery.settled();
    const { reading, events } = telegramPoints(received.telegram, received.receivedAt);
    const eventLines = events.map(formatLine).filter((line) => line !== undefined);
    const lines = [
      ...reading.map(formatLine).filter((line) => line !== undefined),
      ...eventLines.filter((line) => !this.#lastEvents.has(line)),
    ];
    this.#lastEvents = new Set(eventLines);
    if (lines.length === 0) return this.#delivery.settled();
    return this.#delivery.push({ points: lines.length, lines: lines.join("\n") });
  }

  async #send(body: string, stopping: AbortSignal): Promise<DeliveryAnswer> {
    const { url, init } = writeRequest(this.#target, body);
    const answer = await sendRequest(url, init, this.#options.timeoutMs, stopping);
    if ("failure" in answer) {
      return { outcome: "retry", detail: this.#withoutSecrets(answer.failure) };
    }
    const { response, body: text } = answer;
    const outcome = classifyWrite(response.status);
    return {
      outcome: outcome === "written" ? "delivered" : outcome,
      detail: this.#withoutSecrets(`${response.status} ${text.slice(0, 200).trim()}`.trim()),
      retryAfterMs: retryAfterMs(response.headers.get("retry-after")),
    };
  }

  /** A server's answer or an error, with the token or password (should it be echoed) hidden. */
  #withoutSecrets(text: string): string {
    const target = this.#target;
    let safe = redactUrl(text);
    for (const secret of [target.token, target.api === "v1" ? target.password : undefined]) {
      if (secret) safe = safe.replaceAll(secret, "***");
    }
    return safe;
  }
}

/** The InfluxDB output as the service's list of outputs holds it. */
export const INFLUX: OutputDefinition<
  typeof INFLUX_OPTIONS.rows,
  ReturnType<typeof INFLUX_OPTIONS.build>
> = {
  name: "influx",
  when: "only with `--influx-url`",
  metrics: INFLUX_METRICS,
  options: INFLUX_OPTIONS,
  create: ({ influx }) => (influx ? new InfluxOutput(influx) : undefined),
};
