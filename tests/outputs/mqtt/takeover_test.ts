/**
 * Two readers on one real mosquitto (issue 21, "Two readers, one identity"): with their own
 * prefixes they get their own client ids and stay connected; forced to one client id, they take
 * each other's connection over, and then back off, say so once, and leave the retained discovery
 * configs alone.
 */
import assert from "node:assert/strict";
import mqtt from "mqtt";
import { MqttPublisher } from "../../../lib/outputs/mqtt/publisher.ts";
import { startBroker } from "../../support/mosquitto.ts";
import { memoryLogger, waitFor } from "../../support/helpers.ts";
import { type RunningServer, startServer } from "../../support/server.ts";
import { brokerTestsEnabled as enabled, received, subscriber } from "./broker_support.ts";

/** How many messages each topic received. */
function countByTopic(history: { topic: string }[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const { topic } of history) counts.set(topic, (counts.get(topic) ?? 0) + 1);
  return counts;
}

Deno.test({
  name: "two readers started with their own --mqtt-prefix share a broker without a takeover",
  ignore: !enabled,
  async fn() {
    const broker = await startBroker();
    const watch = await subscriber(broker.anonymousUrl, ["+/status", "+/+/state"]);
    const servers: RunningServer[] = [];
    try {
      for (const prefix of [[], ["--mqtt-prefix", "garage"]]) {
        servers.push(
          await startServer(["--source", "demo", "--mqtt-url", broker.anonymousUrl, ...prefix]),
        );
      }
      const states = (prefix: string) =>
        watch.history.filter((m) => m.topic.startsWith(`${prefix}/`) && m.topic.endsWith("/state"))
          .length;
      // The demo meter sends a telegram a second: a few of them from both is a few seconds, in
      // which a takeover storm (one a second) shows.
      await waitFor(
        () => states("p1reader") >= 4 && states("garage") >= 4,
        "four telegrams from each reader",
        20_000,
      );
      const statuses = watch.history.filter((m) => m.topic.endsWith("/status"));
      assert.deepEqual(
        statuses.map((m) => `${m.topic} ${m.payload}`).sort(),
        ["garage/status online", "p1reader/status online"],
        "each reader said online once and never went offline",
      );
      assert.doesNotMatch(broker.log(), /already connected/);
      assert.match(broker.log(), / as p1reader \(/);
      assert.match(broker.log(), / as p1reader-garage \(/);
      for (const server of servers) {
        const status = await (await fetch(`${server.url}/api/v1/status`)).json();
        assert.equal(status.mqtt.connects, 1, server.log());
        assert.equal(status.mqtt.takeovers, 0);
        assert.doesNotMatch(server.log(), /unreachable|same client id/);
      }
    } finally {
      for (const server of servers) await server.stop();
      await watch.client.endAsync();
      await broker.dispose();
    }
  },
});

Deno.test({
  name:
    "two readers forced to one client id back off, log the takeover once each, and send discovery once",
  ignore: !enabled,
  async fn() {
    const broker = await startBroker();
    const watch = await subscriber(broker.anonymousUrl, ["homeassistant/#"]);
    const readers = ["p1reader", "garage"].map((prefix) => {
      const { logger, lines } = memoryLogger();
      const publisher = new MqttPublisher({
        url: broker.anonymousUrl,
        version: "test",
        prefix,
        clientId: "shared",
        backoff: { initialMs: 100, maxMs: 800 },
        logger,
      });
      return { publisher, lines, connectedAt: [] as number[] };
    });
    readers[0]!.publisher.offer(received("nl-dsmr50-1phase-water.txt"));
    readers[1]!.publisher.offer(received("be-emucs-peak.txt"));
    for (const { publisher } of readers) publisher.start();
    try {
      // The time of each reader's connects, as they happen.
      const track = () => {
        for (const reader of readers) {
          while (reader.connectedAt.length < reader.publisher.stats.connects) {
            reader.connectedAt.push(Date.now());
          }
        }
        return readers.every((reader) => reader.connectedAt.length >= 5);
      };
      await waitFor(track, "five connects of each reader", 30_000);
      assert.match(broker.log(), /Client shared already connected, closing old connection/);
      for (const { publisher, lines, connectedAt } of readers) {
        // Each wait before a reconnect doubles (100, 200, 400, 800 ms), and each connection lasts
        // until the other reader's next attempt: the fourth gap is at least the longest wait.
        // A backoff that restarted on every connect kept every gap near 100-200 ms.
        const gaps = connectedAt.slice(1).map((at, i) => at - connectedAt[i]!);
        assert.ok(gaps[3]! >= 800, `gaps between connects grow: ${gaps.join(", ")} ms`);
        assert.ok(publisher.stats.takeovers >= 3, `takeovers: ${publisher.stats.takeovers}`);
        const warnings = lines.filter((line) => line.includes("same client id"));
        assert.equal(warnings.length, 1, lines.join("\n"));
        assert.match(warnings[0]!, /WARN .*--mqtt-client-id.* clientId=shared/);
        assert.equal(lines.filter((line) => /unreachable|connection lost/.test(line)).length, 0);
      }
      // The broker kept the retained configs through every takeover: each went out once (twice
      // at most, when a takeover cut its first sending short), not once per reconnect.
      const configs = watch.history.filter((m) => m.topic.endsWith("/config"));
      const counts = countByTopic(configs);
      assert.equal(counts.size, 17 + 15, "the configs of both meters");
      assert.ok(
        [...counts.values()].every((count) => count <= 2),
        `config messages per topic: ${[...counts.values()].join(" ")}`,
      );
      const late = await subscriber(broker.anonymousUrl, ["homeassistant/#"]);
      await waitFor(() => late.last.size === counts.size, "every config, retained");
      await late.client.endAsync();

      // The other reader goes away: the next connection holds, and the backoff starts again.
      await readers[1]!.publisher.stop();
      await waitFor(
        () => readers[0]!.lines.some((line) => line.includes("no other client took it over")),
        "the connection to hold",
        10_000,
      );
      assert.ok(readers[0]!.publisher.stats.connected);
    } finally {
      for (const { publisher } of readers) await publisher.stop();
      await watch.client.endAsync();
      await broker.dispose();
    }
  },
});

Deno.test({
  name: "a retained Home Assistant online message does not make discovery go out twice",
  ignore: !enabled,
  async fn() {
    const broker = await startBroker();
    // Some setups retain Home Assistant's birth message: it then arrives on every subscription.
    const homeAssistant = await mqtt.connectAsync(broker.anonymousUrl, { clientId: "ha" });
    await homeAssistant.publishAsync("homeassistant/status", "online", { qos: 1, retain: true });
    const watch = await subscriber(broker.anonymousUrl, ["homeassistant/sensor/#", "p1reader/#"]);
    const publisher = new MqttPublisher({ url: broker.anonymousUrl, version: "test" });
    publisher.offer(received("nl-dsmr50-1phase-water.txt"));
    publisher.start();
    try {
      const configs = () => watch.history.filter((m) => m.topic.endsWith("/config"));
      await waitFor(() => configs().length >= 17, "the discovery configs");
      // The next telegram's state, once it arrives, follows anything the retained message set off.
      publisher.offer(received("nl-dsmr50-1phase-water.txt"));
      const state = "p1reader/E0053004723456789/state";
      await waitFor(
        () => watch.history.filter((m) => m.topic === state).length === 2,
        "the second state",
      );
      assert.equal(configs().length, 17);

      // Home Assistant restarting (its birth message, live) still brings discovery again.
      await homeAssistant.publishAsync("homeassistant/status", "online", { qos: 1 });
      await waitFor(() => configs().length === 34, "discovery for a restarted Home Assistant");
    } finally {
      await publisher.stop();
      await homeAssistant.endAsync();
      await watch.client.endAsync();
      await broker.dispose();
    }
  },
});
