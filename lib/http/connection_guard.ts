/**
 * ConnectionGuard: the HTTP port's front door. `Deno.serve` (2.9) has no header or idle timeout
 * and no connection limit: a client that sends half a request head, or nothing at all, holds its
 * connection for ever. The guard accepts the connections itself, relays their bytes to the HTTP
 * server on a loopback port, and closes a connection that
 *
 * - sent bytes that got no answer for `headerTimeoutMs` (a request head that never ends), counted
 *   from the accept for a connection that sends nothing;
 * - moved no byte either way for `idleTimeoutMs` (event streams send a heartbeat, so they stay);
 * - is the oldest such waiter when `maxConnections` are open and another arrives (evicted); when
 *   none waits, the newcomer is refused.
 *
 * It reads nothing of HTTP: the rule "the client spoke, the server did not answer" is what a
 * header timeout is for a server whose routes answer at once and take no request bodies.
 *
 * @module
 */

import { type Logger, SILENT } from "../log.ts";

/** The guard's limits and what they cut off, for status and metrics. */
export interface ConnectionStats {
  /** Connections open now. */
  open: number;
  /** The most connections open at once. */
  limit: number;
  /** Closed because the client's request head did not end in time. */
  closedHeaderTimeout: number;
  /** Closed because nothing moved for the idle timeout. */
  closedIdle: number;
  /** Closed to make room for a new connection at the limit. */
  evicted: number;
  /** New connections refused at the limit (nothing could be evicted). */
  refused: number;
}

/** Options for {@linkcode ConnectionGuard.listen}. */
export interface ConnectionGuardOptions {
  /** The address to listen on. */
  hostname: string;
  /** The port to listen on (0 picks a free one). */
  port: number;
  /** The HTTP server the connections are relayed to. */
  upstream: { hostname: string; port: number };
  /** The most connections open at once. @default {512} */
  maxConnections?: number;
  /** How long a client's bytes may go unanswered. @default {10000} */
  headerTimeoutMs?: number;
  /** How long a connection may move no byte. @default {60000} */
  idleTimeoutMs?: number;
  /** Where accept errors and the first refusal of an episode are logged. */
  logger?: Logger;
}

/** A connection idle this long may be evicted at the limit: longer than a stream's heartbeat. */
const EVICTABLE_IDLE_MS = 20_000;
/** How often the timeouts are checked. */
const SWEEP_MS = 1000;

class Relay {
  /** Since when the client has bytes out that the server did not answer (or since the accept). */
  waitingSince: number | undefined;
  lastActivity: number;
  #upstream: Deno.TcpConn | undefined;
  #closed = false;

  constructor(readonly client: Deno.TcpConn, now: number) {
    this.waitingSince = now;
    this.lastActivity = now;
  }

  /** Relays both ways until either side ends; resolves when the relay is over. */
  async run(target: { hostname: string; port: number }): Promise<void> {
    try {
      this.#upstream = await Deno.connect(target);
    } catch {
      // The HTTP server is stopping: there is nothing to relay to.
      this.close();
      return;
    }
    if (this.#closed) {
      this.#upstream.close();
      return;
    }
    // Small writes must not wait for an acknowledgement (Nagle) on either hop.
    this.client.setNoDelay(true);
    this.#upstream.setNoDelay(true);
    await Promise.all([
      this.#pump(this.client, this.#upstream, 4096, true),
      this.#pump(this.#upstream, this.client, 16384, false),
    ]);
    this.close();
  }

  async #pump(from: Deno.Conn, to: Deno.Conn, size: number, fromClient: boolean): Promise<void> {
    const buffer = new Uint8Array(size);
    try {
      while (true) {
        const n = await from.read(buffer);
        if (n === null) break;
        const now = Date.now();
        this.lastActivity = now;
        if (fromClient) this.waitingSince ??= now;
        else this.waitingSince = undefined;
        for (let written = 0; written < n;) {
          written += await to.write(buffer.subarray(written, n));
        }
      }
      // Pass a half-close on, as the client or the server meant it.
      await to.closeWrite();
    } catch {
      // A reset, or the guard closed the relay: both directions end.
      this.close();
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const conn of [this.client, this.#upstream]) {
      try {
        conn?.close();
      } catch {
        // Already closed by the other direction.
      }
    }
  }
}

/**
 * Listens on the HTTP port and relays each connection to the HTTP server, within limits.
 *
 * @example Guarding a server
 * ```ts
 * import assert from "node:assert/strict";
 * import { ConnectionGuard } from "./connection_guard.ts";
 *
 * const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () =>
 *   new Response("hello"));
 * const guard = ConnectionGuard.listen({ hostname: "127.0.0.1", port: 0, upstream: server.addr });
 * const response = await fetch(`http://127.0.0.1:${guard.addr.port}/`);
 * assert.equal(await response.text(), "hello");
 * await server.shutdown();
 * await guard.close();
 * ```
 */
