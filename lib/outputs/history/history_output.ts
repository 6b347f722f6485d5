/**
 * The energy history as an output: it gathers each minute of telegrams in memory and writes the
 * minutes to the database in one transaction, as soon as a minute is over (at most one write a
 * second while a capture replays fast), when the meter stops sending, and when the service stops.
 * A crash loses at most the minute being gathered; the registers' difference across it is still
 * counted when readings come back.
 *
 * A write that fails (a full disk) is counted and retried with the next one; up to a day of
 * minutes waits in memory, and beyond that the oldest go (counted: their usage is still counted,
 * as a gap). A database found damaged, at start or while writing, is moved aside and a new one
 * started.
 *
 * @module
 */

import type { Hono } from "hono";
import { FORMATS, isFormatId } from "../../dsmr/formats.ts";
import { CENTRAL_EUROPEAN_TIME, type TimeZoneRule } from "../../dsmr/values.ts";
import { type HistoryAnswer, type HistoryPoint, MemoryHistoryOutput } from "./memory.ts";
import { type Logger, SILENT } from "../../log.ts";
import { HISTORY_OPTIONS } from "./options.ts";
import {
  type Output,
  type OutputContext,
  type OutputDefinition,
  type OutputMetric,
  OutputStartError,
  type ReceiverView,
} from "../output.ts";
import type { ReceivedTelegram, ReceiverState } from "../../receiver.ts";
import { MeterCalendar, meterNow } from "./calendar.ts";
import { MinuteBuilder, type MinuteRecord } from "./minute.ts";
import type { Prices } from "./prices.ts";
import { CLOCK_JUMP_MS } from "../../meter_clock.ts";
import { factsOf } from "./readings.ts";
import { historyRoutes } from "./routes.ts";
import { HistoryStore, isCorruption, isDiskFull } from "./store.ts";
import { readUsageQuery, type UsageAnswer, usageOf } from "./usage.ts";

/** A minute of `/api/v1/history`: the dashboard's point, with the minute's power extremes. */
export interface MinutePoint extends HistoryPoint {
  /** The lowest and highest import power of the minute (W). */
  importWMin?: number;
  importWMax?: number;
  /** The lowest and highest export power of the minute (W). */
  exportWMin?: number;
  exportWMax?: number;
}

/** The history's part of the configuration. */
export interface HistoryConfig {
  /** The database file; absent: `history.sqlite` in the data directory. */
  readonly database: string | undefined;
  /** Days the per-minute rows are kept. */
  readonly minuteDays: number;
  /** The prices costs are worked out with. */
  readonly prices: Prices;
}

/** What the history has done. */
export interface HistoryStats {
  /** The database file, once started. */
  database: string | undefined;
  /** Its size with its write-ahead log (bytes). */
  databaseBytes: number | undefined;
  /** Telegrams taken in. */
  telegrams: number;
  /**
   * Telegrams ignored because their meter time went back before the minute being gathered (in an
   * import, where a time that goes back starts a new run, those that lay ahead of the host's clock).
   */
  lateTelegrams: number;
  /** Minute rows written. */
  minutesWritten: number;
  /** Minutes waiting to be written. */
  pendingMinutes: number;
  /** Minutes dropped unwritten because writes kept failing (their usage still counts, as a gap). */
  minutesDropped: number;
  /** Writes that failed, and how many of them for a full disk. */
  writeErrors: number;
  /** Of those, for a full disk. */
  diskFullErrors: number;
  /** When a write last succeeded (ms since the epoch). */
  lastWriteAt: number | undefined;
  /** The last write error, until a write succeeds again. */
  lastError: { at: number; message: string } | undefined;
  /** Damaged database files moved aside since start, where each went. */
  movedAside: string[];
}

