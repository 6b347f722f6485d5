/**
 * A network P1 dongle for tests: a real TCP server that sends one telegram to each client every
 * 200 ms while it is feeding, as a Wi-Fi P1 reader does; a silent meter is `feeding = false`.
 *
 * @module
 */

/** A running dongle. */
export interface Dongle {
  /** Its port on 127.0.0.1. */
  port: number;
  /** Whether it sends telegrams (a silent meter when `false`). */
  feeding: boolean;
  /** Stops listening, closes every connection and waits for its loops to end. */
  close(): Promise<void>;
}

/** Starts a dongle that sends `telegram` every 200 ms to each client while feeding. */
export function startDongle(telegram: Uint8Array): Dongle {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const connections: Deno.Conn[] = [];
  const dongle: Dongle = {
    port: (listener.addr as Deno.NetAddr).port,
    feeding: true,
    close: async () => {
      listener.close();
      for (const connection of connections) {
        try {
          connection.close();
        } catch {
          // Already closed by the reader when it stopped.
        }
      }
      await serving;
    },
  };
  const serving = (async () => {
    for await (const connection of listener) {
      connections.push(connection);
      (async () => {
        try {
          for (;;) {
            if (dongle.feeding) await connection.write(telegram);
            await new Promise((resolve) => setTimeout(resolve, 200));
          }
        } catch {
          // The reader or the test closed the connection: this dongle's loop ends.
        }
      })();
    }
  })();
  return dongle;
}
