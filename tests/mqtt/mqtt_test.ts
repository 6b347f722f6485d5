import assert from "node:assert/strict";
import mqtt from "mqtt";
import { FrameScanner } from "../../lib/dsmr/framer.ts";
import { parseTelegram } from "../../lib/dsmr/parse.ts";
import { MqttPublisher } from "../../lib/mqtt/publisher.ts";
import type { ReceivedTelegram } from "../../lib/receiver.ts";
import { fixtureBytes } from "../support/paths.ts";
import { haveMosquitto, startBroker } from "../support/mosquitto.ts";
import { waitFor } from "../support/helpers.ts";
import { startServer } from "../support/server.ts";

const enabled = haveMosquitto() || Deno.env.get("CI") !== undefined;

function received(name: string): ReceivedTelegram {
  const [raw] = new FrameScanner().push(fixtureBytes(name));
  return { telegram: parseTelegram(raw!), bytes: raw!.bytes, receivedAt: Date.now() };
}

/** A subscriber that keeps the last message per topic. */
async function subscriber(url: string, topics: string[]) {
  const client = await mqtt.connectAsync(url, {
    clientId: `test-${crypto.randomUUID()}`,
    reconnectPeriod: 100,
  });
  const last = new Map<string, { payload: string; retain: boolean }>();
  const all: string[] = [];
  client.on("message", (topic, payload, packet) => {
    last.set(topic, { payload: payload.toString(), retain: packet.retain });
    all.push(topic);
  });
  await client.subscribeAsync(topics, { qos: 1 });
  return { client, last, all };
}

/** Resolves `{{ value_json.a.b.c }}` against a JSON state, as Home Assistant would. */
function resolveTemplate(template: string, state: unknown): unknown {
  const path = /^\{\{ value_json\.([\w.]+) \}\}$/.exec(template)?.[1];
  assert.ok(path, template);
  return path.split(".").reduce<unknown>(
    (value, key) => (value as Record<string, unknown> | undefined)?.[key],
    state,
  );
}

Deno.test({
  name:
    "Home Assistant discovery: a config per value, right classes and units, M-Bus meters as linked devices",
  ignore: !enabled,
  async fn() {
    const broker = await startBroker();
    const watch = await subscriber(broker.anonymousUrl, ["homeassistant/#", "p1reader/#"]);
    const publisher = new MqttPublisher({
      url: broker.anonymousUrl,
      version: "test",
      backoff: { initialMs: 100 },
    });
    publisher.start();
    await waitFor(() => publisher.stats.connected, "the connection");
    publisher.offer(received("nl-dsmr50-3phase-4mbus.txt"));
    const state = "p1reader/E0043007052870318/state";
    await waitFor(
      () => watch.last.has(state) && watch.last.has("p1reader/E0043007052870318/mbus/4/state"),
      "state messages",
    );
    // 4 energy registers, 2 power totals, 6 values x 3 phases, tariff, 2 failure counters, 4 M-Bus meters.
    const discovery = () =>
      [...watch.last.keys()].filter((t) => t.startsWith("homeassistant/sensor/")).length;
    await waitFor(() => discovery() === 31, "31 discovery configs");
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(discovery(), 31);

    const configs = [...watch.last.entries()].filter(([topic]) =>
      topic.startsWith("homeassistant/sensor/")
    );
    const parsed = configs.map(([topic, message]) => ({
      topic,
      retain: message.retain,
      config: JSON.parse(message.payload),
    }));
    const ids = parsed.map((p) => p.config.unique_id);
    assert.equal(new Set(ids).size, ids.length, "unique ids are unique");
    for (const { topic, config } of parsed) {
      assert.equal(topic, `homeassistant/sensor/${config.unique_id}/config`);
      assert.match(config.unique_id, /^[a-zA-Z0-9_-]+$/);
      assert.equal(config.availability_topic, "p1reader/status");
      const stateJson = JSON.parse(watch.last.get(config.state_topic)!.payload);
      assert.equal(
        typeof resolveTemplate(config.value_template, stateJson),
        "number",
        `${config.unique_id} resolves to a number`,
      );
    }
    // Retained: a subscriber that arrives later (Home Assistant restarting) still gets every config.
    const late = await subscriber(broker.anonymousUrl, ["homeassistant/#", "p1reader/status"]);
    await waitFor(() => late.last.size === 32, "the retained configs and status");
    assert.ok([...late.last.values()].every((message) => message.retain));
    await late.client.endAsync();
    const byId = new Map(
      parsed.map((p) => [p.config.unique_id.replace("p1reader_E0043007052870318_", ""), p.config]),
    );
    const expect = (
      id: string,
      deviceClass: string | undefined,
      stateClass: string,
      unit: string | undefined,
    ) => {
      const config = byId.get(id);
      assert.ok(config, `a sensor ${id}`);
      assert.equal(config.device_class, deviceClass, id);
      assert.equal(config.state_class, stateClass, id);
      assert.equal(config.unit_of_measurement, unit, id);
    };
    expect("energy_import_t1", "energy", "total_increasing", "kWh");
    expect("energy_export_t2", "energy", "total_increasing", "kWh");
    expect("power_import", "power", "measurement", "kW");
    expect("power_export_l3", "power", "measurement", "kW");
    expect("voltage_l2", "voltage", "measurement", "V");
    expect("current_l1", "current", "measurement", "A");
    expect("power_failures", undefined, "total_increasing", undefined);
    expect("mbus1_reading", "gas", "total_increasing", "m³");
    expect("mbus2_reading", "water", "total_increasing", "m³");
    expect("mbus3_reading", "energy", "total_increasing", "GJ");
    expect("mbus4_reading", "energy", "total_increasing", "kWh");
    assert.ok(!byId.has("energy_import_t3"), "no sensor for a value the meter does not send");
    assert.equal(byId.get("mbus1_reading").device.via_device, "p1reader_E0043007052870318");
    assert.equal(byId.get("tariff").device.manufacturer, "Iskra");
    assert.equal(byId.get("tariff").device.model, "ISK5\\2M550T-1013");
    assert.equal(watch.last.get("p1reader/status")?.payload, "online");
    assert.equal(JSON.parse(watch.last.get(state)!.payload).energy.import.t1.value, 12345.678);

    await publisher.stop();
    await waitFor(
      () => watch.last.get("p1reader/status")?.payload === "offline",
      "offline on stop",
    );
    await watch.client.endAsync();
    await broker.dispose();
  },
});

