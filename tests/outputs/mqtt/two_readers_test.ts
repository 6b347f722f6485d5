/**
 * Readers sharing one real mosquitto (issue 21): each meter's availability is its own, also for
 * readers on one prefix, and a meter's unique ids stay those of earlier versions unless another
 * reader already uses them (then they carry the prefix), whichever reader restarts.
 */
import assert from "node:assert/strict";
import mqtt from "mqtt";
import type { MqttPublisher } from "../../../lib/outputs/mqtt/publisher.ts";
import { memoryLogger, waitFor } from "../../support/helpers.ts";
import { startBroker } from "../../support/mosquitto.ts";
import { CORPUS, fixture } from "../../support/paths.ts";
import { type RunningServer, startServer } from "../../support/server.ts";
import {
  available,
  brokerTestsEnabled as enabled,
  configs,
  reader,
  received,
  retainedConfigs,
  subscriber,
} from "./broker_support.ts";

type Config = Record<string, unknown>;

/** Whether a config reads a state topic of a reader with this prefix (not one nested under it). */
const readsFrom = (prefix: string) => (config: Config) =>
  String(config.state_topic).startsWith(`${prefix}/`) &&
  /^[^/]+\/(state|mbus\/\d+\/state)$/.test(String(config.state_topic).slice(prefix.length + 1));

/** The unique ids and device identifiers of some configs. */
function identities(list: Config[]): Set<string> {
  return new Set(
    list.flatMap((config) => [
      String(config.unique_id),
      ...(config.device as { identifiers: string[] }).identifiers,
    ]),
  );
}

Deno.test({
  name:
    "two readers on the default prefix with their own client ids keep both meters available, and a silent meter takes only its own entities",
  ignore: !enabled,
  async fn() {
    const broker = await startBroker();
    const a = await reader(broker.anonymousUrl, { clientId: "readerA" });
    const b = await reader(broker.anonymousUrl, { clientId: "readerB" });
    try {
      a.offer(received("nl-dsmr50-1phase-water.txt"));
      b.offer(received("be-emucs-peak.txt"));
      const all = [...configs(await retainedConfigs(broker.anonymousUrl, 17 + 15)).values()];
      const ofMeter = (id: string) => (c: Config) =>
        String(c.state_topic).startsWith(`p1reader/${id}/`);
      const ofA = all.filter(ofMeter("E0053004723456789"));
      const ofB = all.filter(ofMeter("1SAG1100042181"));
      assert.deepEqual([ofA.length, ofB.length], [17, 15]);
      let last = await retainedConfigs(broker.anonymousUrl, 32);
      assert.ok(all.every((config) => available(config, last)), "both meters available");

      a.receiverStateChanged("stale"); // reader A's meter goes silent
      const statusOfA = "p1reader/E0053004723456789/status";
      await waitFor(async () => {
        last = await retainedConfigs(broker.anonymousUrl, 32);
        return last.get(statusOfA)?.payload === "offline";
      }, "meter A's status offline");
      assert.ok(ofA.every((config) => !available(config, last)), "meter A unavailable");
      assert.ok(ofB.every((config) => available(config, last)), "meter B still available");
    } finally {
      await a.stop();
      await b.stop();
      await broker.dispose();
    }
  },
});

Deno.test({
  name: "a reader that reads another meter marks the one before offline",
  ignore: !enabled,
  async fn() {
    const broker = await startBroker();
    const watch = await subscriber(broker.anonymousUrl, ["p1reader/+/status"]);
    const publisher = await reader(broker.anonymousUrl);
    try {
      publisher.offer(received("nl-dsmr50-1phase-water.txt"));
      const status = (id: string) => watch.last.get(`p1reader/${id}/status`)?.payload;
      await waitFor(() => status("E0053004723456789") === "online", "the first meter online");
      publisher.offer(received("be-emucs-peak.txt")); // the meter was replaced
      await waitFor(() => status("1SAG1100042181") === "online", "the new meter online");
      assert.equal(status("E0053004723456789"), "offline");
      await publisher.stop();
      await waitFor(() => status("1SAG1100042181") === "offline", "offline at a clean stop");
    } finally {
      await publisher.stop();
      await watch.client.endAsync();
      await broker.dispose();
    }
  },
});

/** The recorded discovery of the release before issue 21 for a telegram: its unique ids. */
function recordedIds(name: string): string[] {
  const before = JSON.parse(
    Deno.readTextFileSync(new URL("discovery_before_upgrade.json", import.meta.url)),
  ) as { telegrams: Record<string, { device: string; keys: string[] }> };
  const { device, keys } = before.telegrams[name]!;
  return keys.map((key) => `${device}_${key}`);
}

