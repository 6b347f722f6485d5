/**
 * StreamHub: the clients of a server-sent event stream (`/api/v1/stream`), with limits. Each
 * event is serialised once for every client; a client that stops reading is closed rather than
 * kept; beyond the most clients allowed, a new one is refused with 503. Nothing here holds a
 * client after its connection ends, whatever the method that opened it.
 *
 * @module
 */

import { type Logger, SILENT } from "../log.ts";

/** What the stream's clients cost and how many were turned away, for status and metrics. */
export interface StreamStats {
  /** Clients connected now. */
  clients: number;
  /** The most clients allowed at once. */
  limit: number;
  /** Clients refused with 503 because `limit` were connected. */
  refused: number;
  /** Clients closed because they lost events and did not empty their buffer for a while. */
  closedSlow: number;
  /** Events a client lost because its buffer was full. */
  eventsDropped: number;
}

/** One named event and its JSON data. */
export type StreamEvent = readonly [name: string, data: unknown];

/** Where the events come from. */
export interface StreamFeed {
  /** The events a client gets as soon as it connects. */
  initial(): StreamEvent[];
  /**
   * Starts watching the source while at least one client is connected.
   *
   * @param publish Sends an event to every client.
   * @returns A function that stops watching.
   */
  watch(publish: (name: string, data: unknown) => void): () => void;
}

/** Options for {@linkcode StreamHub}. */
export interface StreamHubOptions {
  /** The events. */
  feed: StreamFeed;
  /** The most clients at once; one more gets 503. */
  maxClients: number;
  /** Aborted when the service stops: every stream ends and new ones are refused. */
  closing?: AbortSignal;
  /** Bytes that may wait for one client before it loses events. @default {65536} */
  bufferBytes?: number;
  /** A client that loses events and has not emptied its buffer for this long is closed. @default {30000} */
  slowAfterMs?: number;
  /** A comment line this often keeps proxies from closing a quiet stream. @default {15000} */
  heartbeatMs?: number;
  /** Where refusals and closed clients are logged. */
  logger?: Logger;
  /** The clock. @default {Date.now} */
  now?: () => number;
}

/** The response headers of an event stream (also the answer to `HEAD`). */
export const STREAM_HEADERS: Readonly<Record<string, string>> = {
  "content-type": "text/event-stream",
  "cache-control": "no-cache",
  "x-accel-buffering": "no",
};

/**
 * What a closed slow client's stream ends with. The server hands it to its `onError`, which has
 * nothing more to report: the hub logged and counted the client.
 */
export class SlowClientError extends Error {
  /** Makes the error. */
  constructor() {
    super("the event stream client did not read its events");
    this.name = "SlowClientError";
  }
}

const encoder = new TextEncoder();