/** Options for tests and the import command. */
export interface HistoryOutputOptions {
  /** Least time between two writes (ms). @default {1000} */
  writeSpacingMs?: number;
  /** Most minutes written in one transaction, and kept in memory while writes fail. @default {1440} */
  maxPendingMinutes?: number;
  /** The clock. @default {Date.now} */
  now?: () => number;
  /**
   * Whether the telegrams come from a capture being imported as fast as it can be read. The
   * receiver judges the meter's clock by the host's, which such a replay outruns (a capture thinned
   * to one telegram a minute would be all clock jumps): its meter times are then followed as they
   * are, and only a time ahead of the host's clock, which no recorded telegram can have, is left
   * out. @default {false}
   */
  capture?: boolean;
  /**
   * Called once when a write fails, instead of keeping the minutes to retry with the next write:
   * the output then takes no more telegrams and writes nothing more. An import stops there (on a
   * full disk every later write would fail as well), and the readings written before are kept.
   */
  onWriteFailure?: (error: Error) => void;
}

const NOT_STARTED = "the history database is not open";

/** The history output; see the module documentation. */
export class HistoryOutput implements Output<HistoryStats> {
  /** Its key in `/api/v1/status`. */
  readonly name = "history";
  readonly #config: HistoryConfig;
  readonly #spacingMs: number;
  readonly #maxPending: number;
  readonly #now: () => number;
  readonly #capture: boolean;
  readonly #onWriteFailure: ((error: Error) => void) | undefined;
  /** A write failed and `onWriteFailure` was called: nothing more is taken or written. */
  #halted = false;
  readonly #builder = new MinuteBuilder();
  #pending: MinuteRecord[] = [];
  #store: HistoryStore | undefined;
  #path: string | undefined;
  #zone: TimeZoneRule = CENTRAL_EUROPEAN_TIME;
  #log: Logger = SILENT;
  #receiver: ReceiverView | undefined;
  #unsubscribe: (() => void)[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #lastWriteAttempt = -Infinity;
  /** The database's size as measured after it was opened or last written (not at every scrape). */
  #databaseBytes = 0;
  #futureTelegrams = 0;
  #loggedError: string | undefined;
  readonly #stats: Omit<
    HistoryStats,
    "database" | "databaseBytes" | "pendingMinutes" | "lateTelegrams"
  > = {
    telegrams: 0,
    minutesWritten: 0,
    minutesDropped: 0,
    writeErrors: 0,
    diskFullErrors: 0,
    lastWriteAt: undefined,
    lastError: undefined,
    movedAside: [],
  };

  /**
   * Makes the output; nothing is opened until it starts.
   *
   * @param config Its part of the configuration.
   * @param options Timing and bounds.
   */
  constructor(config: HistoryConfig, options: HistoryOutputOptions = {}) {
    this.#config = config;
    this.#spacingMs = options.writeSpacingMs ?? 1000;
    this.#maxPending = options.maxPendingMinutes ?? 1440;
    this.#now = options.now ?? Date.now;
    this.#capture = options.capture ?? false;
    this.#onWriteFailure = options.onWriteFailure;
  }

