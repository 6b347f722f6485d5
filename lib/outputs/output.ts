/**
 * The shape every output has. An output takes telegrams from the receiver and does one thing with
 * them: pushes them to DSMR reader or a time-series database, publishes them over MQTT, shares the
 * raw bytes, streams them to the dashboard, keeps their history. The service builds each output
 * that is on from its part of the configuration, starts it, shows its status in `/api/v1/status`
 * and its metric families in `/metrics`, mounts its routes, and stops it, all by looping over one
 * list: a new output is one module and one entry in that list.
 *
 * Data flows one way: an output subscribes to the receiver and never reaches back upstream.
 *
 * @module
 */

import type { Hono } from "hono";
import type { Logger } from "../log.ts";
import type { ExposedSample } from "../metrics/exposition.ts";
import type { OptionGroup, OptionRows } from "../config/option.ts";
import type { P1Receiver } from "../receiver.ts";

/** What an output may read of the receiver: the latest telegram, its state, and subscriptions. */
export type ReceiverView = Pick<
  P1Receiver,
  "latest" | "state" | "counters" | "source" | "staleAfterMs" | "subscribe" | "onStateChange"
>;

/** What an output is given when it starts. */
export interface OutputContext {
  /** The receiver to subscribe to. */
  receiver: ReceiverView;
  /** Where the output logs (secrets and URL credentials are redacted by the logger). */
  logger: Logger;
  /** The reader's version. */
  version: string;
  /** The directory where outputs keep their files (queues, databases). */
  dataDir: string;
  /**
   * Creates the data directory when missing and, in the service, takes its lock (once for every
   * output), so that no second service writes there. Call it before opening a file in it.
   *
   * @throws {OutputStartError} When another service holds it; what the file system says when it
   *   cannot be created or locked (the output says what it could not keep there).
   */
  claimDataDir(): Promise<void>;
  /** Most records and bytes each push's durable queue keeps (`--queue-max`, `--queue-max-bytes`). */
  queue: { maxRecords: number; maxBytes: number };
  /** Aborted when the service begins to stop: long-lived work (event streams) ends. */
  closing: AbortSignal;
}

/** One metric family of an output, read from its stats at scrape time. */
export interface OutputMetric<S> {
  /** The metric name, e.g. `p1_dsmr_reader_pushes_total`. */
  readonly name: string;
  /** The HELP text. */
  readonly help: string;
  /** The TYPE. */
  readonly type: "gauge" | "counter";
  /** The samples; an absent value gives no sample (never a made-up 0). */
  read(stats: S): readonly ExposedSample[];
}

/** A running output. `S` is the snapshot of what it has done, read by status and metrics. */
export interface Output<S = unknown> {
  /**
   * Its key in `/api/v1/status`, e.g. `dsmrReader`, `mqtt`, `share`, `history`; a dotted name such
   * as `http.streams` puts its part in a section.
   */
  readonly name: string;
  /**
   * Starts it: subscribes to the receiver, opens its files and sockets. A failure the user must
   * fix before the service can run (a port in use, a data directory that cannot be written)
   * rejects with an {@linkcode OutputStartError}; the service then stops with exit code 2.
   */
  start(context: OutputContext): Promise<void>;
  /** Stops it; what must survive a restart is already on disk when this resolves. */
  stop(): Promise<void>;
  /** A snapshot of what it has done (counters, queue length, connection state). */
  stats(): S;
  /**
   * Its part of `/api/v1/status`, JSON-safe; `undefined` leaves its key out. Without this method
   * the stats themselves are shown.
   *
   * @param stats A snapshot from {@linkcode Output.stats}.
   * @param now The service's clock, for ages.
   */
  status?(stats: S, now: number): unknown;
  /** Its `/metrics` families; registered only while the output is on. */
  readonly metrics?: readonly OutputMetric<S>[];
  /** Adds its HTTP routes (the dashboard stream, the history's usage API). */
  routes?(app: Hono): void;
}

/** An output start-up failure the user must fix; its message names the option and what is wrong. */
export class OutputStartError extends Error {
  /**
   * Makes the error.
   *
   * @param message What is wrong, naming the option, e.g. `--share-port 80: cannot listen: ...`.
   */
  constructor(message: string) {
    super(message);
    this.name = "OutputStartError";
  }
}

/**
 * An output as the service's list holds it: its options, and how to build it from the part of the
 * configuration those options fill (`undefined` when it is off).
 */
export interface OutputDefinition<R extends OptionRows = OptionRows, C = unknown> {
  /** Its key in `/api/v1/status`: the {@linkcode Output.name} of what it creates. */
  readonly name: string;
  /**
   * Shown as `null` in `/api/v1/status` while off, as the outputs of the first release (the DSMR
   * reader push, the share port, MQTT) always were; the others' keys are absent while off.
   */
  readonly nullWhenOff?: true;
  /** When it is on, as the documentation says it, e.g. ``only with `--mqtt-url` ``; absent: always. */
  readonly when?: string;
  /** Its `/metrics` families (those of what it creates), for the documentation. */
  readonly metrics: readonly OutputMetric<never>[];
  /** Its options: one group of rows, filled into its part of the configuration. */
  readonly options: OptionGroup<R, C>;
  /**
   * Builds the output from its part of the configuration, or `undefined` when it is off.
   *
   * @param config The group's part of the configuration.
   */
  create(config: C): Output | undefined;
}
