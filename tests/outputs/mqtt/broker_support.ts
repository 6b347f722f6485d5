/**
 * What the MQTT tests on a real mosquitto share: telegrams to offer, readers, a subscriber that
 * keeps what it received, and Home Assistant's view of the discovery configs.
 *
 * @module
 */

import assert from "node:assert/strict";
import mqtt, { type MqttClient } from "mqtt";
import { FrameScanner } from "../../../lib/dsmr/framer.ts";
import { parseTelegram } from "../../../lib/dsmr/parse.ts";
import type { Logger } from "../../../lib/log.ts";
import { MqttPublisher } from "../../../lib/outputs/mqtt/publisher.ts";
import type { ReceivedTelegram } from "../../../lib/receiver.ts";
import { waitFor } from "../../support/helpers.ts";
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

/** The discovery configs among the last messages, parsed, by unique id. */
export function configs(last: Map<string, ReceivedMessage>): Map<string, Record<string, unknown>> {
  return new Map(
    [...last].filter(([topic, m]) => topic.startsWith("homeassistant/sensor/") && m.payload)
      .map(([, m]) => JSON.parse(m.payload)).map((config) => [config.unique_id, config]),
  );
}

/**
 * Whether Home Assistant shows an entity as available, from the last message of each of its
 * availability topics (`availability_mode: all`, the default payloads `online` and `offline`).
 */
export function available(
  config: Record<string, unknown>,
  last: Map<string, ReceivedMessage>,
): boolean {
  const entries = config.availability as { topic: string; value_template?: string }[];
  assert.equal(config.availability_mode, "all");
  assert.ok(entries.every((entry) => entry.value_template === undefined));
  return entries.every(({ topic }) => last.get(topic)?.payload === "online");
}

/** A started reader (publisher) on the broker, connected. */
export async function reader(
  url: string,
  options: {
    prefix?: string;
    clientId?: string;
    logger?: Logger;
    answerTimeoutMs?: number;
    recordPath?: string;
  } = {},
): Promise<MqttPublisher> {
  const publisher = new MqttPublisher({
    url,
    version: "test",
    backoff: { initialMs: 100 },
    ...options,
  });
  publisher.start();
  await waitFor(() => publisher.stats.connected, "the connection");
  return publisher;
}

/**
 * What a Home Assistant that (re)starts now receives: the retained messages, last per topic.
 * Asks again (a new subscriber) until `count` configs are among them, as readers may still be
 * publishing.
 */
export async function retainedConfigs(
  url: string,
  count: number,
): Promise<Map<string, ReceivedMessage>> {
  let retained = new Map<string, ReceivedMessage>();
  await waitFor(async () => {
    retained = await retainedNow(url);
    return configs(retained).size === count;
  }, `${count} retained configs`);
  return retained;
}

/** The retained messages a new subscriber receives now (messages published meanwhile left out). */
async function retainedNow(url: string): Promise<Map<string, ReceivedMessage>> {
  const late = await subscriber(url, [
    "homeassistant/#",
    "+/status",
    "+/+/status",
    "+/readers/+/status",
  ]);
  // Retained messages arrive together right after the subscription.
  await new Promise((resolve) => setTimeout(resolve, 200));
  await late.client.endAsync();
  return new Map(late.history.filter((m) => m.retain).map(({ topic, ...m }) => [topic, m]));
}
