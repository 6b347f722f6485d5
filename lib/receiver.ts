/**
 * The receiver: source -> framer -> parser -> the latest valid telegram, subscribers and
 * counters. It never gives up on a device or network source: a source that is missing, goes
 * away, or stays silent too long is closed and reopened with exponential backoff, and each
 * state change is logged once, not every retry.
 *
 * @module
 */

import {
  DecryptingScanner,
  type DecryptionKeys,
  type FrameCounts,
  type FrameRejection,
} from "./dsmr/decryption.ts";
import { ChecksumError } from "./dsmr/errors.ts";
import { type FormatChoice, type FormatMode, formatMode, FORMATS } from "./dsmr/formats.ts";
import type { RawTelegram } from "./dsmr/framer.ts";
import { checkFormat } from "./dsmr/format_check.ts";
import type { Telegram } from "./dsmr/model.ts";
import { parseTelegram } from "./dsmr/parse.ts";
import { type Logger, SILENT } from "./log.ts";
import { CLOCK_JUMP_MS, MeterClock } from "./meter_clock.ts";
import { MeterInterval } from "./meter_interval.ts";
import { describeRegisterEvent, RegisterWatch } from "./meter_registers.ts";
import { type ByteSource, type ByteStream, sleep, SourceError } from "./source/source.ts";

/**
 * Where the receiver is: `connecting` (opening, or waiting to retry), `connected` (valid
 * telegrams arriving), `stale` (open, but no valid telegram within the stale limit), `ended`
 * (a file or stdin replay reached its end), `stopped`.
 */
export type ReceiverState = "idle" | "connecting" | "connected" | "stale" | "ended" | "stopped";

/**
 * Why a telegram does not follow the ones before: its meter clock jumped (see `MeterClock`), or a
 * register fell or grew faster than a meter counts (see `RegisterWatch`).
 */
export type Implausibility = "clock jump" | "register glitch";

/** A valid telegram as received. */
export interface ReceivedTelegram {
  /** The parsed telegram. */
  telegram: Telegram;
  /** Its bytes exactly as the meter sent them. */
  bytes: Uint8Array;
  /** When it was framed, in milliseconds since the epoch. */
  receivedAt: number;
  /**
   * Set when the telegram does not follow the ones before, and why: outputs that follow the meter's
   * clock and registers (the history and its costs, the thinned pushes to DSMR reader, MQTT and
   * InfluxDB) leave it out, and `/metrics` keeps its counters at the values taken before. Views of
   * the meter as it is now (the latest telegram, the gauges, the live stream) still show it.
   */
  implausible?: Implausibility;
}

/** What the receiver has counted since it started. */
export interface ReceiverCounters {
  /** Bytes read from the source. */
  bytesRead: number;
  /** Telegrams that passed the CRC check and parsed. */
  telegramsOk: number;
  /** Telegrams rejected for a wrong or missing CRC. */
  crcErrors: number;
  /** Telegrams rejected as unparsable. */
  parseErrors: number;
  /** Bytes dropped by the framer (garbage, incomplete and oversized telegrams). */
  discardedBytes: number;
  /** Telegrams dropped for exceeding the size limit. */
  oversized: number;
  /** Telegrams abandoned unfinished. */
  incomplete: number;
  /** Times the source was opened again after the first time. */
  reconnects: number;
  /** Encrypted (Smarty) frames, by outcome. */
  encryptedFrames: FrameCounts;
  /** Telegrams whose meter clock jumped (ahead of or behind the previous telegram's). */
  clockJumps: number;
  /** Telegrams with a register that fell or grew faster than a meter counts (see `RegisterWatch`). */
  registerGlitches: number;
  /**
   * Values of valid telegrams that did not fit their line's specification, each kept raw in the
   * telegram's `obis` view and listed in its `problems`, never in a named field.
   */
  valueProblems: number;
  /** When the last valid telegram arrived (ms since the epoch). */
  lastTelegramAt?: number;
  /** When the last telegram was rejected, and why. */
  lastRejection?: { at: number; reason: string };
  /** The last error of the source, while it is not connected. */
  lastError?: string;
}

