/**
 * MQTT publishing as an output: its options, and the publisher (`publisher.ts`) loaded only when
 * it starts, because MQTT.js reads the environment as it loads. Its status and metric families
 * are here too.
 *
 * @module
 */

import { optionGroup, whenSet } from "../../config/option.ts";
import { boolean, oneOf, seconds, text, topicPrefix, url } from "../../config/readers.ts";
import { redactUrl } from "../../log.ts";
import {
  type Output,
  type OutputContext,
  type OutputDefinition,
  type OutputMetric,
  OutputStartError,
} from "../output.ts";
import { METER_RECORD_FILE } from "./meter_record.ts";
import type { MqttOptions, MqttPublisher, MqttStats } from "./publisher.ts";

/** MQTT publishing, on when the broker's URL is set. */
export const MQTT_OPTIONS = optionGroup({
  url: {
    name: "mqtt-url",
    env: "P1READER_MQTT_URL",
    value: "URL",
    help: "publish to this MQTT broker (mqtt://, mqtts://, ws://, wss://); off when unset",
    read: url(
      ["mqtt:", "mqtts:", "ws:", "wss:"],
      "expected mqtt://, mqtts://, ws:// or wss://HOST[:PORT]",
    ),
  },
  username: {
    name: "mqtt-username",
    env: "P1READER_MQTT_USERNAME",
    value: "NAME",
    help: "MQTT username",
    read: text,
  },
  password: {
    name: "mqtt-password",
    env: "P1READER_MQTT_PASSWORD",
    value: "PASSWORD",
    help: "MQTT password",
    secret: true,
    read: text,
  },
  clientId: {
    name: "mqtt-client-id",
    env: "P1READER_MQTT_CLIENT_ID",
    value: "ID",
    help: "MQTT client id; each reader on a broker needs its own (when unset: p1reader, or " +
      "p1reader-PREFIX with another --mqtt-prefix)",
    read: text,
  },
  prefix: {
    name: "mqtt-prefix",
    env: "P1READER_MQTT_PREFIX",
    default: "p1reader",
    value: "TOPIC",
    help: "topic prefix of state and availability",
    read: topicPrefix,
  },
  discoveryPrefix: {
    name: "mqtt-discovery-prefix",
    env: "P1READER_MQTT_DISCOVERY_PREFIX",
    default: "homeassistant",
    value: "TOPIC",
    help: "Home Assistant's discovery prefix",
    read: topicPrefix,
  },
  qos: {
    name: "mqtt-qos",
    env: "P1READER_MQTT_QOS",
    default: "0",
    value: "0|1|2",
    help: "QoS of state messages",
    read: oneOf([0, 1, 2]),
  },
  retain: {
    name: "mqtt-retain",
    env: "P1READER_MQTT_RETAIN",
    switch: true,
    help: "retain state messages (discovery is always retained)",
    read: boolean,
  },
  perValueTopics: {
    name: "mqtt-per-value",
    env: "P1READER_MQTT_PER_VALUE",
    switch: true,
    help: "also publish one topic per value",
    read: boolean,
  },
  intervalSeconds: {
    name: "mqtt-interval",
    env: "P1READER_MQTT_INTERVAL",
    default: "0",
    value: "SECONDS",
    help: "publish at most one telegram per this many seconds of meter time (0: every telegram)",
    read: seconds,
  },
}, (values) => ({ mqtt: whenSet(values, "url") }));

/** The MQTT part of the configuration, when publishing is on. */
export type MqttSettings = NonNullable<ReturnType<typeof MQTT_OPTIONS.build>["mqtt"]>;

/** Publishes every telegram to an MQTT broker with Home Assistant discovery. */
export class MqttOutput implements Output<MqttStats> {
  /** Its key in `/api/v1/status`. */
  readonly name = "mqtt";
  /** Its `/metrics` families. */
  readonly metrics = MQTT_METRICS;
  readonly #options: Omit<MqttOptions, "version" | "logger">;
  #publisher: MqttPublisher | undefined;
  #unsubscribe: (() => void)[] = [];

