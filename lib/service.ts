/**
 * The service as `p1reader serve` runs it, built from its configuration: the receiver reading the
 * meter, every output of the list that is on, the `/metrics` registry and the HTTP app. Starting
 * and stopping loop over the outputs. `serve` binds the app to its port; tests build the same
 * service and call the app without one.
 *
 * @module
 */

import type { Hono } from "hono";
import type { Config } from "./config.ts";
import { createApp } from "./http/app.ts";
import { DataDirInUseError, type DataDirLock, lockDataDir } from "./data_dir_lock.ts";
import type { ConnectionStats } from "./http/connection_guard.ts";
import { type Logger, SILENT } from "./log.ts";
import { MetricsRegistry } from "./metrics/registry.ts";
import { receiverSnapshot } from "./metrics/table.ts";
import { OUTPUTS } from "./outputs/list.ts";
import {
  type Output,
  type OutputContext,
  OutputStartError,
  type ReceiverView,
} from "./outputs/output.ts";
import { P1Receiver } from "./receiver.ts";
import { createSource } from "./source/create.ts";
import { VERSION } from "./version.ts";

/** What the service is built with besides its configuration. */
export interface ServiceOptions {
  /** Where everything logs. @default {SILENT} */
  logger?: Logger;
  /** A receiver to serve instead of one reading the configured source (tests feed their own). */
  receiver?: P1Receiver;
  /** The clock of the routes. @default {Date.now} */
  now?: () => number;
  /** The HTTP port's connections, once a connection guard holds it (`serve`). */
  connections?: () => ConnectionStats | undefined;
}

/** The built service. */
export interface Service {
  /** The HTTP app: every route, the outputs' included. */
  readonly app: Hono;
  /** The receiver. */
  readonly receiver: P1Receiver;
  /** The outputs that are on, in the order of the list. */
  readonly outputs: readonly Output[];
  /**
   * Starts every output, then the receiver. An output that cannot start rejects with its
   * `OutputStartError` after the ones already started are stopped again; so does an output that
   * keeps files in the data directory while another service holds it.
   */
  start(): Promise<void>;
  /** Ends the event streams, stops the receiver, then every output; frees the data directory. */
  stop(): Promise<void>;
}

/** The receiver of the configured source. */
function receiverFor(config: Config, logger: Logger): P1Receiver {
  const source = createSource(config.sourceSpec, {
    format: config.format,
    serial: config.serial,
    replayIntervalSeconds: config.replayIntervalSeconds,
    replayLoop: config.replayLoop,
    decrypting: config.decryption !== undefined,
    warn: (message) => logger.warn(message),
  });
  return new P1Receiver({
    source,
    format: config.format,
    ...(config.staleAfterMs === undefined ? {} : { staleAfterMs: config.staleAfterMs }),
    ...(config.decryption ? { decryption: config.decryption } : {}),
    logger,
  });
}

/**
 * What outputs are given when they start, from the configuration.
 *
 * @param config The configuration (the data directory and the queues' limits).
 * @param receiver The receiver they follow.
 * @param logger Where they log.
 * @param closing Aborted when the service begins to stop.
 * @param claimDataDir Prepares the data directory before an output opens a file in it; by
 *   default it is only created (`p1reader import` writes beside a running service).
 * @returns The context.
 */
export function outputContext(
  config: Pick<Config, "dataDir" | "queueMax" | "queueMaxBytes">,
  receiver: ReceiverView,
  logger: Logger,
  closing: AbortSignal,
  claimDataDir: () => Promise<void> = () => Deno.mkdir(config.dataDir, { recursive: true }),
): OutputContext {
  return {
    receiver,
    logger,
    version: VERSION,
    dataDir: config.dataDir,
    claimDataDir,
    queue: { maxRecords: config.queueMax, maxBytes: config.queueMaxBytes },
    closing,
  };
}

/** The service's claim on its data directory: the lock, taken once when an output first asks. */
class DataDirClaim {
  #lock: Promise<DataDirLock> | undefined;

  constructor(readonly dir: string, readonly logger: Logger) {}

  /**
   * Takes the lock; rejects with an `OutputStartError` when another service holds it, or with
   * the file system's error, which the output names in its own words.
   */
  claim(): Promise<void> {
    this.#lock ??= lockDataDir(this.dir).then((lock) => {
      if (lock.unlocked !== undefined) {
        this.logger.warn(
          `cannot lock --data-dir "${this.dir}" (${lock.unlocked}): make sure no other p1reader ` +
            "uses it",
        );
      }
      return lock;
    }, (error: Error) => {
      throw error instanceof DataDirInUseError
        ? new OutputStartError(`--data-dir ${error.message}`)
        : error;
    });
    return this.#lock.then(() => {});
  }

  /** Lets go of the directory, if it was claimed. */
  async release(): Promise<void> {
    const lock = await this.#lock?.catch(() => undefined); // never taken: nothing to let go
    lock?.release();
    this.#lock = undefined;
  }
}

/**
 * Builds the service; nothing runs until {@linkcode Service.start}.
 *
 * @param config The configuration.
 * @param options The logger, and for tests a receiver and a clock.
 * @returns The service.
 */
export function createService(config: Config, options: ServiceOptions = {}): Service {
  const logger = options.logger ?? SILENT;
  const receiver = options.receiver ?? receiverFor(config, logger);
  const closing = new AbortController();
  const built = OUTPUTS.map((definition) => ({ definition, output: definition.create(config) }));
  const outputs = built.flatMap(({ output }) => (output ? [output] : []));
  const connections = options.connections ?? (() => undefined);
  const metrics = new MetricsRegistry(
    () => ({ ...receiverSnapshot(receiver, VERSION), connections: connections() }),
    { outputs },
  );
  const app = createApp({
    receiver,
    metrics,
    version: VERSION,
    startedAt: Date.now(),
    logger,
    outputs,
    outputsOff: built.flatMap(({ definition, output }) =>
      !output && definition.nullWhenOff ? [definition.name] : []
    ),
    ...(options.now ? { now: options.now } : {}),
    connections,
  });
  const dataDir = new DataDirClaim(config.dataDir, logger);
  const context = outputContext(config, receiver, logger, closing.signal, () => dataDir.claim());
  return {
    app,
    receiver,
    outputs,
    async start() {
      const started: Output[] = [];
      try {
        for (const output of outputs) {
          await output.start(context);
          started.push(output);
        }
      } catch (error) {
        await Promise.all(started.map((output) => output.stop()));
        await dataDir.release();
        throw error;
      }
      receiver.start();
    },
    async stop() {
      closing.abort(); // ends the event streams, which would otherwise keep the server open
      await receiver.stop();
      // What must survive a restart (queues, the history) is on disk when each has stopped.
      await Promise.all(outputs.map((output) => output.stop()));
      await dataDir.release();
    },
  };
}
