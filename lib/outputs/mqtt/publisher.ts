/**
 * Publishes telegrams to an MQTT broker with Home Assistant discovery (MQTT.js). Nothing is queued
 * while the broker is away: the latest state wins and is published, with `online`, each meter's
 * status and the discovery configs, on every (re)connect; only a connection taken over by another
 * client with our client id skips the configs, which the broker still holds. A meter's first
 * discovery waits for a look at the broker's retained configs, which decides its identity
 * (`identity.ts`); its state never waits. Reconnects for ever with backoff (`reconnect.ts`); a
 * rejected login and a client id taken over are logged once; the password is never logged.
 *
 * @module
 */

import mqtt, { type IClientOptions, type MqttClient } from "mqtt";
import type { Telegram } from "../../dsmr/model.ts";
import { type Logger, redactUrl, SILENT } from "../../log.ts";
import type { ReceivedTelegram, ReceiverState } from "../../receiver.ts";
import { MeterTimeThinner } from "../../thin.ts";
import { fullTelegram } from "../../views/full.ts";
import {
  configOwner,
  DEFAULT_PREFIX,
  defaultClientId,
  discoveryMessages,
  type DiscoveryOptions,
  expireAfterSeconds,
  type Identity,
  mbusStateTopic,
  meterId,
  meterStatusTopic,
  type MqttMessage,
  plainConfigTopics,
  sensorValues,
  stateTopic,
  stateTopicOf,
  statusTopic,
} from "./discovery.ts";
import {
  decideIdentity,
  keepsPlain,
  readerPrefixOf,
  retainedOn,
  SubscriptionRefusedError,
  topicsToCheck,
} from "./identity.ts";
import {
  MAX_RECORDED_METERS,
  readMeterRecord,
  type RecordedMeters,
  writeMeterRecord,
} from "./meter_record.ts";
import { ReconnectBackoff } from "./reconnect.ts";

/** Options for {@linkcode MqttPublisher}. */
export interface MqttOptions {
  /** Broker URL: `mqtt://`, `mqtts://` or `ws://`. */
  url: string;
  /** Username, when the broker wants one. */
  username?: string | undefined;
  /** Password (never logged). */
  password?: string | undefined;
  /** Client id; unset: the prefix's {@linkcode defaultClientId}. */
  clientId?: string | undefined;
  /**
   * Our topic prefix; also part of a meter's unique ids when another reader on the broker already
   * uses the plain ones.
   * @default {"p1reader"}
   */
  prefix?: string;
  /** Home Assistant's discovery prefix. @default {"homeassistant"} */
  discoveryPrefix?: string;
  /** QoS of state messages. @default {0} */
  qos?: 0 | 1 | 2;
  /** Retain state messages. @default {false} */
  retain?: boolean;
  /** Also publish one topic per value (`<prefix>/<id>/<key>`). @default {false} */
  perValueTopics?: boolean;
  /** Publish at most one telegram per this many seconds of meter time. @default {0} */
  intervalSeconds?: number;
  /**
   * Reconnect backoff, doubling; it starts again once a connection has held for twice `maxMs`.
   * @default {{ initialMs: 1000, maxMs: 60000 }}
   */
  backoff?: { initialMs?: number; maxMs?: number };
  /**
   * How long the broker may take to acknowledge the look at its retained discovery configs; after
   * that the meter's identity is decided without it.
   * @default {10000}
   */
  answerTimeoutMs?: number;
  /**
   * Where the meters this reader published are recorded (`meter_record.ts`), so that a restart
   * marks them `offline` until their data is live and keeps their identities; unset: nowhere.
   */
  recordPath?: string | undefined;
  /** The reader's version (discovery origin). */
  version: string;
  /** Logs. */
  logger?: Logger;
}

/** What the publisher has done. */
export interface MqttStats {
  /** Whether the broker connection is up. */
  connected: boolean;
  /** Telegrams published. */
  published: number;
  /**
   * Telegrams that came while the broker was away: MQTT keeps no backlog, so only the latest of
   * them is published, once the broker is back.
   */
  missed: number;
  /** Connections made (the first one included). */
  connects: number;
  /**
   * Connections the broker closed before they held while it stayed reachable: most likely
   * another client connected with the same client id.
   */
  takeovers: number;
}