/** Options for {@linkcode P1Receiver}. */
export interface ReceiverOptions {
  /** Where bytes come from (see `createSource`). */
  source: ByteSource;
  /**
   * The meter format: an id, `auto`, or a setting from `resolveFormat` (the original's names).
   * @default {"auto"}
   */
  format?: FormatChoice;
  /**
   * No valid telegram for this long marks the data stale.
   * @default {3 times the meter's interval: the gaps seen between telegrams, or the format's}
   */
  staleAfterMs?: number;
  /**
   * A source that stays open but delivers no valid telegram for this long is closed and reopened.
   * @default {the larger of 30 s and 3 times the stale limit}
   */
  reopenAfterMs?: number;
  /**
   * Reconnect backoff: the first wait, doubled after each failure up to the maximum.
   * @default {{ initialMs: 1000, maxMs: 30000 }}
   */
  backoff?: { initialMs?: number; maxMs?: number };
  /**
   * With several serial settings to try (`auto`), how long bytes may arrive without a valid
   * telegram before the next settings are tried.
   * @default {5000}
   */
  settingsProbeMs?: number;
  /**
   * Largest telegram kept, in bytes.
   * @default {16384}
   */
  maxTelegramBytes?: number;
  /** Where state changes and problems are logged. @default {silent} */
  logger?: Logger;
  /** Keys to decrypt the frames of a Luxembourg Smarty meter. @default {none} */
  decryption?: DecryptionKeys;
  /**
   * The source is a capture being imported, which may be captures joined in any order (`cat
   * march.txt january.txt`): where the meter's time goes back, the next one starts, and its clock
   * and registers are judged afresh, as if it were replayed alone (its registers, lower than the
   * last ones, are no glitch). @default {false}
   */
  joinedCaptures?: boolean;
}

/** A callback for telegrams or state changes. */
export type Listener<T> = (value: T) => void;

/**
 * Reads telegrams from a source for as long as it runs.
 *
 * @example Reading the demo meter
 * ```ts
 * import { P1Receiver } from "./receiver.ts";
 * import { DemoSource } from "./source/demo.ts";
 * import assert from "node:assert/strict";
 *
 * const receiver = new P1Receiver({ source: new DemoSource({ intervalMs: 10 }) });
 * receiver.start();
 * for await (const { telegram } of receiver) {
 *   assert.equal(telegram.format, "dsmr50");
 *   break;
 * }
 * await receiver.stop();
 * ```
 */