export class ConnectionGuard {
  readonly #listener: Deno.TcpListener;
  readonly #upstream: { hostname: string; port: number };
  readonly #relays = new Set<Relay>();
  readonly #max: number;
  readonly #headerTimeoutMs: number;
  readonly #idleTimeoutMs: number;
  readonly #log: Logger;
  readonly #counts = { closedHeaderTimeout: 0, closedIdle: 0, evicted: 0, refused: 0 };
  readonly #sweep: ReturnType<typeof setInterval>;
  readonly #accepting: Promise<void>;
  #closed = false;
  /** Whether the limit was hit since the last time it was not: logged once per episode. */
  #full = false;

  private constructor(listener: Deno.TcpListener, options: ConnectionGuardOptions) {
    this.#listener = listener;
    this.#upstream = options.upstream;
    this.#max = options.maxConnections ?? 512;
    this.#headerTimeoutMs = options.headerTimeoutMs ?? 10_000;
    this.#idleTimeoutMs = options.idleTimeoutMs ?? 60_000;
    this.#log = options.logger ?? SILENT;
    this.#sweep = setInterval(
      () => this.#expire(),
      Math.min(SWEEP_MS, this.#headerTimeoutMs / 2, this.#idleTimeoutMs / 2),
    );
    this.#accepting = this.#accept();
  }

  /**
   * Starts listening.
   *
   * @param options Where to listen, where to relay to, and the limits.
   * @returns The guard, already accepting.
   * @throws {Deno.errors.AddrInUse} and the like, as `Deno.listen` does.
   */
  static listen(options: ConnectionGuardOptions): ConnectionGuard {
    const listener = Deno.listen({ hostname: options.hostname, port: options.port });
    return new ConnectionGuard(listener, options);
  }

  /** The address it listens on. */
  get addr(): Deno.NetAddr {
    return this.#listener.addr;
  }

  /** Connections open, the limit, and what the limits closed or refused. */
  get stats(): ConnectionStats {
    return { open: this.#relays.size, limit: this.#max, ...this.#counts };
  }

  /** Stops listening and closes every connection. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#sweep);
    this.#listener.close();
    for (const relay of this.#relays) relay.close();
    this.#relays.clear();
    await this.#accepting;
  }

  async #accept(): Promise<void> {
    let failing = false;
    while (!this.#closed) {
      let conn: Deno.TcpConn;
      try {
        conn = await this.#listener.accept();
      } catch (error) {
        if (this.#closed) return;
        // Out of file descriptors, say: the port stays open and accepting resumes shortly.
        // Logged once until an accept succeeds again.
        if (!failing) {
          this.#log.error("cannot accept an HTTP connection", { error: (error as Error).message });
        }
        failing = true;
        await new Promise((resolve) => setTimeout(resolve, 100));
        continue;
      }
      failing = false;
      this.#admit(conn);
    }
  }

  #admit(conn: Deno.TcpConn): void {
    const now = Date.now();
    if (this.#relays.size >= this.#max) {
      const victim = this.#evictable(now);
      if (!this.#full) {
        this.#log.warn(
          `${this.#max} HTTP connections are open: the oldest waiting ones are closed`,
        );
      }
      this.#full = true;
      if (!victim) {
        this.#counts.refused++;
        conn.close();
        return;
      }
      this.#counts.evicted++;
      this.#drop(victim);
    } else {
      this.#full = false;
    }
    const relay = new Relay(conn, now);
    this.#relays.add(relay);
    relay.run(this.#upstream).finally(() => this.#relays.delete(relay));
  }

  /** The connection waiting longest for its request to end, else the longest idle one. */
  #evictable(now: number): Relay | undefined {
    let waiting: Relay | undefined;
    let idle: Relay | undefined;
    for (const relay of this.#relays) {
      if (relay.waitingSince !== undefined) {
        if (!waiting || relay.waitingSince < waiting.waitingSince!) waiting = relay;
      } else if (now - relay.lastActivity >= EVICTABLE_IDLE_MS) {
        if (!idle || relay.lastActivity < idle.lastActivity) idle = relay;
      }
    }
    return waiting ?? idle;
  }

  #expire(): void {
    const now = Date.now();
    for (const relay of this.#relays) {
      if (
        relay.waitingSince !== undefined && now - relay.waitingSince >= this.#headerTimeoutMs
      ) {
        this.#counts.closedHeaderTimeout++;
        this.#drop(relay);
      } else if (now - relay.lastActivity >= this.#idleTimeoutMs) {
        this.#counts.closedIdle++;
        this.#drop(relay);
      }
    }
  }

  #drop(relay: Relay): void {
    relay.close();
    this.#relays.delete(relay);
  }
}
