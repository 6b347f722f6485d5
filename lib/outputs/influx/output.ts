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

import { type Logger, redactUrl, SILENT } from "../../log.ts";
import { DurableQueue, type QueueRecord } from "../../push/queue.ts";
import type { ReceivedTelegram } from "../../receiver.ts";
import { sleep } from "../../source/source.ts";
import { MeterTimeThinner } from "../../thin.ts";
import { type Output, type OutputContext, OutputStartError } from "../output.ts";
import { classifyWrite, type InfluxTarget, retryAfterMs, writeRequest } from "./client.ts";
import type { WriteOutcome } from "./client.ts";
import { formatLine } from "./line_protocol.ts";
import { telegramPoints } from "./points.ts";
import type { InfluxSettings } from "./settings.ts";
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
  /** Most telegrams the queue keeps. @default {200000} */
  queueMax?: number;
  /** Most bytes the queue keeps. @default {268435456} */
  queueMaxBytes?: number;
  /** Most telegrams in one write. @default {1000} */
  batchTelegrams?: number;
  /** Backoff after no answer, 429 and 5xx: doubling with jitter. @default {{ initialMs: 1000, maxMs: 300000 }} */
  backoff?: { initialMs?: number; maxMs?: number };
  /** Wait after an answer the user must act on (401, 403, 404). @default {60000} */
  pauseMs?: number;
}

/** The queue's and the dead-letter file's names in the data directory. */
const FILE_NAME = "influx";

/** Writes every reading to InfluxDB or VictoriaMetrics; see the module documentation. */
export class InfluxOutput implements Output<InfluxStats> {
  /** Its key in `/api/v1/status`. */
  readonly name = "influx";
  /** Its `/metrics` families. */
  readonly metrics = INFLUX_METRICS;
  readonly #options: InfluxOutputOptions;
  readonly #target: InfluxTarget;
  readonly #thinner: MeterTimeThinner;
  readonly #stopping = new AbortController();
  readonly #writes = { written: 0, refused: 0, paused: 0, retry: 0 };
  readonly #batchMax: number;
  readonly #initialDelay: number;
  #queue: DurableQueue<InfluxItem> | undefined;
  #log: Logger = SILENT;
  #deadLetterPath = "";
  #pointsWritten = 0;
  #pointsDeadLettered = 0;
  #deadLetterLost = 0;
  #lastSuccessAt: number | undefined;
  #state: InfluxStats["state"] = "idle";
  /** Event lines of the telegram queued last: the meter repeats them unchanged. */
  #lastEvents = new Set<string>();
  /** While a refused batch is split: the size of the next one, and the last telegram it held. */
  #batchLimit: number;
  #splitThrough = 0;
  #wake: (() => void) | undefined;
  #queuedSinceLease = false;
  #enqueueing: Promise<unknown> = Promise.resolve();
  #loop: Promise<void> | undefined;
  #unsubscribe: (() => void) | undefined;
  #failureLogged: string | undefined;
  #queueTrouble: string | undefined;
  #corruptLogged = 0;

  /**
   * Makes the output; {@linkcode InfluxOutput.start} opens its queue and begins writing.
   *
   * @param options Where to write, thinning, queue limits.
   */
  constructor(options: InfluxOutputOptions) {
    this.#options = options;
    this.#target = options.target;
    this.#thinner = new MeterTimeThinner(options.intervalSeconds);
    this.#batchMax = options.batchTelegrams ?? 1000;
    this.#batchLimit = this.#batchMax;
    this.#initialDelay = options.backoff?.initialMs ?? 1000;
  }

