/**
 * What the MQTT tests on a real mosquitto share: telegrams to offer, and a subscriber that keeps
 * what it received.
 *
 * @module
 */

import mqtt, { type MqttClient } from "mqtt";
import { FrameScanner } from "../../../lib/dsmr/framer.ts";
import { parseTelegram } from "../../../lib/dsmr/parse.ts";
import type { ReceivedTelegram } from "../../../lib/receiver.ts";
import { haveMosquitto } from "../../support/mosquitto.ts";
import { CORPUS, fixture } from "../../support/paths.ts";

/** Whether the broker tests run (always in CI, which must have mosquitto). */
export const brokerTestsEnabled = haveMosquitto() || Deno.env.get("CI") !== undefined;

/** The first telegram of a fixture, or of a corpus file (`corpus/<name>`). */
export function received(name: string): ReceivedTelegram {
  const path = name.startsWith("corpus/")
    ? `${CORPUS}telegrams/${name.slice("corpus/".length)}`
    : fixture(name);
  const scanner = new FrameScanner();
  const [raw] = [...scanner.push(Deno.readFileSync(path)), ...scanner.flush()];
  return { telegram: parseTelegram(raw!), bytes: raw!.bytes, receivedAt: Date.now() };
}

/** One message as a subscriber received it. */
export interface ReceivedMessage {
  /** The payload as text. */
  payload: string;
  /** Whether it came as a retained message (on subscribing), not live. */
  retain: boolean;
}

/** A subscriber's client, the last message per topic, and every message in order. */
export interface Subscriber {
  /** The client (end it with `endAsync`). */
  client: MqttClient;
  /** The last message per topic. */
  last: Map<string, ReceivedMessage>;
  /** Every message, in the order received. */
  history: (ReceivedMessage & { topic: string })[];
}

/** A subscriber to `topics` on the broker at `url`. */
export async function subscriber(url: string, topics: string[]): Promise<Subscriber> {
  const client = await mqtt.connectAsync(url, {
    clientId: `test-${crypto.randomUUID()}`,
    reconnectPeriod: 100,
  });
  const last = new Map<string, ReceivedMessage>();
  const history: (ReceivedMessage & { topic: string })[] = [];
  client.on("message", (topic, payload, packet) => {
    const message = { payload: payload.toString(), retain: packet.retain };
    last.set(topic, message);
    history.push({ topic, ...message });
  });
  await client.subscribeAsync(topics, { qos: 1 });
  return { client, last, history };
}
