/**
 * Shares the meter: a TCP server that sends every valid telegram, byte for byte as the meter
 * sent it, to every connected client (Home Assistant's DSMR integration in network mode, DSMR
 * reader's network input, evcc, scripts), as ser2net or a network P1 dongle would.
 *
 * Clients get whole telegrams only, so one that connects mid-telegram starts at the next. A slow
 * or stuck client never delays the reader or the others: its pending output is bounded, and
 * beyond that it is dropped and counted.
 *
 * @module
 */

import { concatBytes } from "../../bytes.ts";
import { type Logger, SILENT } from "../../log.ts";
import { type Cidr, isAllowed } from "./cidr.ts";

/** Options for {@linkcode ShareServer.start}. */
export interface ShareOptions {
  /** Listen address. @default {"0.0.0.0"} */
  hostname?: string;
  /** Listen port (0: a free one). */
  port: number;
  /** Only these ranges may connect (everyone when absent). */
  allow?: readonly Cidr[];
  /**
   * Most bytes waiting for one client; beyond that the client is dropped.
   * @default {65536}
   */
  maxPendingBytes?: number;
  /** Logs. */
  logger?: Logger;
}

/** What the share server has done. */
export interface ShareStats {
  /** Clients connected now. */
  clients: number;
  /** Telegram copies written to clients. */
  telegramsForwarded: number;
  /** Clients dropped for falling behind. */
  clientsDropped: number;
  /** Connections refused by `--share-allow`. */
  connectionsRefused: number;
  /** Connections accepted since start. */
  connectionsAccepted: number;
}

class Client {
  readonly conn: Deno.TcpConn;
  readonly peer: string;
  pending: Uint8Array[] = [];
  pendingBytes = 0;
  writing = false;
  closed = false;

  constructor(conn: Deno.TcpConn) {
    this.conn = conn;
    this.peer = `${(conn.remoteAddr as Deno.NetAddr).hostname}:${
      (conn.remoteAddr as Deno.NetAddr).port
    }`;
  }
}

/** The share server; see the module documentation. */
export class ShareServer {
  readonly #listener: Deno.TcpListener;
  readonly #allow: readonly Cidr[] | undefined;
  readonly #maxPending: number;
  readonly #log: Logger;
  readonly #clients = new Set<Client>();
  readonly #counts = {
    telegramsForwarded: 0,
    clientsDropped: 0,
    connectionsRefused: 0,
    connectionsAccepted: 0,
  };
  readonly #accepting: Promise<void>;
  readonly #readers = new Set<Promise<void>>();

  private constructor(listener: Deno.TcpListener, options: ShareOptions) {
    this.#listener = listener;
    this.#allow = options.allow;
    this.#maxPending = options.maxPendingBytes ?? 64 * 1024;
    this.#log = options.logger ?? SILENT;
    this.#accepting = this.#accept();
  }

  /**
   * Starts listening.
   *
   * @param options Address, port, allowed ranges, per-client bound.
   * @returns The running server.
   */
  static start(options: ShareOptions): ShareServer {
    const listener = Deno.listen({ hostname: options.hostname ?? "0.0.0.0", port: options.port });
    return new ShareServer(listener, options);
  }

  /** The address it listens on. */
  get addr(): Deno.NetAddr {
    return this.#listener.addr as Deno.NetAddr;
  }

  /** A snapshot of the counters. */
  get stats(): ShareStats {
    return { clients: this.#clients.size, ...this.#counts };
  }

  /**
   * Sends one telegram to every client; never waits for any of them.
   *
   * @param bytes The telegram exactly as the meter sent it.
   */
  send(bytes: Uint8Array): void {
    for (const client of this.#clients) {
      if (client.pendingBytes + bytes.length > this.#maxPending) {
        this.#counts.clientsDropped++;
        this.#log.warn("share client dropped: it does not keep up", {
          peer: client.peer,
          pendingBytes: client.pendingBytes,
        });
        this.#close(client);
        continue;
      }
      client.pending.push(bytes);
      client.pendingBytes += bytes.length;
      if (!client.writing) void this.#write(client);
    }
  }

  /** Stops listening and closes every client. */
  async close(): Promise<void> {
    this.#listener.close();
    await this.#accepting;
    for (const client of this.#clients) this.#close(client);
    await Promise.all(this.#readers);
  }

  async #accept(): Promise<void> {
    try {
      for await (const conn of this.#listener) {
        const peer = (conn.remoteAddr as Deno.NetAddr).hostname;
        if (this.#allow && !isAllowed(peer, this.#allow)) {
          this.#counts.connectionsRefused++;
          this.#log.warn("share connection refused by --share-allow", { peer });
          conn.close();
          continue;
        }
        conn.setNoDelay(true);
        const client = new Client(conn);
        this.#clients.add(client);
        this.#counts.connectionsAccepted++;
        this.#log.debug("share client connected", { peer: client.peer });
        const reader = this.#watch(client);
        this.#readers.add(reader);
        void reader.finally(() => this.#readers.delete(reader));
      }
    } catch (error) {
      if (!(error instanceof Deno.errors.BadResource)) {
        this.#log.error("share server failed", { error: String(error) });
      }
    }
  }

  /** Reads (and ignores) what a client sends, to notice when it goes away. */
  async #watch(client: Client): Promise<void> {
    const buffer = new Uint8Array(512);
    try {
      while (!client.closed && (await client.conn.read(buffer)) !== null) {
        // Clients have nothing to say; anything they send is ignored.
      }
    } catch {
      // A reset connection ends the same way as a closed one.
    }
    this.#close(client);
  }

  async #write(client: Client): Promise<void> {
    client.writing = true;
    try {
      while (!client.closed && client.pending.length > 0) {
        // Everything waiting goes out in one write; it stays counted as pending until written.
        const batch = client.pending;
        client.pending = [];
        const bytes = batch.length === 1 ? batch[0]! : concatBytes(batch);
        let written = 0;
        while (written < bytes.length) written += await client.conn.write(bytes.subarray(written));
        if (client.closed) return;
        client.pendingBytes -= bytes.length;
        this.#counts.telegramsForwarded += batch.length;
      }
    } catch {
      this.#close(client);
    } finally {
      client.writing = false;
    }
  }

  #close(client: Client): void {
    if (client.closed) return;
    client.closed = true;
    this.#clients.delete(client);
    client.pending = [];
    client.pendingBytes = 0;
    try {
      client.conn.close();
    } catch {
      // Already closed by the peer.
    }
    this.#log.debug("share client disconnected", { peer: client.peer });
  }
}