function encodeEvent(name: string, data: unknown): Uint8Array {
  return encoder.encode(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`);
}

class StreamClient {
  /** When its queue was last seen empty: it had taken everything sent so far. */
  keptUpAt: number;
  /** Whether it lost an event since then. */
  lost = false;
  constructor(readonly controller: ReadableStreamDefaultController<Uint8Array>, now: number) {
    this.keptUpAt = now;
  }
}

/**
 * The clients of one event stream.
 *
 * @example A stream of one event, read by one client
 * ```ts
 * import assert from "node:assert/strict";
 * import { StreamHub } from "./streams.ts";
 *
 * const hub = new StreamHub({
 *   maxClients: 1,
 *   feed: { initial: () => [["hello", { n: 1 }]], watch: () => () => {} },
 * });
 * const response = hub.open();
 * assert.equal(response.status, 200);
 * assert.equal(hub.open().status, 503); // one client at most
 * const reader = response.body!.getReader();
 * const { value } = await reader.read();
 * assert.equal(new TextDecoder().decode(value), 'event: hello\ndata: {"n":1}\n\n');
 * await reader.cancel();
 * assert.equal(hub.stats.clients, 0);
 * ```
 */
export class StreamHub {
  readonly #clients = new Set<StreamClient>();
  readonly #feed: StreamFeed;
  readonly #maxClients: number;
  readonly #closing: AbortSignal | undefined;
  readonly #bufferBytes: number;
  readonly #slowAfterMs: number;
  readonly #heartbeatMs: number;
  readonly #log: Logger;
  readonly #now: () => number;
  readonly #counts = { refused: 0, closedSlow: 0, eventsDropped: 0 };
  #unwatch: (() => void) | undefined;
  #heartbeat: ReturnType<typeof setInterval> | undefined;
  /** Whether the last client was refused: refusals are logged once per episode. */
  #refusing = false;

  /** Makes the hub; the feed is watched only while a client is connected. */
  constructor(options: StreamHubOptions) {
    this.#feed = options.feed;
    this.#maxClients = options.maxClients;
    this.#closing = options.closing;
    this.#bufferBytes = options.bufferBytes ?? 64 * 1024;
    this.#slowAfterMs = options.slowAfterMs ?? 30_000;
    this.#heartbeatMs = options.heartbeatMs ?? 15_000;
    this.#log = options.logger ?? SILENT;
    this.#now = options.now ?? Date.now;
    this.#closing?.addEventListener("abort", () => {
      for (const client of [...this.#clients]) this.#end(client, "close");
    }, { once: true });
  }

  /** Clients, the limit and what was refused or lost. */
  get stats(): StreamStats {
    return { clients: this.#clients.size, limit: this.#maxClients, ...this.#counts };
  }

  /**
   * Opens a stream for one client.
   *
   * @returns The event stream, or 503 with a JSON reason when the hub is full or stopping.
   */
  open(): Response {
    if (this.#closing?.aborted) {
      return refusal("the service is stopping");
    }
    if (this.#clients.size >= this.#maxClients) {
      this.#counts.refused++;
      const reason = `${this.#maxClients} clients are connected to the event stream, ` +
        "the most --stream-clients allows";
      if (!this.#refusing) this.#log.warn(`event stream client refused: ${reason}`);
      this.#refusing = true;
      return refusal(reason);
    }
    this.#refusing = false;
    let client: StreamClient;
    const body = new ReadableStream<Uint8Array>({
      start: (controller) => {
        client = new StreamClient(controller, this.#now());
        this.#clients.add(client);
        for (const [name, data] of this.#feed.initial()) {
          this.#send(client, encodeEvent(name, data));
        }
        this.#watchWhileConnected();
      },
      cancel: () => this.#end(client, "gone"),
    }, new ByteLengthQueuingStrategy({ highWaterMark: this.#bufferBytes }));
    return new Response(body, { headers: STREAM_HEADERS });
  }

  #watchWhileConnected(): void {
    if (this.#unwatch) return;
    this.#unwatch = this.#feed.watch((name, data) => this.#publish(encodeEvent(name, data)));
    this.#heartbeat = setInterval(
      () => this.#publish(encoder.encode(`: heartbeat ${new Date(this.#now()).toISOString()}\n\n`)),
      this.#heartbeatMs,
    );
  }

  #publish(bytes: Uint8Array): void {
    for (const client of [...this.#clients]) this.#send(client, bytes);
  }

  /**
   * Queues bytes for a client that has room, else drops them. A client that keeps losing events
   * and has not emptied its queue for `slowAfterMs` is closed: the kernel may still take a few
   * bytes now and then from a client that reads nothing, so a queue that is never quite full
   * for long does not make a client a reader.
   */
  #send(client: StreamClient, bytes: Uint8Array): void {
    const now = this.#now();
    const room = client.controller.desiredSize ?? 0;
    if (room >= this.#bufferBytes) {
      client.keptUpAt = now;
      client.lost = false;
    }
    if (room > 0) {
      // Every client queues the same bytes: the server copies what it writes and detaches nothing.
      client.controller.enqueue(bytes);
    } else {
      this.#counts.eventsDropped++;
      client.lost = true;
    }
    if (client.lost && now - client.keptUpAt >= this.#slowAfterMs) this.#end(client, "slow");
  }

  /** Forgets a client: its connection ended, it is too slow, or the service stops. */
  #end(client: StreamClient, why: "gone" | "slow" | "close"): void {
    if (!this.#clients.delete(client)) return;
    if (why === "slow") {
      this.#counts.closedSlow++;
      this.#log.info("event stream client closed: it stopped reading", {
        seconds: this.#slowAfterMs / 1000,
      });
      // An error, not a close: a close would wait for the client to read what is queued.
      client.controller.error(new SlowClientError());
    } else if (why === "close") {
      client.controller.close();
    }
    if (this.#clients.size === 0) {
      this.#unwatch?.();
      this.#unwatch = undefined;
      clearInterval(this.#heartbeat);
      this.#heartbeat = undefined;
    }
  }
}

function refusal(reason: string): Response {
  return Response.json({ error: "service unavailable", reason }, {
    status: 503,
    headers: { "retry-after": "30" },
  });
}