/** Publishes telegrams and discovery to a broker. */
export class MqttPublisher {
  readonly #options: MqttOptions;
  readonly #topics: DiscoveryOptions;
  readonly #log: Logger;
  #client: MqttClient | undefined;
  #latest: Telegram | undefined;
  /** The meter of the last telegram offered. */
  #meter: string | undefined;
  /** Whether the receiver's data is live (a telegram arrived and it has not gone stale since). */
  #live = false;
  /** What each meter's status topic says (or will say once connected), by meter id. */
  readonly #meterStatus = new Map<string, "online" | "offline">();
  /** Each meter's identity, decided once (see `identity.ts`) and kept while the reader runs. */
  readonly #identities = new Map<string, Identity>();
  /** The meters published before, with their identities (see {@linkcode MqttOptions.recordPath}). */
  readonly #recorded: RecordedMeters = new Map();
  /** The plain config topics watched while their meter holds the plain identity: meter and state topic. */
  readonly #watched = new Map<string, { id: string; stateTopic: string }>();
  /** The last config seen on each watched topic. */
  readonly #lastSeen = new Map<string, string>();
  /** Availability topics of other readers on our prefix that publish a meter of ours (same id). */
  readonly #sharers = new Set<string>();
  /** The status topics of the meters such a reader publishes too. */
  readonly #sharedMeters = new Set<string>();
  /** Watched topics on which another reader's config was answered with ours. */
  readonly #contested = new Set<string>();
  /** Sends a meter's discovery again once the configs that overwrote it have all come in. */
  #rediscovery: ReturnType<typeof setTimeout> | undefined;
  #recordFailureLogged = false;
  /** The meters whose identity the broker is being asked about. */
  readonly #checking = new Set<string>();
  /** Whether the broker's refusal or silence about the retained configs has been logged. */
  #blindLogged = false;
  readonly #thinner: MeterTimeThinner;
  /** The discovery messages last published, joined; `undefined` when they must be sent again. */
  #discovery: string | undefined;
  #published = 0;
  #missed = 0;
  #connects = 0;
  #lastError: string | undefined;
  readonly #clientId: string;
  readonly #backoff: ReconnectBackoff;
  /** Fires when the current connection has held (see {@linkcode ReconnectBackoff.holdMs}). */
  #holding: ReturnType<typeof setTimeout> | undefined;
  #stopping = false;