export class P1Receiver implements AsyncIterable<ReceivedTelegram> {
  readonly #source: ByteSource;
  readonly #format: FormatMode;
  readonly #log: Logger;
  readonly #scanner: DecryptingScanner;
  readonly #staleAfterMs: number | undefined;
  readonly #reopenAfterMs: number | undefined;
  readonly #backoffInitial: number;
  readonly #backoffMax: number;
  readonly #probeMs: number;
  readonly #counters = {
    bytesRead: 0,
    telegramsOk: 0,
    crcErrors: 0,
    parseErrors: 0,
    reconnects: 0,
    clockJumps: 0,
    registerGlitches: 0,
    valueProblems: 0,
  };
  readonly #listeners = new Set<Listener<ReceivedTelegram>>();
  readonly #stateListeners = new Set<Listener<ReceiverState>>();
  readonly #stopping = new AbortController();
  #clock: MeterClock;
  #registers = new RegisterWatch();
  readonly #joinedCaptures: boolean;
  /** The meter time of the last trusted telegram (see `joinedCaptures`). */
  #replayTime = -Infinity;
  readonly #interval = new MeterInterval();
  readonly #meterWarned = new Set<string>();
  #state: ReceiverState = "idle";
  #latest: ReceivedTelegram | undefined;
  #lastRejection: { at: number; reason: string } | undefined;
  #lastError: string | undefined;
  #lastLoggedError: string | undefined;
  #stream: ByteStream | undefined;
  #reopenReason: string | undefined;
  #connectedAt = 0;
  #bytesThisConnection = 0;
  #telegramsThisConnection = 0;
  #rejectionsLogged = 0;
  /** The last encrypted frame rejected: why, and how many frames had been decrypted by then. */
  #frameProblem: { kind: FrameRejection["kind"]; decrypted: number } | undefined;
  #formatChecked = false;
  #run: Promise<void> | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;

  /** Makes a receiver; nothing is opened until {@linkcode P1Receiver.start}. */
  constructor(options: ReceiverOptions) {
    this.#source = options.source;
    // A replay (a file, standard input) ends, and runs faster than the host's clock.
    this.#clock = new MeterClock({ replay: !options.source.endless });
    this.#joinedCaptures = options.joinedCaptures ?? false;
    this.#format = formatMode(options.format);
    this.#log = options.logger ?? SILENT;
    this.#scanner = new DecryptingScanner({
      ...(options.maxTelegramBytes === undefined ? {} : { maxBytes: options.maxTelegramBytes }),
      ...(options.decryption ? { keys: options.decryption } : {}),
      onRejection: (rejection) => this.#frameRejected(rejection),
    });
    this.#staleAfterMs = options.staleAfterMs;
    this.#reopenAfterMs = options.reopenAfterMs;
    this.#backoffInitial = options.backoff?.initialMs ?? 1000;
    this.#backoffMax = options.backoff?.maxMs ?? 30_000;
    this.#probeMs = options.settingsProbeMs ?? 5000;
  }

  /** The source's description, e.g. `serial /dev/ttyUSB0 115200 8N1`. */
  get source(): string {
    return this.#source.description;
  }

  /** The format setting as it was given (`auto`, an id or one of the original's names). */
  get format(): string {
    return this.#format.name;
  }

  /** Where the receiver is now. */
  get state(): ReceiverState {
    return this.#state;
  }

  /** The latest valid telegram, `undefined` before the first. */
  get latest(): ReceivedTelegram | undefined {
    return this.#latest;
  }

  /**
   * The limit after which data without a new telegram counts as stale, in milliseconds: three
   * times the interval the meter shows (see `MeterInterval`), unless set.
   */
  get staleAfterMs(): number {
    if (this.#staleAfterMs !== undefined) return this.#staleAfterMs;
    const configured = this.#format.kind === "fixed" ? this.#format.id : undefined;
    const id = this.#latest?.telegram.format ?? configured;
    const intervalSeconds = id === undefined ? 10 : FORMATS[id].intervalSeconds;
    return 3 * this.#interval.expectedMs(intervalSeconds * 1000);
  }

  /** The meter's registers as `/metrics` exports them as counters (see `RegisterWatch`). */
  get registers(): Pick<RegisterWatch, "counterValue"> {
    return this.#registers;
  }

  /** A snapshot of the counters. */
  get counters(): ReceiverCounters {
    const stats = this.#scanner.stats;
    const snapshot: ReceiverCounters = {
      ...this.#counters,
      discardedBytes: stats.discardedBytes,
      oversized: stats.oversized,
      incomplete: stats.incomplete,
      encryptedFrames: { ...this.#scanner.frames },
    };
    if (this.#latest) snapshot.lastTelegramAt = this.#latest.receivedAt;
    if (this.#lastRejection) snapshot.lastRejection = { ...this.#lastRejection };
    if (this.#lastError !== undefined && this.#state !== "connected") {
      snapshot.lastError = this.#lastError;
    }
    return snapshot;
  }

  /** Resolves when the receiver has stopped, or its replay source ended. */
  get finished(): Promise<void> {
    return this.#run ?? Promise.resolve();
  }

  /**
   * Calls `listener` with each new valid telegram, synchronously, in order.
   *
   * @param listener Receives each telegram; an exception it throws is logged and ignored.
   * @returns A function that unsubscribes.
   */
  subscribe(listener: Listener<ReceivedTelegram>): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Calls `listener` on each state change.
   *
   * @param listener Receives the new state.
   * @returns A function that unsubscribes.
   */
  onStateChange(listener: Listener<ReceiverState>): () => void {
    this.#stateListeners.add(listener);
    return () => this.#stateListeners.delete(listener);
  }

  /** Starts reading in the background; calling it again does nothing. */
  start(): void {
    if (this.#run) return;
    this.#timer = setInterval(() => this.#watch(), 250);
    this.#run = this.#loop().finally(() => {
      clearInterval(this.#timer);
      this.#timer = undefined;
    });
  }

  /** Stops reading, closes the source and ends every iterator. */
  async stop(): Promise<void> {
    this.#stopping.abort();
    const stream = this.#stream;
    if (stream) await stream.close();
    await this.#run;
    clearInterval(this.#timer);
    this.#setState("stopped");
  }

  /** New valid telegrams as they arrive; a consumer that falls 100 behind loses the oldest. */
  [Symbol.asyncIterator](): AsyncIterator<ReceivedTelegram> {
    const queue: ReceivedTelegram[] = [];
    let wake: (() => void) | undefined;
    const unsubscribe = this.subscribe((received) => {
      if (queue.length >= 100) queue.shift();
      queue.push(received);
      wake?.();
    });
    const unwatch = this.onStateChange((state) => {
      if (state === "stopped" || state === "ended") wake?.();
    });
    const finish = (): IteratorReturnResult<undefined> => {
      unsubscribe();
      unwatch();
      return { done: true, value: undefined };
    };
    return {
      next: async () => {
        while (queue.length === 0) {
          if (this.#state === "stopped" || this.#state === "ended") return finish();
          await new Promise<void>((resolve) => (wake = resolve));
          wake = undefined;
        }
        return { done: false, value: queue.shift()! };
      },
      return: () => Promise.resolve(finish()),
    };
  }

  #setState(state: ReceiverState): void {
    if (this.#state === state || this.#state === "stopped") return;
    const previous = this.#state;
    this.#state = state;
    const fields = { source: this.#source.description, from: previous };
    if (state === "stale") {
      this.#log.warn(`no valid telegram for ${this.staleAfterMs / 1000} s: data is stale`, fields);
    } else if (state !== "idle") {
      this.#log.info(state, fields);
    }
    for (const listener of this.#stateListeners) listener(state);
  }

  #noteError(error: unknown): void {
    const message = error instanceof Error ? error.message : String(error);
    this.#lastError = message;
    if (message === this.#lastLoggedError) return;
    this.#lastLoggedError = message;
    const hint = error instanceof SourceError ? error.hint : undefined;
    this.#log.error(message, hint ? { fix: hint } : {});
  }

  async #loop(): Promise<void> {
    const signal = this.#stopping.signal;
    let delay = this.#backoffInitial;
    let opened = false;
    while (!signal.aborted) {
      this.#setState("connecting");
      let stream: ByteStream;
      try {
        stream = await this.#source.open();
      } catch (error) {
        this.#noteError(error);
        if (!this.#source.endless) break;
        await sleep(delay, signal);
        delay = Math.min(delay * 2, this.#backoffMax);
        continue;
      }
      if (signal.aborted) {
        await stream.close();
        break;
      }
      if (opened) this.#counters.reconnects++;
      opened = true;
      this.#stream = stream;
      this.#lastLoggedError = undefined;
      for (const warning of stream.warnings) this.#log.warn(warning);
      this.#connectedAt = Date.now();
      this.#bytesThisConnection = 0;
      this.#telegramsThisConnection = 0;
      this.#log.info("opened", { source: this.#source.description });
      const ending = await this.#pump(stream);
      this.#stream = undefined;
      await stream.close();
      if (ending === "end" && !this.#source.endless) {
        for (const raw of await this.#scanner.flush()) this.#accept(raw);
        this.#setState("ended");
        return;
      }
      // A replay that failed (EIO, a directory, a pipe that cannot start again) would fail the same
      // way again: it ends with its error logged, instead of reopening the file for ever.
      if (ending === "error" && !this.#source.endless) break;
      this.#scanner.reset();
      if (signal.aborted) break;
      const reason = this.#reopenReason;
      this.#reopenReason = undefined;
      if (reason) {
        this.#log.warn(`reopening: ${reason}`, { source: this.#source.description });
        delay = this.#backoffInitial;
        continue;
      }
      if (this.#telegramsThisConnection > 0) delay = this.#backoffInitial;
      this.#setState("connecting");
      await sleep(delay, signal);
      delay = Math.min(delay * 2, this.#backoffMax);
    }
    if (!this.#source.endless && !signal.aborted) this.#setState("ended");
  }

  async #pump(stream: ByteStream): Promise<"end" | "error"> {
    while (!this.#stopping.signal.aborted) {
      let chunk: Uint8Array | null;
      try {
        chunk = await stream.read();
      } catch (error) {
        this.#noteError(error);
        return "error";
      }
      if (chunk === null) {
        if (this.#source.endless && !this.#reopenReason && !this.#stopping.signal.aborted) {
          this.#noteError(new SourceError(`${this.#source.description}: connection closed`, "EOF"));
        }
        return "end";
      }
      if (chunk.length === 0) continue;
      this.#counters.bytesRead += chunk.length;
      this.#bytesThisConnection += chunk.length;
      for (const raw of await this.#scanner.push(chunk)) this.#accept(raw);
    }
    return "end";
  }

  #accept(raw: RawTelegram): void {
    const receivedAt = Date.now();
    if (!this.#formatChecked) this.#checkFormat(raw);
    let telegram: Telegram;
    try {
      telegram = parseTelegram(raw, { format: this.#format });
    } catch (error) {
      if (error instanceof ChecksumError) this.#counters.crcErrors++;
      else this.#counters.parseErrors++;
      const reason = (error as Error).message;
      this.#lastRejection = { at: receivedAt, reason };
      // The first few rejections are logged as warnings; later ones only at debug level.
      if (this.#rejectionsLogged++ < 5) this.#log.warn(`telegram rejected: ${reason}`);
      else this.#log.debug(`telegram rejected: ${reason}`);
      return;
    }
    this.#counters.telegramsOk++;
    if (telegram.problems.length > 0) this.#valueProblems(telegram);
    this.#telegramsThisConnection++;
    this.#lastError = undefined;
    this.#source.confirmSettings?.();
    this.#source.telegramArrived?.();
    const received: ReceivedTelegram = { telegram, bytes: raw.bytes, receivedAt };
    this.#checkAcrossTelegrams(received);
    this.#latest = received;
    this.#setState("connected");
    for (const listener of this.#listeners) {
      try {
        listener(received);
      } catch (error) {
        this.#log.error("a telegram subscriber failed", { error: (error as Error).message });
      }
    }
  }

  /**
   * An encrypted frame gave no telegram: logged once for each run of the same problem, which a
   * frame decrypted in between ends.
   */
  #frameRejected(rejection: FrameRejection): void {
    this.#lastRejection = { at: Date.now(), reason: rejection.message };
    const line = `encrypted frame rejected: ${rejection.message}`;
    const problem = { kind: rejection.kind, decrypted: this.#scanner.frames.decrypted };
    const same = this.#frameProblem?.kind === problem.kind &&
      this.#frameProblem.decrypted === problem.decrypted;
    this.#frameProblem = problem;
    if (same) this.#log.debug(line);
    else this.#log.warn(line, { fix: rejection.fix });
  }

  /**
   * What only a sequence of telegrams shows: the meter's interval, and a clock that jumps or a
   * register that falls or races ahead (the telegram is flagged and counted). The registers of a
   * telegram whose clock jumped are not judged: its time says nothing about how far they may grow.
   */
  #checkAcrossTelegrams(received: ReceivedTelegram): void {
    const { telegram, receivedAt } = received;
    this.#interval.observe(receivedAt);
    const meterTime = telegram.timestamp?.epochMs ?? receivedAt;
    // Captures joined in any order: where the time goes back, the next one starts.
    if (this.#joinedCaptures && meterTime < this.#replayTime - CLOCK_JUMP_MS) {
      this.#clock = new MeterClock({ replay: true });
      this.#registers = new RegisterWatch();
    }
    const jump = this.#clock.check(meterTime, receivedAt);
    if (jump !== undefined) {
      received.implausible = "clock jump";
      this.#counters.clockJumps++;
      this.#warnOnce("clock", `${jump}: telegram left out of the history and pushes`);
      return;
    }
    // Only a time the clock trusts (not a garbled one) is where a capture's time goes back from.
    this.#replayTime = meterTime;
    const { glitch, events } = this.#registers.observe(telegram, receivedAt);
    for (const event of events) {
      this.#warnOnce(`${event.kind} ${event.key}`, describeRegisterEvent(event, telegram));
    }
    if (glitch) {
      received.implausible = "register glitch";
      this.#counters.registerGlitches++;
    }
  }

  /** Counts a telegram's values that did not fit their specification; logs the first few. */
  #valueProblems(telegram: Telegram): void {
    this.#counters.valueProblems += telegram.problems.length;
    for (const problem of telegram.problems) {
      this.#warnOnce(
        `problem ${problem.reference}`,
        `value of ${problem.reference} left out: ${problem.reason}`,
      );
    }
  }

  /**
   * Logs a meter problem as a warning the first time it happens, later at debug level: a meter
   * that glitches every few telegrams would otherwise fill the log (the counters count them all).
   */
  #warnOnce(problem: string, message: string): void {
    if (this.#meterWarned.has(problem)) return this.#log.debug(message);
    this.#meterWarned.add(problem);
    this.#log.warn(`${message} (further ones at debug level; see /api/v1/status)`);
  }

  /** Says once, at the first meter telegram, when the configured format is not the meter's. */
  #checkFormat(raw: RawTelegram): void {
    const check = checkFormat(this.#format, raw);
    if (check === undefined) return;
    this.#formatChecked = true;
    if (check.advice) this.#log[check.advice.level](check.advice.message);
  }

  /** Runs every 250 ms while reading: staleness, silent sources, serial settings probing. */
  #watch(): void {
    const stream = this.#stream;
    if (!stream || this.#reopenReason) return;
    const now = Date.now();
    const since = Math.max(this.#latest?.receivedAt ?? 0, this.#connectedAt);
    const stale = this.staleAfterMs;
    if (
      now - since > stale && (this.#state === "connected" || this.#telegramsThisConnection === 0)
    ) {
      if (this.#latest || this.#state === "connected") this.#setState("stale");
    }
    const reopenAfter = this.#reopenAfterMs ?? Math.max(30_000, 3 * stale);
    if (
      this.#source.nextSettings && this.#telegramsThisConnection === 0 &&
      this.#bytesThisConnection > 0 &&
      now - this.#connectedAt > this.#probeMs
    ) {
      const next = this.#source.nextSettings();
      if (next) {
        this.#reopenReason = `bytes but no valid telegram for ${
          this.#probeMs / 1000
        } s; trying ${next}`;
        void stream.close();
        return;
      }
    }
    if (this.#source.endless && now - since > reopenAfter) {
      this.#reopenReason = `no valid telegram for ${Math.round((now - since) / 1000)} s`;
      void stream.close();
    }
  }
}