  /** Opens the database and subscribes to the receiver. */
  async start(context: OutputContext): Promise<void> {
    this.#log = context.logger;
    this.#receiver = context.receiver;
    const path = this.#config.database ?? `${context.dataDir.replace(/\/+$/, "")}/history.sqlite`;
    this.#path = path;
    const option = this.#config.database === undefined
      ? `--data-dir "${context.dataDir}"`
      : `--history-db "${path}"`;
    try {
      if (this.#config.database === undefined) await context.claimDataDir();
      const dir = path.includes("/") ? path.slice(0, path.lastIndexOf("/")) || "/" : ".";
      Deno.mkdirSync(dir, { recursive: true });
      this.#open();
    } catch (error) {
      if (error instanceof OutputStartError) throw error; // another service holds the directory
      if (!isDiskFull(error)) {
        throw new OutputStartError(
          `${option}: cannot keep the history in ${path}: ${(error as Error).message} ` +
            `(or turn it off with --history off)`,
        );
      }
      this.#failed(error);
    }
    this.#unsubscribe = [
      context.receiver.subscribe((received) => this.#take(received)),
      context.receiver.onStateChange((state) => this.#stateChanged(state)),
    ];
    this.#log.info("keeping the energy history", { database: path });
  }

  /** Writes what is gathered and closes the database. */
  stop(): Promise<void> {
    for (const unsubscribe of this.#unsubscribe) unsubscribe();
    this.#unsubscribe = [];
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#closeMinute();
    this.#write();
    this.#store?.close();
    this.#store = undefined;
    return Promise.resolve();
  }

  /** A snapshot of what it has done. */
  stats(): HistoryStats {
    return {
      ...this.#stats,
      movedAside: [...this.#stats.movedAside],
      database: this.#path,
      databaseBytes: this.#store ? this.#databaseBytes : undefined,
      pendingMinutes: this.#pending.length,
      lateTelegrams: this.#builder.late + this.#futureTelegrams,
    };
  }

  /** Its part of `/api/v1/status`. */
  status(stats: HistoryStats): unknown {
    const { database, databaseBytes, lastWriteAt, lastError, ...rest } = stats;
    return {
      database: database ?? null,
      databaseBytes: databaseBytes ?? null,
      ...rest,
      lastWriteAt: lastWriteAt === undefined ? null : new Date(lastWriteAt).toISOString(),
      lastError: lastError
        ? { at: new Date(lastError.at).toISOString(), message: lastError.message }
        : null,
    };
  }

  /** Its `/metrics` families. */
  readonly metrics: readonly OutputMetric<HistoryStats>[] = HISTORY_METRICS;

  /** Adds `/api/v1/usage`, `/api/v1/usage.csv` and `/api/v1/history`. */
  routes(app: Hono): void {
    historyRoutes(app, this);
  }

  /** The meter's calendar (its zone rule, as written last). */
  #calendar(store: HistoryStore): MeterCalendar {
    return new MeterCalendar(store.zone() ?? this.#zone);
  }

  /**
   * Answers a usage question.
   *
   * @param params The query parameters `from`, `to`, `step`.
   * @returns The answer.
   * @throws {UsageQueryError} For bad parameters.
   * @throws {Error} While the database is not open.
   */
  usage(params: { from?: string; to?: string; step?: string }): UsageAnswer {
    const store = this.#openStore();
    const calendar = this.#calendar(store);
    const newest = store.newestReading() ?? this.#now();
    const first = store.oldestReading() ?? newest;
    const query = readUsageQuery(params, calendar.date(newest), calendar.date(first).slice(0, 4));
    return usageOf(store, calendar, this.#config.prices, query);
  }

  /**
   * The last `minutes` minutes, per minute, the usage of the newest minute's day, and which day
   * is today, from the database.
   *
   * @param minutes How far back from the newest minute.
   * @returns The same answer before and after a restart (on the same day).
   */
  history(minutes: number): HistoryAnswer {
    const store = this.#openStore();
    const calendar = this.#calendar(store);
    const currentDay = calendar.date(meterNow(this.#receiver, this.#now()));
    const newest = store.newestReading();
    if (newest === undefined) return { resolution: "minute", points: [], today: null, currentDay };
    const from = newest - minutes * 60_000;
    const gas = store.mbusReadings("gas", from - 2 * 3_600_000, newest);
    let g = 0;
    const points = store.minutes(from, newest).map((row) => {
      const point: MinutePoint = { time: row.minute, day: calendar.date(row.minute) };
      const [imp, exp] = row.power;
      if (imp) [point.importW, point.importWMin, point.importWMax] = imp;
      if (exp) [point.exportW, point.exportWMin, point.exportWMax] = exp;
      const phases = [1, 2, 3].map((phase) => {
        const a = row.power[phase * 2];
        const b = row.power[phase * 2 + 1];
        return a || b ? (a?.[0] ?? 0) - (b?.[0] ?? 0) : null;
      });
      if (phases.some((watts) => watts !== null)) point.phasesW = phases;
      const sum = (direction: "import" | "export") => {
        const values = Object.entries(row.registers).filter(([key]) => key.startsWith(direction));
        return values.length === 0
          ? undefined
          : Math.round(values.reduce((total, [, value]) => total + value, 0) * 1000) / 1000;
      };
      const importKwh = sum("import");
      const exportKwh = sum("export");
      if (importKwh !== undefined) point.importKwh = importKwh;
      if (exportKwh !== undefined) point.exportKwh = exportKwh;
      while (g < gas.length && gas[g]!.time < row.minute + 60_000) g++;
      const reading = gas[g - 1];
      if (reading) point.gasM3 = reading.value;
      return point;
    });
    const day = calendar.date(newest);
    const today = this.usage({ from: day, to: day, step: "day" }).total;
    return {
      resolution: "minute",
      points,
      today: {
        day,
        importKwh: today.import?.total ?? null,
        exportKwh: today.export?.total ?? null,
        gasM3: today.gas,
      },
      currentDay,
    };
  }

  /** The open database; one closed after an error is opened again (a 503 when that fails). */
  #openStore(): HistoryStore {
    if (this.#store) return this.#store;
    if (this.#path === undefined) throw new Error(NOT_STARTED);
    return this.#open();
  }

  /** Opens the database; a damaged one is moved aside. */
  #open(): HistoryStore {
    const { store, movedAside } = HistoryStore.open(this.#path!, this.#now());
    if (movedAside) {
      this.#stats.movedAside.push(movedAside);
      this.#log.error("the history database was damaged: moved it aside and started a new one", {
        database: this.#path,
        movedTo: movedAside,
      });
    }
    this.#store = store;
    this.#databaseBytes = store.sizeBytes;
    return store;
  }

  #take(received: ReceivedTelegram): void {
    if (this.#halted) return;
    // A meter clock that jumped would misplace the telegram, a register glitch count as usage
    // what the meter never counted (the receiver counts both). A capture's clock is its own.
    if (received.implausible === "register glitch") return;
    if (received.implausible && !this.#capture) return;
    const facts = factsOf(received.telegram, received.receivedAt);
    if (this.#capture && facts.time > this.#now() + CLOCK_JUMP_MS) {
      this.#futureTelegrams++;
      return;
    }
    if (isFormatId(facts.format)) this.#zone = FORMATS[facts.format].zone;
    this.#stats.telegrams++;
    // Captures joined in any order (`cat march.txt january.txt`): where the time goes back, a new
    // run starts, as if it were the next file; the store places each run's readings in its history.
    if (this.#capture && facts.time < this.#builder.newestTime) {
      const last = this.#builder.restart();
      if (last) this.#enqueue(last);
    }
    const closed = this.#builder.add(facts);
    if (closed) this.#enqueue(closed);
  }

  #enqueue(minute: MinuteRecord): void {
    this.#pending.push(minute);
    if (this.#timer !== undefined && this.#pending.length < this.#maxPending) return;
    const wait = this.#lastWriteAttempt + this.#spacingMs - this.#now();
    // A fast replay fills a batch before the spacing is over: it is written at once.
    if (wait <= 0 || this.#pending.length >= this.#maxPending) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#write();
    } else {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        this.#write();
      }, wait);
    }
  }

  #stateChanged(state: ReceiverState): void {
    if (state === "connected") return;
    // The replay ended or the service stops: no more telegrams for the open minute.
    if (state === "ended" || state === "stopped") this.#closeMinute();
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#write();
  }

  #closeMinute(): void {
    const last = this.#builder.close();
    if (last) this.#pending.push(last);
  }

  /**
   * Writes the pending minutes, each run of them in time order in one transaction (an import's
   * capture may go back in time); a failure keeps the rest for the next write.
   */
  #write(): void {
    this.#lastWriteAttempt = this.#now();
    if (this.#pending.length === 0 || this.#halted) return;
    try {
      const store = this.#store ?? this.#open();
      while (this.#pending.length > 0) {
        let end = 1;
        while (
          end < this.#pending.length && this.#pending[end]!.minute > this.#pending[end - 1]!.minute
        ) end++;
        const result = store.write(
          this.#pending.slice(0, end),
          this.#zone,
          this.#config.minuteDays,
        );
        this.#pending = this.#pending.slice(end);
        this.#stats.minutesWritten += result.minutes;
      }
      this.#databaseBytes = store.sizeBytes;
      this.#stats.lastWriteAt = this.#now();
      if (this.#stats.lastError) {
        this.#log.info("the history is written again", { database: this.#path });
        this.#stats.lastError = undefined;
        this.#loggedError = undefined;
      }
    } catch (error) {
      if (isCorruption(error) && this.#store) {
        this.#store.close();
        this.#store = undefined;
        try {
          this.#open();
          return this.#write();
        } catch (reopenError) {
          return this.#failed(reopenError);
        }
      }
      if (!isDiskFull(error)) {
        // An I/O error may leave the connection unusable: the next write opens the file anew.
        this.#store?.close();
        this.#store = undefined;
      }
      this.#failed(error);
    }
  }

  #failed(error: unknown): void {
    if (this.#pending.length > this.#maxPending) {
      const dropped = this.#pending.length - this.#maxPending;
      this.#pending.splice(0, dropped);
      this.#stats.minutesDropped += dropped;
    }
    const message = (error as Error).message;
    this.#stats.writeErrors++;
    if (isDiskFull(error)) this.#stats.diskFullErrors++;
    this.#stats.lastError = { at: this.#now(), message };
    if (this.#onWriteFailure) {
      this.#halted = true;
      return this.#onWriteFailure(error as Error);
    }
    if (message === this.#loggedError) {
      this.#log.debug("history write failed again", { error: message });
      return;
    }
    this.#loggedError = message;
    this.#log.error("cannot write the history; retrying with the next minute", {
      database: this.#path,
      error: message,
      pendingMinutes: this.#pending.length,
    });
  }
}

