/**
 * Shares the meter: a TCP server that sends every valid telegram, byte for byte as the meter
 * sent it, to every connected client (Home Assistant's DSMR integration in network mode, DSMR
 * reader's network input, evcc, scripts), as ser2net or a network P1 dongle would.
 *
 * Clients get whole telegrams only, so one that connects mid-telegram starts at the next. A slow
 * or stuck client never delays the reader or the others, and what waits for it is bounded three
 * ways: the kernel queues little for it (`send_buffer.ts`), this server holds at most
 * `maxPendingBytes` more, and a client that takes nothing for `stallMs` is dropped; each drop is
 * counted. At most `maxClients` are connected; a connection beyond that is closed and counted.
 *
 * @module
 */

import { concatBytes } from "../../bytes.ts";
import { type Logger, SILENT } from "../../log.ts";
import { type Cidr, isAllowed } from "./cidr.ts";
import { limitSendBuffer } from "./send_buffer.ts";

/** What the kernel may queue for one client (Linux doubles it): a few dozen telegrams. */
const SEND_BUFFER_BYTES = 16 * 1024;

/** Options for {@linkcode ShareServer.start}. */
export interface ShareOptions {
  /** Listen address. @default {"0.0.0.0"} */
  hostname?: string;
  /** Listen port (0: a free one). */
  port: number;
  /** Only these ranges may connect (everyone when absent). */
  allow?: readonly Cidr[];
  /**
   * Most clients connected at once; a connection beyond them is closed and counted.
   * @default {16}
   */
  maxClients?: number;
  /**
   * Most bytes waiting in this server for one client; beyond that the client is dropped.
   * @default {65536}
   */
  maxPendingBytes?: number;
  /**
   * Milliseconds a write to a client may take; a client that takes nothing for this long (its
   * kernel buffers full) is dropped.
   * @default {30000}
   */
  stallMs?: number;
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
  /** Connections closed because `maxClients` clients were connected. */
  connectionsOverLimit: number;
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
  /** Drops the client when the write in progress takes too long. */
  stallTimer: ReturnType<typeof setTimeout> | undefined;

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
  readonly #maxClients: number;
  readonly #maxPending: number;
  readonly #stallMs: number;
  readonly #log: Logger;
  readonly #clients = new Set<Client>();
  readonly #counts = {
    telegramsForwarded: 0,
    clientsDropped: 0,
    connectionsRefused: 0,
    connectionsOverLimit: 0,
    connectionsAccepted: 0,
  };
  readonly #accepting: Promise<void>;
  readonly #readers = new Set<Promise<void>>();
  /** Whether the connections over the limit were logged since it was last reached. */
  #overLimitLogged = false;

  private constructor(listener: Deno.TcpListener, options: ShareOptions) {
    this.#listener = listener;
    this.#allow = options.allow;
    this.#maxClients = options.maxClients ?? 16;
    this.#maxPending = options.maxPendingBytes ?? 64 * 1024;
    this.#stallMs = options.stallMs ?? 30_000;
    this.#log = options.logger ?? SILENT;
    this.#accepting = this.#accept();
  }

  /**
   * Starts listening.
   *
   * @param options Address, port, allowed ranges, per-client bounds.
   * @returns The running server.
   */
  static start(options: ShareOptions): ShareServer {
    const listener = Deno.listen({ hostname: options.hostname ?? "0.0.0.0", port: options.port });
    const unbounded = limitSendBuffer(listener, SEND_BUFFER_BYTES);
    if (unbounded !== undefined) {
      options.logger?.warn(
        "share port: the kernel's send buffer per client is not bounded (it needs Linux and " +
          "--allow-ffi), so a stuck client may hold up to 4 MiB of kernel memory before it is dropped",
        { reason: unbounded },
      );
    }
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
        this.#drop(client, "it does not keep up", { pendingBytes: client.pendingBytes });
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
        if (this.#clients.size >= this.#maxClients) {
          this.#counts.connectionsOverLimit++;
          // Once per time the limit is reached: a flood of connections is not a flood of lines.
          if (!this.#overLimitLogged) {
            this.#log.warn("share connection closed: --share-max-clients clients are connected", {
              peer,
              maxClients: this.#maxClients,
            });
            this.#overLimitLogged = true;
          }
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
        while (written < bytes.length) {
          // Any byte the kernel takes is progress; none for stallMs drops the client.
          client.stallTimer = setTimeout(
            () => this.#drop(client, "it takes no data", { stalledSeconds: this.#stallMs / 1000 }),
            this.#stallMs,
          );
          written += await client.conn.write(bytes.subarray(written));
          clearTimeout(client.stallTimer);
        }
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

  /** Closes a client that does not keep up, counted and logged with why. */
  #drop(client: Client, why: string, fields: Record<string, number>): void {
    if (client.closed) return;
    this.#counts.clientsDropped++;
    this.#log.warn(`share client dropped: ${why}`, { peer: client.peer, ...fields });
    this.#close(client);
  }

  #close(client: Client): void {
    if (client.closed) return;
    client.closed = true;
    clearTimeout(client.stallTimer);
    this.#clients.delete(client);
    if (this.#clients.size < this.#maxClients) this.#overLimitLogged = false;
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