Deno.test({
  name:
    "after a broker restart the reader reconnects and republishes online, discovery and the latest state",
  ignore: !enabled,
  async fn() {
    const broker = await startBroker();
    const publisher = new MqttPublisher({
      url: broker.anonymousUrl,
      version: "test",
      backoff: { initialMs: 100, maxMs: 400 },
    });
    publisher.start();
    await waitFor(() => publisher.stats.connected, "the connection");
    publisher.offer(received("nl-dsmr50-3phase-4mbus.txt"));
    await broker.stop();
    await waitFor(() => !publisher.stats.connected, "the reader to notice");
    publisher.offer(received("be-emucs-peak.txt")); // while the broker is away: kept, not queued
    await broker.restart();
    const watch = await subscriber(broker.anonymousUrl, ["homeassistant/#", "p1reader/#"]);
    await waitFor(() => publisher.stats.connects === 2, "the reconnection", 10_000);
    await waitFor(
      () => watch.last.has("p1reader/1SAG1100042181/state"),
      "the latest state, republished",
    );
    assert.equal(watch.last.get("p1reader/status")?.payload, "online");
    assert.ok(
      watch.last.has("homeassistant/sensor/p1reader_1SAG1100042181_demand_month_peak/config"),
    );
    assert.ok(
      !watch.last.has("p1reader/E0043007052870318/state"),
      "the state from before the outage is not replayed",
    );
    await publisher.stop();
    await watch.client.endAsync();
    await broker.dispose();
  },
});

Deno.test({
  name:
    "a wrong password gives one clear error, retries with backoff, and the service keeps working",
  ignore: !enabled,
  async fn() {
    const broker = await startBroker();
    const server = await startServer([
      "--source",
      "demo",
      "--mqtt-url",
      broker.securedUrl,
      "--mqtt-username",
      broker.user,
      "--mqtt-password",
      "wrong-password",
    ]);
    try {
      await new Promise((resolve) => setTimeout(resolve, 3500));
      const health = await fetch(`${server.url}/healthz`);
      assert.equal(health.status, 200, "the rest of the service works");
      await health.body?.cancel();
      const status = await (await fetch(`${server.url}/api/v1/status`)).json();
      assert.deepEqual(status.mqtt, { connected: false, published: 0, connects: 0 });
      const refusals = server.log().split("\n").filter((line) =>
        line.includes("refused the login")
      );
      assert.equal(refusals.length, 1, server.log());
      assert.match(refusals[0]!, /check --mqtt-username and --mqtt-password/);
      assert.ok(!server.log().includes("wrong-password"), "the password is never logged");
    } finally {
      await server.stop();
      await broker.dispose();
    }
  },
});

Deno.test({
  name: "the right password connects; a crashed reader's last will says offline",
  ignore: !enabled,
  async fn() {
    const broker = await startBroker();
    const watch = await subscriber(broker.anonymousUrl, ["p1reader/status"]);
    const server = await startServer([
      "--source",
      "demo",
      "--mqtt-url",
      broker.securedUrl.replace(
        "mqtt://",
        `mqtt://${broker.user}:${encodeURIComponent(broker.password)}@`,
      ),
    ]);
    try {
      await waitFor(
        () => watch.last.get("p1reader/status")?.payload === "online",
        "online",
        10_000,
      );
      assert.ok(!server.log().includes("battery"), "credentials in the URL are never logged");
      server.child.kill("SIGKILL");
      await waitFor(
        () => watch.last.get("p1reader/status")?.payload === "offline",
        "the last will",
        10_000,
      );
    } finally {
      await server.stop();
      await watch.client.endAsync();
      await broker.dispose();
    }
  },
});