  /** Makes the publisher; {@linkcode MqttPublisher.start} connects. */
  constructor(options: MqttOptions) {
    this.#options = options;
    const prefix = options.prefix ?? DEFAULT_PREFIX;
    this.#clientId = options.clientId ?? defaultClientId(prefix);
    this.#topics = {
      prefix,
      discoveryPrefix: options.discoveryPrefix ?? "homeassistant",
      version: options.version,
      clientId: this.#clientId,
      expireAfter: expireAfterSeconds(options.intervalSeconds ?? 0),
    };
    this.#log = options.logger ?? SILENT;
    this.#backoff = new ReconnectBackoff(
      options.backoff?.initialMs ?? 1000,
      options.backoff?.maxMs ?? 60_000,
    );
    this.#thinner = new MeterTimeThinner(options.intervalSeconds ?? 0);
    this.#readRecord();
  }

  /** Reads the record: its meters are `offline` until their data is live, and keep identities. */
  #readRecord(): void {
    const path = this.#options.recordPath;
    if (path === undefined) return;
    try {
      for (const [id, identity] of readMeterRecord(path, this.#topics.prefix)) {
        this.#recorded.set(id, identity);
        this.#meterStatus.set(id, "offline");
      }
    } catch (error) {
      this.#log.warn(
        "MQTT: cannot read the record of the meters published before; starting afresh",
        {
          path,
          error: (error as Error).message,
        },
      );
    }
  }

  /** Records a meter (and its identity once decided) before its status says `online`. */
  #record(id: string, identity?: Identity): void {
    const before = this.#recorded.get(id);
    const after = identity ?? before;
    if (this.#recorded.has(id) && after === before) return;
    this.#recorded.set(id, after);
    // The oldest meter goes first (its status topic keeps the `offline` it was given).
    for (const old of this.#recorded.keys()) {
      if (this.#recorded.size <= MAX_RECORDED_METERS) break;
      this.#recorded.delete(old);
    }
    const path = this.#options.recordPath;
    if (path === undefined) return;
    try {
      writeMeterRecord(path, this.#topics.prefix, this.#recorded);
    } catch (error) {
      // Publishing goes on; only a restart after a crash would show this meter's old values.
      if (this.#recordFailureLogged) return;
      this.#recordFailureLogged = true;
      this.#log.warn("MQTT: cannot record the meters published", {
        path,
        error: (error as Error).message,
      });
    }
  }

  /** A snapshot of what it has done. */
  get stats(): MqttStats {
    return {
      connected: this.#client?.connected ?? false,
      published: this.#published,
      missed: this.#missed,
      connects: this.#connects,
      takeovers: this.#backoff.takeovers,
    };
  }

  /** Connects (and keeps reconnecting) in the background. */
  start(): void {
    const o = this.#options;
    const options: IClientOptions = {
      clientId: this.#clientId,
      reconnectPeriod: this.#backoff.waitMs,
      connectTimeout: 10_000,
      // Never queue while offline: the latest state is republished on connect instead.
      queueQoSZero: false,
      will: { topic: statusTopic(this.#topics), payload: "offline", qos: 1, retain: true },
      ...(o.username !== undefined ? { username: o.username } : {}),
      ...(o.password !== undefined ? { password: o.password } : {}),
    };
    const client = mqtt.connect(o.url, options);
    this.#client = client;
    client.on("connect", () => this.#connected(client));
    client.on("message", (topic, payload, packet) => {
      // Home Assistant restarted: send discovery again so that it knows the sensors. A retained
      // `online` (delivered because we subscribed) says nothing about a restart now.
      if (
        topic === `${this.#topics.discoveryPrefix}/status` && payload.toString() === "online" &&
        !packet.retain
      ) {
        this.#discovery = undefined;
        if (this.#latest) this.#publishTelegram(this.#latest);
      }
      this.#configSeen(topic, payload.toString());
      this.#sharedStatusSeen(topic, payload.toString());
    });
    // MQTT.js has already scheduled the next attempt when this runs: the wait set here is the
    // one after the next loss.
    client.on("close", () => this.#closed(client));
    client.on("error", (error) => {
      this.#backoff.errored();
      const message = error.message;
      if (message === this.#lastError) return;
      this.#lastError = message;
      const rejected = /not authori[sz]ed|bad user ?name or password/i.test(message);
      this.#log.error(
        rejected
          ? `MQTT broker refused the login (${message}): check --mqtt-username and --mqtt-password`
          : `MQTT error: ${message}`,
        { broker: redactUrl(o.url) },
      );
    });
  }

  #connected(client: MqttClient): void {
    const broker = redactUrl(this.#options.url);
    const { takenOver, firstOfEpisode } = this.#backoff.connected(Date.now());
    this.#connects++;
    this.#lastError = undefined;
    clearTimeout(this.#holding);
    this.#holding = setTimeout(() => this.#held(client), this.#backoff.holdMs);
    if (firstOfEpisode) {
      this.#log.warn(
        "MQTT broker closed the connection soon after accepting it, and accepted the next one " +
          "at once: another client probably uses the same client id (give each reader on a " +
          "broker its own --mqtt-client-id); reconnecting with growing backoff",
        { broker, clientId: this.#clientId },
      );
    } else if (takenOver) {
      this.#log.debug("MQTT connected again after a takeover", { broker });
    } else {
      this.#log.info("MQTT connected", { broker, clientId: this.#clientId });
    }
    client.subscribe(`${this.#topics.discoveryPrefix}/status`, { qos: 0 });
    // After most losses the broker may have restarted without our retained configs: send them
    // again. What looks like a takeover (closed early, accepted at once) is also what a broker
    // restarted within a second looks like, so there the configs are looked for first.
    if (!takenOver) this.#discovery = undefined;
    else if (this.#latest) void this.#verifyRetained(client, this.#latest);
    // The meters' status first: after a crash the broker holds `online` for them, which would
    // count from the moment the reader's `online` arrives. In order: both go out at QoS 1.
    for (const [id, status] of this.#meterStatus) {
      void this.#publish(meterStatusTopic(this.#topics, id), status, 1, true);
    }
    // Our last will has just marked us offline, so `online` goes out after a takeover too.
    void this.#publish(statusTopic(this.#topics), "online", 1, true);
    if (this.#latest) this.#publishTelegram(this.#latest);
  }

  /** Sends the meter's configs again when the broker no longer holds the first of them. */
  async #verifyRetained(client: MqttClient, t: Telegram): Promise<void> {
    const identity = this.#identities.get(meterId(t));
    const [first] = identity ? discoveryMessages(this.#topics, t, identity) : [];
    if (!first) return;
    const held = await retainedOn(client, [first.topic], this.#options.answerTimeoutMs)
      .catch(() => undefined); // no answer: nothing is known, and nothing is sent twice
    if (!held || held.get(first.topic) === first.payload || this.#latest !== t) return;
    this.#discovery = undefined;
    this.#publishDiscovery(t, identity!);
  }

  #held(client: MqttClient): void {
    const { episodeEnded } = this.#backoff.held();
    client.options.reconnectPeriod = this.#backoff.waitMs;
    if (episodeEnded) {
      this.#log.info("MQTT connection held: no other client took it over", {
        broker: redactUrl(this.#options.url),
        seconds: this.#backoff.holdMs / 1000,
      });
    }
  }

  #closed(client: MqttClient): void {
    clearTimeout(this.#holding);
    if (this.#stopping) return;
    const loss = this.#backoff.closed(Date.now());
    client.options.reconnectPeriod = this.#backoff.waitMs;
    const broker = redactUrl(this.#options.url);
    if (loss === "lost") {
      this.#log.warn("MQTT connection lost; reconnecting with backoff", { broker });
    } else if (loss === "unreachable") {
      this.#log.warn("MQTT broker unreachable; reconnecting with backoff", { broker });
    } else if (loss === "closed early") {
      this.#log.debug("MQTT broker closed the connection soon after accepting it");
    }
  }

  /**
   * Takes a new telegram (thinned by meter time); publishes it now when connected. A telegram is
   * live data: its meter becomes available (again) in Home Assistant.
   */
  offer(received: ReceivedTelegram): void {
    this.#live = true;
    this.#meter = meterId(received.telegram);
    this.#updateMeterStatus();
    const accepted = this.#thinner.accept(received);
    if (!accepted) return;
    this.#latest = received.telegram;
    if (this.#client?.connected) this.#publishTelegram(received.telegram);
    else this.#missed++;
  }

  /**
   * Follows the receiver: while it is not `connected` (stale, reconnecting, ended, stopped), the
   * meter's sensors are unavailable in Home Assistant instead of showing old values as current.
   */
  receiverStateChanged(state: ReceiverState): void {
    this.#live = state === "connected";
    this.#updateMeterStatus();
  }

  /**
   * Publishes what changed of the meters' status: `online` for the meter whose data is live,
   * `offline` for every other meter this reader has read (the one it read before a meter change
   * included), so that no entity of this reader shows an old value as current.
   */
  #updateMeterStatus(everyMeterOffline = false): Promise<unknown> {
    const live = this.#live && !everyMeterOffline ? this.#meter : undefined;
    if (live !== undefined && !this.#meterStatus.has(live)) this.#meterStatus.set(live, "offline");
    if (live !== undefined) this.#record(live);
    const sent: Promise<boolean>[] = [];
    for (const [id, before] of this.#meterStatus) {
      const status = id === live ? "online" : "offline";
      if (status === before) continue;
      this.#meterStatus.set(id, status);
      sent.push(this.#publish(meterStatusTopic(this.#topics, id), status, 1, true));
    }
    return Promise.all(sent);
  }

  #publishTelegram(t: Telegram): void {
    const topics = this.#topics;
    const identity = this.#identityOf(t);
    if (identity) this.#publishDiscovery(t, identity);
    const qos = this.#options.qos ?? 0;
    const retain = this.#options.retain ?? false;
    const { receivedAt: _receivedAt, ...state } = fullTelegram({
      telegram: t,
      bytes: new Uint8Array(),
      receivedAt: 0,
    });
    void this.#publish(stateTopic(topics, t), JSON.stringify(state), qos, retain);
    for (const device of t.mbus) {
      void this.#publish(mbusStateTopic(topics, t, device), JSON.stringify(device), qos, retain);
    }
    if (this.#options.perValueTopics) {
      for (const [name, value] of sensorValues(t)) {
        void this.#publish(`${topics.prefix}/${meterId(t)}/${name}`, value, qos, retain);
      }
    }
    this.#published++;
  }

  /** Publishes the meter's discovery configs unless the broker already has these. */
  #publishDiscovery(t: Telegram, identity: Identity): void {
    const discovery = discoveryMessages(this.#topics, t, identity);
    const signature = discovery.map((message) => `${message.topic} ${message.payload}`).join("\n");
    if (signature === this.#discovery) return;
    this.#discovery = signature;
    for (const message of discovery) {
      void this.#publishMessage(message, 1, true).then((sent) => {
        // A config that did not reach the broker goes out again with the next telegram.
        if (!sent && this.#discovery === signature) this.#discovery = undefined;
      });
    }
  }

  /** The meter's identity; `undefined` while the broker is being asked (discovery then waits). */
  #identityOf(t: Telegram): Identity | undefined {
    const id = meterId(t);
    const known = this.#identities.get(id);
    if (known || this.#checking.has(id) || !this.#client) return known;
    this.#checking.add(id);
    void this.#checkIdentity(this.#client, t).finally(() => this.#checking.delete(id));
    return undefined;
  }

  /**
   * Looks at the retained configs on the meter's plain config topics, decides its identity, empties
   * the configs of ours for its empty M-Bus slots, and publishes its discovery. A broker that refuses
   * the look or does not answer in time gets the plain identity; a connection lost meanwhile leaves
   * it open, for the next telegram to ask again.
   */
  async #checkIdentity(client: MqttClient, t: Telegram): Promise<void> {
    const id = meterId(t);
    let retained: Map<string, string>;
    try {
      for (const { topic, stateTopic } of plainConfigTopics(this.#topics, t)) {
        this.#watched.set(topic, { id, stateTopic });
      }
      // Stays subscribed: another reader that looked at the same moment may claim the plain
      // identity too, which only the configs arriving later show (see #configSeen).
      retained = await retainedOn(
        client,
        topicsToCheck(this.#topics, t),
        this.#options.answerTimeoutMs,
        true,
      );
    } catch (error) {
      // A connection that went is no answer: the next connection asks again.
      if (!client.connected) return;
      // Refused, or never acknowledged: waiting longer would hold the meter's discovery back for
      // ever. Without reading the configs, keeping the ids of earlier versions is what a single
      // reader needs.
      retained = new Map();
      if (!this.#blindLogged) {
        this.#blindLogged = true;
        const refused = error instanceof SubscriptionRefusedError;
        this.#log.warn(
          `MQTT broker ${
            refused ? "does not let this reader read" : "did not answer a subscription to"
          } ` +
            `${this.#topics.discoveryPrefix}/sensor/…: it cannot see whether another reader ` +
            "publishes the same meter id; publishing discovery with the unique ids of earlier versions",
          { error: (error as Error).message },
        );
      }
    }
    const { identity, phantoms } = decideIdentity(
      this.#topics,
      t,
      retained,
      this.#recorded.get(id),
    );
    this.#identities.set(id, identity);
    this.#record(id, identity);
    if (identity === "prefixed") {
      this.#log.info(
        "MQTT: another reader on the broker publishes this meter id to Home Assistant; this " +
          "reader's entities for it carry its prefix",
        { meter: id, prefix: this.#topics.prefix },
      );
    }
    for (const topic of phantoms) void this.#publish(topic, "", 1, true);
    const latest = this.#latest;
    if (latest && meterId(latest) === id && client.connected) {
      this.#publishDiscovery(latest, identity);
    }
  }

  /**
   * A config on a watched plain config topic. While the meter holds the plain identity, another
   * reader's config there means both claimed it: {@linkcode keepsPlain} settles it the same way on
   * both. The reader that keeps it sends its configs again (also after the other emptied its own);
   * the other takes the prefixed identity, empties the plain configs of its own and sends its
   * prefixed ones.
   */
  #configSeen(topic: string, payload: string): void {
    const watched = this.#watched.get(topic);
    if (!watched) return;
    this.#lastSeen.set(topic, payload);
    if (this.#identities.get(watched.id) !== "plain") return;
    const owner = configOwner(payload, watched.stateTopic);
    if (owner === "ours") {
      this.#followSharer(payload, watched.id);
      return;
    }
    if (owner === undefined) {
      if (this.#contested.has(topic)) this.#rediscover(watched.id);
      return;
    }
    if (keepsPlain(this.#topics.prefix, readerPrefixOf(stateTopicOf(payload) ?? "", watched.id))) {
      this.#contested.add(topic);
      this.#rediscover(watched.id);
      return;
    }
    this.#identities.set(watched.id, "prefixed");
    this.#record(watched.id, "prefixed");
    this.#log.info(
      "MQTT: another reader claimed this meter id's plain unique ids at the same time and keeps " +
        "them; this reader's entities for it carry its prefix",
      { meter: watched.id, prefix: this.#topics.prefix },
    );
    for (const [other, { id, stateTopic }] of this.#watched) {
      if (id !== watched.id) continue;
      if (configOwner(this.#lastSeen.get(other) ?? "", stateTopic) === "ours") {
        void this.#publish(other, "", 1, true);
      }
    }
    this.#rediscover(watched.id);
  }

  /**
   * A config of ours (it reads our state topic) that names another reader's availability topic: a
   * reader on our prefix with its own client id publishes the same meter id (it reads our
   * `--share-port`, or its meter sends the same id). The last configs sent win, so when that
   * reader stops or dies, every entity of the meter would stay unavailable while this reader is
   * live: its availability topic and the meter's shared status topic are followed
   * ({@linkcode #sharedStatusSeen}).
   */
  #followSharer(payload: string, id: string): void {
    let topic: unknown;
    try {
      topic = (JSON.parse(payload) as { availability?: { topic?: unknown }[] }).availability?.[0]
        ?.topic;
    } catch {
      return;
    }
    const prefix = this.#topics.prefix;
    if (typeof topic !== "string" || topic === statusTopic(this.#topics)) return;
    // Only a reader's availability topic on our prefix: a stranger's config chooses nothing else.
    const readerTopic = topic === `${prefix}/status` ||
      (topic.startsWith(`${prefix}/readers/`) && /^[A-Za-z0-9_-]+\/status$/.test(
        topic.slice(`${prefix}/readers/`.length),
      ));
    if (!readerTopic || this.#sharers.has(topic)) return;
    this.#sharers.add(topic);
    this.#sharedMeters.add(meterStatusTopic(this.#topics, id));
    this.#client?.subscribe([topic, meterStatusTopic(this.#topics, id)], { qos: 0 });
  }

  /**
   * A status on a topic followed by {@linkcode #followSharer}: the other reader went `offline` (it
   * stopped or died; its configs, the last sent, name its availability), or it said `offline` for
   * the meter this reader still reads live. This reader sends its meters' status and its configs
   * again, so that its live values are available.
   */
  #sharedStatusSeen(topic: string, payload: string): void {
    if (payload !== "offline" || this.#stopping) return;
    if (this.#sharers.has(topic)) {
      for (const [id, status] of this.#meterStatus) {
        void this.#publish(meterStatusTopic(this.#topics, id), status, 1, true);
      }
      this.#discovery = undefined;
      if (this.#latest && this.#client?.connected) this.#publishTelegram(this.#latest);
      return;
    }
    if (!this.#sharedMeters.has(topic)) return;
    const id = [...this.#meterStatus.keys()].find((meter) =>
      meterStatusTopic(this.#topics, meter) === topic
    );
    if (id !== undefined && this.#meterStatus.get(id) === "online") {
      void this.#publish(topic, "online", 1, true);
    }
  }

  /** Sends the meter's discovery again, once the configs arriving together have been seen. */
  #rediscover(id: string): void {
    if (this.#rediscovery !== undefined) return;
    this.#rediscovery = setTimeout(() => {
      this.#rediscovery = undefined;
      const latest = this.#latest;
      const identity = this.#identities.get(id);
      if (!latest || meterId(latest) !== id || !identity || !this.#client?.connected) return;
      this.#discovery = undefined;
      this.#publishDiscovery(latest, identity);
    }, 0);
  }

  #publishMessage(message: MqttMessage, qos: 0 | 1 | 2, retain: boolean): Promise<boolean> {
    return this.#publish(message.topic, message.payload, qos, retain);
  }

  /** Publishes one message; whether the client took it (and the broker acknowledged QoS 1-2). */
  async #publish(
    topic: string,
    payload: string,
    qos: 0 | 1 | 2,
    retain: boolean,
  ): Promise<boolean> {
    const client = this.#client;
    if (!client?.connected) return false;
    try {
      await client.publishAsync(topic, payload, { qos, retain });
      return true;
    } catch (error) {
      this.#log.debug("MQTT publish failed", { topic, error: (error as Error).message });
      return false;
    }
  }

  /** Publishes `offline` and disconnects. */
  async stop(): Promise<void> {
    const client = this.#client;
    if (!client) return;
    this.#stopping = true;
    clearTimeout(this.#holding);
    clearTimeout(this.#rediscovery);
    // Each meter's own status first: the status topic may be shared with other readers.
    await this.#updateMeterStatus(true);
    if (client.connected) await this.#publish(statusTopic(this.#topics), "offline", 1, true);
    await client.endAsync(true);
  }
}