  /** Opens the queue in the data directory, subscribes to the receiver and starts writing. */
  async start(context: OutputContext): Promise<void> {
    this.#log = context.logger;
    this.#deadLetterPath = `${context.dataDir}/${FILE_NAME}.dead-letter.jsonl`;
    try {
      this.#queue = await DurableQueue.open<InfluxItem>({
        dir: context.dataDir,
        name: FILE_NAME,
        ...(this.#options.queueMax ? { maxRecords: this.#options.queueMax } : {}),
        ...(this.#options.queueMaxBytes ? { maxBytes: this.#options.queueMaxBytes } : {}),
      });
    } catch (error) {
      throw new OutputStartError(
        `--data-dir "${context.dataDir}": cannot keep the InfluxDB queue there: ${
          (error as Error).message
        }`,
      );
    }
    const target = this.#target;
    this.#log.info(`writing to InfluxDB (API ${target.api})`, {
      url: redactUrl(target.url),
      ...(target.api === "v1" ? { db: target.db } : { org: target.org, bucket: target.bucket }),
      queued: this.#queue.length,
    });
    this.#watchQueue();
    this.#unsubscribe = context.receiver.subscribe((received) => void this.offer(received));
    this.#loop ??= this.#deliver(this.#queue);
  }

  /** Stops writing; what is queued stays on disk for the next start. */
  async stop(): Promise<void> {
    this.#unsubscribe?.();
    this.#stopping.abort();
    this.#wake?.();
    await this.#enqueueing;
    await this.#loop;
    await this.#queue?.close();
  }

  /** A snapshot of what it has done. */
  stats(): InfluxStats {
    return {
      api: this.#target.api,
      state: this.#state,
      writes: { ...this.#writes },
      pointsWritten: this.#pointsWritten,
      pointsDeadLettered: this.#pointsDeadLettered,
      deadLetterLost: this.#deadLetterLost,
      queue: this.#queue?.stats ?? {
        length: 0,
        bytes: 0,
        oldestQueuedAt: undefined,
        dropped: 0,
        lost: 0,
        corrupt: 0,
        writeError: undefined,
      },
      lastSuccessAt: this.#lastSuccessAt,
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
    const queue = this.#queue;
    if (!queue || !this.#thinner.accept(received)) return this.#enqueueing.then(() => {});
    const { reading, events } = telegramPoints(received.telegram, received.receivedAt);
    const eventLines = events.map(formatLine).filter((line) => line !== undefined);
    const lines = [
      ...reading.map(formatLine).filter((line) => line !== undefined),
      ...eventLines.filter((line) => !this.#lastEvents.has(line)),
    ];
    this.#lastEvents = new Set(eventLines);
    if (lines.length === 0) return this.#enqueueing.then(() => {});
    const item: InfluxItem = { points: lines.length, lines: lines.join("\n") };
    this.#enqueueing = this.#enqueueing.then(async () => {
      try {
        const dropped = await queue.push(item);
        if (dropped > 0) {
          this.#log.warn(`InfluxDB queue is full: dropped the ${dropped} oldest telegram(s)`, {
            dropped: queue.stats.dropped,
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

  async #deliver(queue: DurableQueue<InfluxItem>): Promise<void> {
    let delay = this.#initialDelay;
    while (!this.#stopping.signal.aborted) {
      try {
        delay = await this.#deliverNext(queue, delay);
      } catch (error) {
        // The queue could not be read back (an I/O error): its records stay; try again later.
        queue.release();
        this.#state = "retrying";
        this.#logFailure(`InfluxDB queue failed (${(error as Error).message}); retrying`, "error");
        delay = await this.#backOff(delay, undefined);
      }
    }
  }

  /**
   * Waits for queued telegrams, writes a batch of them and acts on the answer.
   *
   * @returns The backoff delay after this attempt.
   */
  async #deliverNext(queue: DurableQueue<InfluxItem>, delay: number): Promise<number> {
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
    const answer = await this.#send(records.map((record) => record.item.lines).join("\n"));
    if (this.#stopping.signal.aborted && answer.outcome !== "written") {
      queue.release();
      return delay;
    }
    const points = records.reduce((sum, record) => sum + record.item.points, 0);
    switch (answer.outcome) {
      case "written":
        await queue.remove(last.seq);
        this.#writes.written++;
        this.#pointsWritten += points;
        this.#lastSuccessAt = Date.now();
        this.#splitDone(last.seq);
        if (this.#failureLogged !== undefined) {
          this.#log.info(`InfluxDB accepts points again; ${queue.length} telegram(s) queued`);
          this.#failureLogged = undefined;
        }
        this.#watchQueue();
        return this.#initialDelay;
      case "refused":
        this.#writes.refused++;
        if (records.length > 1) {
          // Find the telegram at fault: the next batches are halves of this one.
          queue.release();
          this.#splitThrough = Math.max(this.#splitThrough, last.seq);
          this.#batchLimit = Math.ceil(records.length / 2);
          return delay;
        }
        await this.#deadLetter(last, answer.detail);
        await queue.remove(last.seq);
        this.#pointsDeadLettered += points;
        this.#splitDone(last.seq);
        this.#watchQueue();
        return delay;
      case "paused": {
        queue.release();
        this.#writes.paused++;
        this.#state = "paused";
        const pause = Math.max(this.#options.pauseMs ?? 60_000, answer.retryAfterMs ?? 0);
        this.#logFailure(
          `InfluxDB refused the write (${answer.detail}): check --influx-url, the database or ` +
            `bucket, and the credentials; retrying every ${pause / 1000} s, points stay queued`,
          "error",
        );
        await sleep(pause, this.#stopping.signal);
        return delay;
      }
      case "retry":
        queue.release();
        this.#writes.retry++;
        this.#state = "retrying";
        this.#logFailure(
          `InfluxDB write failed (${answer.detail}); retrying with backoff, points stay queued`,
          "warn",
        );
        return await this.#backOff(delay, answer.retryAfterMs);
    }
  }

  /** After a telegram through `seq` left the queue: a split batch is done once past its end. */
  #splitDone(seq: number): void {
    if (seq >= this.#splitThrough) this.#batchLimit = this.#batchMax;
  }

  /** Sleeps about `delay` (with jitter, at least what the server asked); returns the next delay. */
  async #backOff(delay: number, retryAfter: number | undefined): Promise<number> {
    const max = this.#options.backoff?.maxMs ?? 300_000;
    const wait = Math.min(Math.max(delay * (0.5 + Math.random() / 2), retryAfter ?? 0), max);
    await sleep(wait, this.#stopping.signal);
    return Math.min(delay * 2, max);
  }

  async #send(
    body: string,
  ): Promise<{ outcome: WriteOutcome; detail: string; retryAfterMs?: number | undefined }> {
    const { url, init } = writeRequest(this.#target, body);
    const timeout = this.#options.timeoutMs;
    try {
      const response = await fetch(url, {
        ...init,
        signal: AbortSignal.any([AbortSignal.timeout(timeout), this.#stopping.signal]),
      });
      const text = await response.text();
      return {
        outcome: classifyWrite(response.status),
        detail: this.#withoutSecrets(`${response.status} ${text.slice(0, 200).trim()}`.trim()),
        retryAfterMs: retryAfterMs(response.headers.get("retry-after")),
      };
    } catch (error) {
      const detail = (error as Error).name === "TimeoutError"
        ? `no answer within ${timeout / 1000} s`
        : this.#withoutSecrets((error as Error).message);
      return { outcome: "retry", detail };
    }
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

  /** Appends a refused telegram to the dead-letter file; one that cannot be written is lost. */
  async #deadLetter(record: QueueRecord<InfluxItem>, reason: string): Promise<void> {
    const file = this.#deadLetterPath;
    const line = `${JSON.stringify({ ...record, reason, at: new Date().toISOString() })}\n`;
    try {
      await Deno.writeTextFile(file, line, { append: true });
      this.#log.error(
        `InfluxDB refused a telegram's points for good (${reason}): moved to the dead-letter file`,
        { file },
      );
    } catch (error) {
      this.#deadLetterLost++;
      this.#log.error(
        `InfluxDB refused a telegram's points for good (${reason}), and they cannot be written ` +
          `to the dead-letter file (${(error as Error).message}): counted as lost`,
        { file },
      );
    }
  }

  /** Logs a failure once until the next success (no line per retry). */
  #logFailure(message: string, level: "warn" | "error"): void {
    const kind = message.slice(0, 40);
    if (this.#failureLogged === kind) return;
    this.#failureLogged = kind;
    this.#log[level](message, { url: redactUrl(this.#target.url), queued: this.#queue?.length });
  }

  /** Logs the queue's write trouble when it begins and ends, and damaged records it skipped. */
  #watchQueue(): void {
    const queue = this.#queue;
    if (!queue) return;
    const { writeError, corrupt } = queue.stats;
    if (corrupt > this.#corruptLogged) {
      this.#log.warn(
        `InfluxDB queue: skipped ${corrupt - this.#corruptLogged} damaged record(s); ` +
          "the telegrams after them are kept",
        { file: queue.path },
      );
      this.#corruptLogged = corrupt;
    }
    if (writeError === this.#queueTrouble) return;
    if (writeError === undefined) {
      this.#log.info("InfluxDB queue: writing works again", { lost: queue.stats.lost });
    } else if (this.#queueTrouble === undefined) {
      this.#log.error(
        `InfluxDB queue: ${writeError}; telegrams that cannot be queued are counted as lost, ` +
          "and writing is retried with every telegram",
      );
    }
    this.#queueTrouble = writeError;
  }
}

/**
 * The output for its settings, or `undefined` when `--influx-url` is not set.
 *
 * @param settings The `influx` part of the configuration.
 * @param queue The shared push queue limits (`--queue-max`, `--queue-max-bytes`).
 * @returns The output.
 */
export function createInfluxOutput(
  settings: InfluxSettings | undefined,
  queue: { queueMax: number; queueMaxBytes: number },
): InfluxOutput | undefined {
  return settings ? new InfluxOutput({ ...settings, ...queue }) : undefined;
}