Deno.test({
  name: "a reader with its own prefix keeps the unique ids of the release before on upgrade",
  ignore: !enabled,
  async fn() {
    const broker = await startBroker();
    // What the release before left retained for a reader started with --mqtt-prefix garage.
    const old = await mqtt.connectAsync(broker.anonymousUrl, { clientId: "release-before" });
    const ids = recordedIds("fixtures/be-emucs-peak.txt");
    for (const id of ids) {
      const channel = /_mbus(\d)_reading$/.exec(id)?.[1];
      const state = channel
        ? `garage/1SAG1100042181/mbus/${channel}/state`
        : "garage/1SAG1100042181/state";
      await old.publishAsync(
        `homeassistant/sensor/${id}/config`,
        JSON.stringify({
          unique_id: id,
          object_id: id,
          state_topic: state,
          availability_topic: "garage/status",
        }),
        { qos: 1, retain: true },
      );
    }
    await old.endAsync();
    const publisher = await reader(broker.anonymousUrl, { prefix: "garage" });
    try {
      publisher.offer(received("be-emucs-peak.txt"));
      // The new configs (with default_entity_id) replace the old ones on the same topics.
      let byId = new Map<string, Config>();
      await waitFor(async () => {
        byId = configs(await retainedConfigs(broker.anonymousUrl, ids.length + 1));
        return [...byId.values()].every((config) => "default_entity_id" in config);
      }, "the new configs");
      assert.deepEqual(
        [...byId.keys()].sort(),
        [...ids, "p1reader_1SAG1100042181_equipment_id"].sort(),
      );
      assert.ok([...byId.values()].every(readsFrom("garage")));
    } finally {
      await publisher.stop();
      await broker.dispose();
    }
  },
});

/** The meter both readers see: two Fluvius meters that send one placeholder equipment id. */
const PLACEHOLDER = "12345678901234567890123456789012";

/**
 * Reader A (`garage`, or another prefix) and then reader B (default prefix) on the broker, with the
 * same meter id.
 */
async function twoReadersOneMeterId(url: string, prefixOfA = "garage") {
  const { logger, lines } = memoryLogger();
  const a = await reader(url, { prefix: prefixOfA, clientId: "readerA" });
  a.offer(received("corpus/be-fluvius-1phase.txt")); // its gas meter on channel 1
  const ofA = configs(await retainedConfigs(url, 11));
  const b = await reader(url, { clientId: "readerB", logger });
  b.offer(received("corpus/be-fluvius-no-gas.txt")); // channel 1 empty
  return { a, b, ofA, lines };
}

// `p1reader/b` nests under the second reader's prefix: its state topics start with `p1reader/`
// without being that reader's.
for (const prefixOfA of ["garage", "p1reader/b"]) {
  Deno.test({
    name:
      `a second reader whose meter sends the same id as one on ${prefixOfA} takes prefixed identities and leaves the first's configs alone`,
    ignore: !enabled || CORPUS === undefined,
    async fn() {
      const broker = await startBroker();
      const watch = await subscriber(broker.anonymousUrl, ["homeassistant/#"]);
      let readers: MqttPublisher[] = [];
      try {
        const { a, b, ofA, lines } = await twoReadersOneMeterId(broker.anonymousUrl, prefixOfA);
        readers = [a, b];
        const all = [...configs(await retainedConfigs(broker.anonymousUrl, 11 + 14)).values()];
        const ofB = all.filter(readsFrom("p1reader"));
        assert.equal(ofB.length, 14);
        assert.ok(
          ofB.every((c) => String(c.unique_id).startsWith(`p1reader_p1reader_${PLACEHOLDER}_`)),
        );
        assert.deepEqual(
          [...identities(ofB)].filter((id) => identities([...ofA.values()]).has(id)),
          [],
        );
        // Reader A's configs went out once each and were never touched again, not even its gas
        // meter's, which reader B's meter (with channel 1 empty) would remove as a phantom.
        const topicsOfA = [...ofA.keys()].map((id) => `homeassistant/sensor/${id}/config`);
        assert.ok(ofA.has(`p1reader_${PLACEHOLDER}_mbus1_reading`));
        for (const topic of topicsOfA) {
          assert.equal(watch.history.filter((m) => m.topic === topic).length, 1, topic);
        }
        assert.ok(
          lines.some((line) => line.includes("another reader on the broker")),
          lines.join("\n"),
        );
      } finally {
        for (const publisher of readers) await publisher.stop();
        await watch.client.endAsync();
        await broker.dispose();
      }
    },
  });
}

Deno.test({
  name: "readers that restart keep their identities",
  ignore: !enabled || CORPUS === undefined,
  async fn() {
    const broker = await startBroker();
    const readers: MqttPublisher[] = [];
    try {
      const first = await twoReadersOneMeterId(broker.anonymousUrl);
      readers.push(first.a, first.b);
      const before = configs(await retainedConfigs(broker.anonymousUrl, 25));
      for (const publisher of readers) await publisher.stop();

      // Reader B first this time: reader A's retained configs still tell it to keep its prefix.
      const watch = await subscriber(broker.anonymousUrl, ["homeassistant/#"]);
      const b = await reader(broker.anonymousUrl, { clientId: "readerB" });
      readers.push(b);
      b.offer(received("corpus/be-fluvius-no-gas.txt"));
      const a = await reader(broker.anonymousUrl, { prefix: "garage", clientId: "readerA" });
      readers.push(a);
      a.offer(received("corpus/be-fluvius-1phase.txt"));
      // Each reader sends its configs again once it decided; the same 25 topics, nothing new.
      await waitFor(
        () => watch.history.filter((m) => !m.retain && m.topic.endsWith("/config")).length >= 25,
        "both readers' configs again",
      );
      const after = configs(await retainedConfigs(broker.anonymousUrl, 25));
      assert.deepEqual([...after.keys()].sort(), [...before.keys()].sort());
      await watch.client.endAsync();
    } finally {
      for (const publisher of readers) await publisher.stop();
      await broker.dispose();
    }
  },
});

