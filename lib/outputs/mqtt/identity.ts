/**
 * Which identity a meter's discovery configs take on this broker (see {@linkcode Identity}), and
 * which retained configs of an older version to remove. Home Assistant keys an entity by its
 * unique id, so a reader keeps the plain ids every earlier version used (and with them the
 * entities' history) unless another reader already publishes configs under them: only the retained
 * configs on the broker can tell, so the reader looks at those before its first discovery of a
 * meter.
 *
 * @module
 */

import type { MqttClient } from "mqtt";
import type { Telegram } from "../../dsmr/model.ts";
import {
  configOwner,
  type ConfigTopic,
  DEFAULT_PREFIX,
  type DiscoveryOptions,
  emptySlots,
  type Identity,
  meterId,
  plainConfigTopics,
  stateTopicOf,
} from "./discovery.ts";

/** How long to wait for retained messages once the broker acknowledged the subscription. */
const RETAINED_GRACE_MS = 200;
/** How long the broker may take to acknowledge the subscription before the look is given up. */
export const ANSWER_TIMEOUT_MS = 10_000;

/** What the broker holds for a meter, and what follows from it. */
export interface IdentityCheck {
  /** The identity the meter's configs take. */
  identity: Identity;
  /** Retained configs of ours for empty M-Bus slots (an older version's phantom meters). */
  phantoms: string[];
}

/**
 * Decides a meter's identity from the retained messages on its plain config topics and its empty
 * slots' config topics. Without a recorded identity, the first reader keeps the plain one: a meter
 * takes `prefixed` when any plain config belongs to another reader. A recorded identity stays; a
 * recorded `plain` held by another reader too is settled by {@linkcode keepsPlain}.
 *
 * @param options Our topics.
 * @param t The meter's telegram.
 * @param retained The retained messages by topic.
 * @param recorded The identity this reader recorded for the meter before, if any.
 */
export function decideIdentity(
  options: DiscoveryOptions,
  t: Telegram,
  retained: ReadonlyMap<string, string>,
  recorded?: Identity,
): IdentityCheck {
  const owners = (topics: ConfigTopic[]) =>
    topics.map(({ topic, stateTopic }) =>
      [topic, configOwner(retained.get(topic) ?? "", stateTopic)] as const
    );
  const rivals = owners(plainConfigTopics(options, t)).filter(([, owner]) => owner === "another")
    .map(([topic]) => readerPrefixOf(stateTopicOf(retained.get(topic) ?? "") ?? "", meterId(t)));
  const phantoms = owners(emptySlots(options, t)).filter(([, owner]) => owner === "ours")
    .map(([topic]) => topic);
  const identity: Identity = recorded === "prefixed" || rivals.length === 0
    ? recorded ?? "plain"
    : recorded === "plain" && rivals.every((rival) => keepsPlain(options.prefix, rival))
    ? "plain"
    : "prefixed";
  return { identity, phantoms };
}

/**
 * The prefix of the reader whose config reads `stateTopic`, a state topic of the meter `id`;
 * `undefined` when it is no state topic a reader publishes.
 */
export function readerPrefixOf(stateTopic: string, id: string): string | undefined {
  // `id` is made of [A-Za-z0-9_-] (safeId): nothing in it means anything to a regular expression.
  return new RegExp(`^(.+)/${id}/(?:state|mbus/\\d+/state)$`).exec(stateTopic)?.[1];
}

/**
 * Whether the reader with prefix `ours` keeps the plain identity of a meter that the reader with
 * prefix `theirs` claims too (two readers that started at once, each before it saw the other's
 * configs): the default prefix keeps it, else the lower prefix. Both readers come to the same
 * answer, so the one that does not keep it takes the prefixed identity and the other stays. A
 * config that is no reader's (`theirs` undefined) is never fought over.
 */
export function keepsPlain(ours: string, theirs: string | undefined): boolean {
  if (theirs === undefined || theirs === DEFAULT_PREFIX) return false;
  return ours === DEFAULT_PREFIX || ours < theirs;
}

/** The topics to look at for a meter: its plain configs' and its empty slots'. */
export function topicsToCheck(options: DiscoveryOptions, t: Telegram): string[] {
  return [...plainConfigTopics(options, t), ...emptySlots(options, t)].map(({ topic }) => topic);
}

/** The broker refused to let us subscribe (its access rules forbid reading the topics). */
export class SubscriptionRefusedError extends Error {
  /** Makes the error; `reason` is the broker's. */
  constructor(reason: string) {
    super(`the broker refused the subscription: ${reason}`);
    this.name = "SubscriptionRefusedError";
  }
}

/**
 * Whether MQTT.js's error is a refusal in the broker's acknowledgement (a reason code of 0x80 and
 * up): MQTT.js 5 rejects with the acknowledgement packet attached (`packet.granted`), older
 * releases set the code on the error.
 */
function refusal(error: Error): boolean {
  const { code, packet } = error as Error & { code?: unknown; packet?: { granted?: unknown } };
  const codes = [code, ...(Array.isArray(packet?.granted) ? packet.granted : [])];
  return codes.some((value) => typeof value === "number" && value >= 0x80);
}

/**
 * The retained messages on exact topics: subscribes (QoS 0, so that no in-flight limit holds them
 * back), waits for the acknowledgement and a short grace for the messages the broker sends after
 * it, and unsubscribes. A broker that holds nothing there answers with an empty map.
 *
 * @throws {SubscriptionRefusedError} When the broker refuses the subscription.
 * @param client The connected client.
 * @param topics Exact topics (no wildcards).
 * @param timeoutMs How long the broker may take to acknowledge the subscription.
 * @param keep Stay subscribed (to watch the topics; MQTT.js subscribes again after a reconnect).
 * @throws {Error} When it does not answer in time, or the connection goes.
 */
export async function retainedOn(
  client: MqttClient,
  topics: string[],
  timeoutMs: number = ANSWER_TIMEOUT_MS,
  keep = false,
): Promise<Map<string, string>> {
  const wanted = new Set(topics);
  const found = new Map<string, string>();
  const listen = (topic: string, payload: Uint8Array) => {
    if (wanted.has(topic)) found.set(topic, new TextDecoder().decode(payload));
  };
  client.on("message", listen);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`no answer to a subscription in ${timeoutMs / 1000} s`)),
      timeoutMs,
    );
  });
  try {
    const subscribed = client.subscribeAsync(topics, { qos: 0 }).catch((error: Error) => {
      throw refusal(error) ? new SubscriptionRefusedError(error.message) : error;
    });
    await Promise.race([subscribed, timeout]);
    await new Promise((resolve) => setTimeout(resolve, RETAINED_GRACE_MS));
    return found;
  } finally {
    clearTimeout(timer);
    client.removeListener("message", listen);
    // Not awaited: nothing depends on it, and a lost connection forgets the subscription anyway.
    if (!keep) {
      client.unsubscribeAsync(topics).catch(() => {
        // The connection went before the broker answered: the subscription went with it.
      });
    }
  }
}
