/**
 * The live stream as an output: `GET /api/v1/stream` sends the dashboard (and anyone's own page)
 * the receiver's status at once and on every change, and the latest telegram at once and each new
 * one, as server-sent events, to at most `--stream-clients` clients (`http/streams.ts` keeps them
 * bounded). Its status is `http.streams`, its families `p1_http_stream_*`.
 *
 * @module
 */

import type { Hono } from "hono";
import { optionGroup } from "../../config/option.ts";
import { count } from "../../config/readers.ts";
import {
  STREAM_HEADERS,
  type StreamFeed,
  StreamHub,
  type StreamHubOptions,
  type StreamStats,
} from "../../http/streams.ts";
import { fullTelegram } from "../../views/full.ts";
import type {
  Output,
  OutputContext,
  OutputDefinition,
  OutputMetric,
  ReceiverView,
} from "../output.ts";

/** How many may watch the live stream. */
export const STREAM_OPTIONS = optionGroup({
  streamClients: {
    name: "stream-clients",
    env: "P1READER_STREAM_CLIENTS",
    default: "64",
    value: "N",
    help: "most clients of the live event stream (dashboards) at once; more get 503",
    read: count("clients"),
  },
}, ({ streamClients }) => ({ streamClients }));

/** The status event of the stream: what the dashboard shows about the source. */
function streamStatus(receiver: ReceiverView) {
  const counters = receiver.counters;
  return {
    state: receiver.state,
    source: receiver.source,
    staleAfterSeconds: receiver.staleAfterMs / 1000,
    lastTelegramAt: counters.lastTelegramAt === undefined
      ? null
      : new Date(counters.lastTelegramAt).toISOString(),
    lastError: counters.lastError ?? null,
  };
}

/**
 * What `/api/v1/stream` sends: the status at once and on every change, the latest telegram at
 * once and each new one.
 *
 * @param receiver The receiver.
 * @returns The feed of a {@linkcode StreamHub}.
 */
export function liveFeed(receiver: ReceiverView): StreamFeed {
  return {
    initial: () => [
      ["status", streamStatus(receiver)],
      ...(receiver.latest ? [["telegram", fullTelegram(receiver.latest)] as const] : []),
    ],
    watch(publish) {
      const unsubscribe = receiver.subscribe((received) =>
        publish("telegram", fullTelegram(received))
      );
      const unwatch = receiver.onStateChange(() => publish("status", streamStatus(receiver)));
      return () => {
        unsubscribe();
        unwatch();
      };
    },
  };
}

/** Options for {@linkcode StreamOutput}: the most clients, and the hub's limits for tests. */
export type StreamOutputOptions =
  & Pick<StreamHubOptions, "maxClients">
  & Partial<Pick<StreamHubOptions, "bufferBytes" | "slowAfterMs" | "heartbeatMs" | "now">>;

/** `GET /api/v1/stream`; see the module documentation. */
export class StreamOutput implements Output<StreamStats> {
  /** Its key in `/api/v1/status`: under `http`, beside the connections. */
  readonly name = "http.streams";
  /** Its `/metrics` families. */
  readonly metrics = STREAM_METRICS;
  readonly #options: StreamOutputOptions;
  #hub: StreamHub | undefined;

  /**
   * Makes the output; clients are served once it has started.
   *
   * @param options The most clients at once.
   */
  constructor(options: StreamOutputOptions) {
    this.#options = options;
  }

  /** Serves clients from the receiver until the service begins to stop. */
  start(context: OutputContext): Promise<void> {
    this.#hub = new StreamHub({
      ...this.#options,
      feed: liveFeed(context.receiver),
      closing: context.closing,
      logger: context.logger,
    });
    return Promise.resolve();
  }

  /** Nothing to do: the streams end when the service begins to stop. */
  stop(): Promise<void> {
    return Promise.resolve();
  }

  /** Clients, the limit and what was refused or lost. */
  stats(): StreamStats {
    return this.#hub?.stats ??
      { clients: 0, limit: this.#options.maxClients, refused: 0, closedSlow: 0, eventsDropped: 0 };
  }

  /** Adds `GET /api/v1/stream`. */
  routes(app: Hono): void {
    app.get("/api/v1/stream", (c) => {
      if (!this.#hub) {
        return c.json({ error: "service unavailable", reason: "the service is starting" }, 503);
      }
      // HEAD learns the headers and opens nothing.
      if (c.req.method === "HEAD") return new Response(null, { headers: STREAM_HEADERS });
      return this.#hub.open();
    });
  }
}

/** The stream's `/metrics` families. */
export const STREAM_METRICS: readonly OutputMetric<StreamStats>[] = [
  {
    name: "p1_http_stream_clients",
    help: "Clients connected to the live event stream (/api/v1/stream)",
    type: "gauge",
    read: (s) => [{ value: s.clients }],
  },
  {
    name: "p1_http_stream_clients_refused_total",
    help: "Event stream clients refused with 503 because --stream-clients were connected",
    type: "counter",
    read: (s) => [{ value: s.refused }],
  },
  {
    name: "p1_http_stream_clients_closed_slow_total",
    help: "Event stream clients closed because they stopped reading",
    type: "counter",
    read: (s) => [{ value: s.closedSlow }],
  },
  {
    name: "p1_http_stream_events_dropped_total",
    help: "Events an event stream client lost because its buffer was full",
    type: "counter",
    read: (s) => [{ value: s.eventsDropped }],
  },
];

/** The live stream as the service's list of outputs holds it: always on. */
export const STREAM: OutputDefinition<
  typeof STREAM_OPTIONS.rows,
  ReturnType<typeof STREAM_OPTIONS.build>
> = {
  name: "http.streams",
  metrics: STREAM_METRICS,
  options: STREAM_OPTIONS,
  create: ({ streamClients }) => new StreamOutput({ maxClients: streamClients }),
};