  /**
   * Makes the output; {@linkcode MqttOutput.start} loads MQTT.js and connects.
   *
   * @param options The broker, topics and publishing settings.
   */
  constructor(options: Omit<MqttOptions, "version" | "logger">) {
    this.#options = options;
  }

  /** Loads MQTT.js, follows the receiver and connects (reconnecting for ever with backoff). */
  async start(context: OutputContext): Promise<void> {
    // Loaded only when used: MQTT.js reads the environment as it loads.
    const { MqttPublisher } = await import("./publisher.ts");
    const publisher = new MqttPublisher({
      ...this.#options,
      recordPath: await this.#recordPath(context),
      version: context.version,
      logger: context.logger,
    });
    this.#publisher = publisher;
    this.#unsubscribe = [
      context.receiver.subscribe((received) => publisher.offer(received)),
      context.receiver.onStateChange((state) => publisher.receiverStateChanged(state)),
    ];
    context.logger.info("publishing to MQTT", {
      broker: redactUrl(this.#options.url),
      prefix: this.#options.prefix,
    });
    publisher.start();
  }

  /**
   * Where the meters published are recorded, in the data directory; `undefined` (and a warning)
   * when it cannot be created: publishing matters more than what a restart after a crash shows.
   *
   * @throws {OutputStartError} When another service holds the data directory.
   */
  async #recordPath(context: OutputContext): Promise<string | undefined> {
    try {
      await context.claimDataDir();
      return `${context.dataDir.replace(/\/+$/, "")}/${METER_RECORD_FILE}`;
    } catch (error) {
      if (error instanceof OutputStartError) throw error;
      context.logger.warn(
        `--data-dir "${context.dataDir}": cannot record the MQTT meters there; after a crash their ` +
          "last status stays until their next telegram",
        { error: (error as Error).message },
      );
      return undefined;
    }
  }

  /** Publishes `offline` and disconnects. */
  async stop(): Promise<void> {
    for (const unsubscribe of this.#unsubscribe) unsubscribe();
    this.#unsubscribe = [];
    await this.#publisher?.stop();
  }

  /** A snapshot of what it has done. */
  stats(): MqttStats {
    return this.#publisher?.stats ??
      { connected: false, published: 0, missed: 0, connects: 0, takeovers: 0 };
  }
}

/** Its `/metrics` families. */
export const MQTT_METRICS: readonly OutputMetric<MqttStats>[] = [
  {
    name: "p1_mqtt_connected",
    help: "1 while connected to the MQTT broker",
    type: "gauge",
    read: (s) => [{ value: s.connected ? 1 : 0 }],
  },
  {
    name: "p1_mqtt_published_total",
    help: "Telegrams published to MQTT",
    type: "counter",
    read: (s) => [{ value: s.published }],
  },
  {
    name: "p1_mqtt_missed_total",
    help:
      "Telegrams that came while the broker was away (only the latest is published on reconnect)",
    type: "counter",
    read: (s) => [{ value: s.missed }],
  },
  {
    name: "p1_mqtt_connects_total",
    help: "Connections made to the MQTT broker",
    type: "counter",
    read: (s) => [{ value: s.connects }],
  },
  {
    name: "p1_mqtt_takeovers_total",
    help:
      "Connections the broker closed soon after accepting them while it stayed reachable (another client probably uses the same client id)",
    type: "counter",
    read: (s) => [{ value: s.takeovers }],
  },
];

/** MQTT publishing as the service's list of outputs holds it. */
export const MQTT: OutputDefinition<
  typeof MQTT_OPTIONS.rows,
  ReturnType<typeof MQTT_OPTIONS.build>
> = {
  name: "mqtt",
  nullWhenOff: true,
  when: "only with `--mqtt-url`",
  metrics: MQTT_METRICS,
  options: MQTT_OPTIONS,
  create: ({ mqtt }) => {
    if (!mqtt) return undefined;
    const { username, password, ...rest } = mqtt;
    return new MqttOutput({
      ...rest,
      ...(username !== undefined ? { username } : {}),
      ...(password !== undefined ? { password } : {}),
    });
  },
};
