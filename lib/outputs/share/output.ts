/**
 * Sharing the meter as an output: its options, the share server (`share_server.ts`) listening
 * while the service runs, and its status and metric families.
 *
 * @module
 */

import { listening, optionGroup, whenSet } from "../../config/option.ts";
import { count, port, text } from "../../config/readers.ts";
import {
  type Output,
  type OutputContext,
  type OutputDefinition,
  type OutputMetric,
  OutputStartError,
} from "../output.ts";
import { parseCidrList } from "./cidr.ts";
import { type ShareOptions, ShareServer, type ShareStats } from "./share_server.ts";

/** The share server, on when its port is set. */
export const SHARE_OPTIONS = listening(
  optionGroup({
    port: {
      name: "share-port",
      env: "P1READER_SHARE_PORT",
      value: "PORT",
      help:
        "serve the meter's raw telegrams over TCP on this port, for other readers (off when unset)",
      read: port,
    },
    hostname: {
      name: "share-host",
      env: "P1READER_SHARE_HOST",
      default: "0.0.0.0",
      value: "ADDRESS",
      help: "listen address of the share port",
      read: text,
    },
    allow: {
      name: "share-allow",
      env: "P1READER_SHARE_ALLOW",
      value: "CIDR,...",
      help: "only these address ranges may connect to the share port (default: everyone)",
      read: parseCidrList,
    },
    maxClients: {
      name: "share-max-clients",
      env: "P1READER_SHARE_MAX_CLIENTS",
      default: "16",
      value: "N",
      help:
        "most clients connected to the share port at once; a connection beyond them is closed " +
        "and counted",
      read: count("clients"),
    },
  }, (values) => ({ share: whenSet(values, "port") })),
  ({ hostname, port }) =>
    port === undefined
      ? []
      : [{ option: "share-port", host: hostname, port, what: "the share port" }],
);

/** Forwards every valid telegram, byte for byte, to the clients of a TCP port. */
export class ShareOutput implements Output<ShareStats> {
  /** Its key in `/api/v1/status`. */
  readonly name = "share";
  /** Its `/metrics` families. */
  readonly metrics = SHARE_METRICS;
  readonly #options: Omit<ShareOptions, "logger">;
  #server: ShareServer | undefined;
  #unsubscribe: (() => void) | undefined;

  /**
   * Makes the output; {@linkcode ShareOutput.start} listens.
   *
   * @param options Address, port, allowed ranges and most clients.
   */
  constructor(options: Omit<ShareOptions, "logger">) {
    this.#options = options;
  }

  /** Listens on the share port and forwards every telegram the receiver accepts. */
  start(context: OutputContext): Promise<void> {
    const { hostname, port } = this.#options;
    let server: ShareServer;
    try {
      server = ShareServer.start({ ...this.#options, logger: context.logger });
    } catch (error) {
      throw new OutputStartError(
        `--share-port ${port}: cannot listen: ${(error as Error).message}`,
      );
    }
    this.#server = server;
    this.#unsubscribe = context.receiver.subscribe((received) => server.send(received.bytes));
    context.logger.info(`sharing raw telegrams on tcp://${hostname}:${server.addr.port}`);
    return Promise.resolve();
  }

  /** Stops listening and closes every client. */
  async stop(): Promise<void> {
    this.#unsubscribe?.();
    await this.#server?.close();
  }

  /** A snapshot of its counters. */
  stats(): ShareStats {
    return this.#server?.stats ?? {
      clients: 0,
      telegramsForwarded: 0,
      clientsDropped: 0,
      connectionsRefused: 0,
      connectionsOverLimit: 0,
      connectionsAccepted: 0,
    };
  }
}

/** Its `/metrics` families. */
export const SHARE_METRICS: readonly OutputMetric<ShareStats>[] = [
  {
    name: "p1_share_clients",
    help: "Clients connected to the share port",
    type: "gauge",
    read: (s) => [{ value: s.clients }],
  },
  {
    name: "p1_share_telegrams_forwarded_total",
    help: "Telegram copies written to share clients",
    type: "counter",
    read: (s) => [{ value: s.telegramsForwarded }],
  },
  {
    name: "p1_share_clients_dropped_total",
    help: "Share clients dropped because they did not keep up or took no data",
    type: "counter",
    read: (s) => [{ value: s.clientsDropped }],
  },
  {
    name: "p1_share_connections_refused_total",
    help: "Share connections refused by --share-allow",
    type: "counter",
    read: (s) => [{ value: s.connectionsRefused }],
  },
  {
    name: "p1_share_connections_over_limit_total",
    help: "Share connections closed because --share-max-clients clients were connected",
    type: "counter",
    read: (s) => [{ value: s.connectionsOverLimit }],
  },
];

/** The share port as the service's list of outputs holds it. */
export const SHARE: OutputDefinition<
  typeof SHARE_OPTIONS.rows,
  ReturnType<typeof SHARE_OPTIONS.build>
> = {
  name: "share",
  nullWhenOff: true,
  when: "only with `--share-port`",
  metrics: SHARE_METRICS,
  options: SHARE_OPTIONS,
  create: ({ share }) => {
    if (!share) return undefined;
    const { allow, ...rest } = share;
    return new ShareOutput({ ...rest, ...(allow ? { allow } : {}) });
  },
};