Deno.test({
  name:
    "one of two readers on the default prefix killed with -9: the other's entities stay available",
  ignore: !enabled,
  async fn() {
    const broker = await startBroker();
    const servers: RunningServer[] = [];
    try {
      // Reader A with the default client id (its status is `p1reader/status`, as it always was),
      // reader B with its own, each replaying its own meter once a second.
      for (
        const [meter, clientId] of [
          ["nl-dsmr50-1phase-water.txt", []],
          ["be-emucs-peak.txt", ["--mqtt-client-id", "readerB"]],
        ] as const
      ) {
        servers.push(
          await startServer([
            "--source",
            `file:${fixture(meter)}`,
            "--replay-interval",
            "1",
            "--replay-loop",
            "--mqtt-url",
            broker.anonymousUrl,
            ...clientId,
          ]),
        );
      }
      const ofMeter = (id: string) => (c: Config) =>
        String(c.state_topic).startsWith(`p1reader/${id}/`);
      let last = await retainedConfigs(broker.anonymousUrl, 17 + 15);
      const all = [...configs(last).values()];
      const ofA = all.filter(ofMeter("E0053004723456789"));
      const ofB = all.filter(ofMeter("1SAG1100042181"));
      assert.deepEqual([ofA.length, ofB.length], [17, 15]);
      await waitFor(async () => {
        last = await retainedConfigs(broker.anonymousUrl, 32);
        return all.every((config) => available(config, last));
      }, "both meters available");
      const topics = (list: Config[]) =>
        new Set(list.flatMap((c) => (c.availability as { topic: string }[]).map((a) => a.topic)));
      assert.deepEqual(
        topics(ofA),
        new Set(["p1reader/status", "p1reader/E0053004723456789/status"]),
      );
      assert.deepEqual(
        topics(ofB),
        new Set(["p1reader/readers/readerB/status", "p1reader/1SAG1100042181/status"]),
      );

      for (const victim of [0, 1]) {
        if (victim === 1) {
          // Reader A comes back, then reader B is the one killed.
          await servers[0]!.stop();
          servers[0] = await startServer([
            "--source",
            `file:${fixture("nl-dsmr50-1phase-water.txt")}`,
            "--replay-interval",
            "1",
            "--replay-loop",
            "--mqtt-url",
            broker.anonymousUrl,
          ]);
          await waitFor(async () => {
            last = await retainedConfigs(broker.anonymousUrl, 32);
            return all.every((config) => available(config, last));
          }, "both meters available again");
        }
        const [killed, kept] = victim === 0 ? [ofA, ofB] : [ofB, ofA];
        servers[victim]!.child.kill("SIGKILL");
        await waitFor(async () => {
          last = await retainedConfigs(broker.anonymousUrl, 32);
          return killed.every((config) => !available(config, last));
        }, "the killed reader's last will");
        assert.ok(kept.every((config) => available(config, last)), "the other stays available");
      }
    } finally {
      for (const server of servers) await server.stop();
      await broker.dispose();
    }
  },
});

Deno.test({
  name:
    "two readers on one prefix that publish the same meter id keep it available while either reads it live",
  ignore: !enabled,
  async fn() {
    const broker = await startBroker();
    const url = broker.anonymousUrl;
    const a = await reader(url, { clientId: "readerA" });
    const b = await reader(url, { clientId: "readerB" });
    const stopped = new Set<MqttPublisher>();
    try {
      // B reads A's --share-port, say: the same telegrams, the same meter id, the same state topic.
      const telegram = received("nl-dsmr50-1phase-water.txt");
      a.offer(telegram);
      b.offer(telegram);
      const count = 17;
      const allAvailable = async () => {
        const last = await retainedConfigs(url, count);
        return [...configs(last).values()].every((config) => available(config, last));
      };
      await waitFor(allAvailable, "every entity available");

      // The reader that said offline last for the meter (it went stale) does not speak for the
      // other one, which still reads it live.
      b.receiverStateChanged("stale");
      await waitFor(allAvailable, "available while reader A reads the meter live");

      // The reader whose configs hold (the last to send them) stops: the other one's entities stay.
      const last = await retainedConfigs(url, count);
      const holder =
        String((configs(last).values().next().value!.availability as { topic: string }[])[0]!.topic)
            .endsWith("/readerA/status")
          ? a
          : b;
      const other = holder === a ? b : a;
      other.receiverStateChanged("connected");
      await holder.stop();
      stopped.add(holder);
      await waitFor(allAvailable, "available while the other reader runs");
    } finally {
      for (const publisher of [a, b]) if (!stopped.has(publisher)) await publisher.stop();
      await broker.dispose();
    }
  },
});
