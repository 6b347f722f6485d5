/**
 * A ser2net-like TCP server for tests: it sends what it is told to every client, as a network
 * P1 dongle or `ser2net` in raw mode would.
 *
 * @module
 */

/** A running server. */
export interface MeterServer {
  /** The port it listens on (127.0.0.1). */
  port: number;
  /** The connected clients. */
  clients: Set<Deno.Conn>;
  /** Writes bytes to every client. */
  send(bytes: Uint8Array): Promise<void>;
  /** Closes the listener and every client. */
  stop(): Promise<void>;
}

/** Starts a server on 127.0.0.1 (on `port`, or a free one). */
export function meterServer(port = 0): MeterServer {
  const listener = Deno.listen({ hostname: "127.0.0.1", port });
  const clients = new Set<Deno.Conn>();
  const accepting = (async () => {
    for await (const conn of listener) clients.add(conn);
  })().catch(() => {});
  return {
    port: (listener.addr as Deno.NetAddr).port,
    clients,
    async send(bytes: Uint8Array) {
      for (const conn of clients) await conn.write(bytes).catch(() => clients.delete(conn));
    },
    async stop() {
      listener.close();
      for (const conn of clients) conn.close();
      clients.clear();
      await accepting;
    },
  };
}
