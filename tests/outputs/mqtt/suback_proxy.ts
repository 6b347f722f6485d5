/**
 * A TCP proxy in front of a real broker that tampers with one kind of packet: the broker's
 * acknowledgement (SUBACK) of a subscription to Home Assistant's discovery config topics. It drops
 * it (a broker that never answers) or rewrites its return codes to 0x80 (a broker whose access
 * rules refuse it); everything else passes byte for byte. MQTT 3.1.1 framing (MQTT.js's default).
 *
 * @module
 */

/** What the proxy does to the acknowledgement of a subscription to discovery config topics. */
export type SubackTampering = "drop" | "refuse";

/** A running proxy. */
export interface SubackProxy {
  /** `mqtt://127.0.0.1:PORT`. */
  url: string;
  /** Acknowledgements tampered with so far. */
  tampered(): number;
  /** Stops listening and closes every connection. */
  close(): Promise<void>;
}

/** Splits a byte stream into whole MQTT packets. */
class PacketSplitter {
  #buffer = new Uint8Array(0);

  /** The whole packets the bytes complete. */
  push(bytes: Uint8Array): Uint8Array[] {
    const joined = new Uint8Array(this.#buffer.length + bytes.length);
    joined.set(this.#buffer);
    joined.set(bytes, this.#buffer.length);
    const packets: Uint8Array[] = [];
    let at = 0;
    for (;;) {
      // Fixed header: one type byte, then the remaining length in 1-4 bytes of 7 bits each.
      let length = 0;
      let multiplier = 1;
      let i = at + 1;
      let complete = false;
      while (i < joined.length && i < at + 5) {
        const byte = joined[i++]!;
        length += (byte & 0x7f) * multiplier;
        multiplier *= 128;
        if ((byte & 0x80) === 0) {
          complete = true;
          break;
        }
      }
      if (!complete || i + length > joined.length) break;
      packets.push(joined.slice(at, i + length));
      at = i + length;
    }
    this.#buffer = joined.slice(at);
    return packets;
  }
}

/** Where a packet's variable header starts (after the remaining length). */
function bodyStart(packet: Uint8Array): number {
  let i = 1;
  while (packet[i]! & 0x80) i++;
  return i + 1;
}

/** A SUBSCRIBE's packet id, if any of its topic filters is a discovery config topic. */
function discoverySubscription(packet: Uint8Array): number | undefined {
  if (packet[0] !== 0x82) return undefined;
  let i = bodyStart(packet);
  const id = (packet[i]! << 8) | packet[i + 1]!;
  i += 2;
  const decoder = new TextDecoder();
  while (i < packet.length) {
    const length = (packet[i]! << 8) | packet[i + 1]!;
    const filter = decoder.decode(packet.slice(i + 2, i + 2 + length));
    if (filter.startsWith("homeassistant/sensor/")) return id;
    i += 2 + length + 1; // the filter and its requested QoS
  }
  return undefined;
}

/**
 * Starts a proxy to the broker at `brokerUrl` (`mqtt://127.0.0.1:PORT`).
 *
 * @param brokerUrl The real broker.
 * @param tampering What to do to the acknowledgement of a discovery subscription.
 */
export function startSubackProxy(brokerUrl: string, tampering: SubackTampering): SubackProxy {
  const port = Number(new URL(brokerUrl).port);
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const connections = new Set<Deno.Conn>();
  const pumps: Promise<void>[] = [];
  let tampered = 0;
  const pump = async (
    from: Deno.Conn,
    to: Deno.Conn,
    each: (packet: Uint8Array) => Uint8Array | undefined,
  ) => {
    const splitter = new PacketSplitter();
    try {
      for await (const bytes of from.readable) {
        for (const packet of splitter.push(bytes)) {
          const out = each(packet);
          if (out) await to.write(out);
        }
      }
    } catch {
      // One side closed: the other side goes too, below.
    }
    for (const conn of [from, to]) {
      try {
        conn.close();
      } catch {
        // Already closed by the pump the other way.
      }
    }
  };
  const accepting = (async () => {
    for await (const client of listener) {
      const broker = await Deno.connect({ hostname: "127.0.0.1", port });
      connections.add(client);
      connections.add(broker);
      const watched = new Set<number>();
      pumps.push(pump(client, broker, (packet) => {
        const id = discoverySubscription(packet);
        if (id !== undefined) watched.add(id);
        return packet;
      }));
      pumps.push(pump(broker, client, (packet) => {
        if (packet[0] !== 0x90) return packet;
        const start = bodyStart(packet);
        const id = (packet[start]! << 8) | packet[start + 1]!;
        if (!watched.delete(id)) return packet;
        tampered++;
        if (tampering === "drop") return undefined;
        const refused = packet.slice();
        refused.fill(0x80, start + 2);
        return refused;
      }));
    }
  })();
  return {
    url: `mqtt://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
    tampered: () => tampered,
    async close() {
      listener.close();
      await accepting.catch(() => {
        // Closing the listener ends the accept loop with an error on some runtimes: that is all.
      });
      for (const conn of connections) {
        try {
          conn.close();
        } catch {
          // Its pump closed it already.
        }
      }
      await Promise.all(pumps);
    },
  };
}