/** The history's `/metrics` families. */
export const HISTORY_METRICS: readonly OutputMetric<HistoryStats>[] = [
  {
    name: "p1_history_records_written_total",
    help: "Records of one minute of telegrams written to the history database",
    type: "counter",
    read: (s) => [{ value: s.minutesWritten }],
  },
  {
    name: "p1_history_pending_records",
    help: "Records of one minute of telegrams waiting to be written to the history database",
    type: "gauge",
    read: (s) => [{ value: s.pendingMinutes }],
  },
  {
    name: "p1_history_write_errors_total",
    help: "Writes to the history database that failed, by reason",
    type: "counter",
    read: (s) => [
      { labels: { reason: "disk_full" }, value: s.diskFullErrors },
      { labels: { reason: "other" }, value: s.writeErrors - s.diskFullErrors },
    ],
  },
  {
    name: "p1_history_records_dropped_total",
    help:
      "Records of one minute dropped unwritten while writes failed (their usage still counts, as a gap)",
    type: "counter",
    read: (s) => [{ value: s.minutesDropped }],
  },
  {
    name: "p1_history_late_telegrams_total",
    help: "Telegrams the history ignored because their meter time went back",
    type: "counter",
    read: (s) => [{ value: s.lateTelegrams }],
  },
  {
    name: "p1_history_corrupt_files_total",
    help: "Damaged history databases moved aside since start",
    type: "counter",
    read: (s) => [{ value: s.movedAside.length }],
  },
  {
    name: "p1_history_database_bytes",
    help: "Size of the history database and its write-ahead log",
    type: "gauge",
    read: (s) => (s.databaseBytes === undefined ? [] : [{ value: s.databaseBytes }]),
  },
  {
    name: "p1_history_last_write_timestamp_seconds",
    help: "When the history was last written (Unix time)",
    type: "gauge",
    read: (s) => (s.lastWriteAt === undefined ? [] : [{ value: s.lastWriteAt / 1000 }]),
  },
];

/**
 * The history as the service's list of outputs holds it: in the database, or, with
 * `--history off`, in memory for the dashboard's charts.
 */
export const HISTORY: OutputDefinition<
  typeof HISTORY_OPTIONS.rows,
  { history: HistoryConfig | undefined }
> = {
  name: "history",
  when: "unless `--history off`",
  metrics: HISTORY_METRICS,
  options: HISTORY_OPTIONS,
  create: ({ history }) => (history ? new HistoryOutput(history) : new MemoryHistoryOutput()),
};
