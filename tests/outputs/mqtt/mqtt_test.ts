/**
 * MQTT on a real mosquitto: discovery as Home Assistant receives it (retained), availability,
 * reconnection, logins, and the cases of issue 21: a heat-only meter, an empty M-Bus slot, a
 * water meter, two readers on one broker and a meter going silent.
 */
import assert from "node:assert/strict";
import mqtt from "mqtt";
import { MqttPublisher } from "../../../lib/outputs/mqtt/publisher.ts";
import { CORPUS, fixture } from "../../support/paths.ts";
import { startBroker } from "../../support/mosquitto.ts";
import { startDongle } from "../../support/dongle.ts";
import { waitFor } from "../../support/helpers.ts";
import { startServer } from "../../support/server.ts";
import {
  available,
  brokerTestsEnabled as enabled,
  configs,
  reader,
  received,
  retainedConfigs,
  subscriber,
} from "./broker_support.ts";
import { configSetProblems, renderValueTemplate, sensorConfigProblems } from "./ha_rules.ts";

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
    // Equipment id, 4 energy registers, 2 power totals, 6 values x 3 phases, tariff, 2 failure
    // counters, 4 M-Bus meters.
    const discovery = () =>
      [...watch.last.keys()].filter((t) => t.startsWith("homeassistant/sensor/")).length;
    await waitFor(() => discovery() === 32, "32 discovery configs");
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(discovery(), 32);

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
      assert.deepEqual(sensorConfigProblems(topic, config), []);
      assert.ok(available(config, watch.last), `${config.unique_id} is available`);
      const stateJson = JSON.parse(watch.last.get(config.state_topic)!.payload);
      const value = renderValueTemplate(config.value_template, stateJson);
      const numeric = "unit_of_measurement" in config || "state_class" in config;
      const types = numeric ? ["number"] : ["number", "string"];
      assert.ok(types.includes(typeof value), `${config.unique_id} resolves to ${value}`);
    }
    // Retained: a subscriber that arrives later (Home Assistant restarting) still gets every config.
    const late = await subscriber(broker.anonymousUrl, ["homeassistant/#", "p1reader/status"]);
    await waitFor(() => late.last.size === 33, "the retained configs and status");
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
    assert.ok(parsed.every(({ config }) => !available(config, watch.last)), "unavailable on stop");
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
    // Discovery of a meter new to the reader follows its look at the retained configs.
    await waitFor(
      () => watch.last.has("homeassistant/sensor/p1reader_1SAG1100042181_demand_month_peak/config"),
      "the new meter's discovery",
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
      // Every telegram came while the broker refused us: each is counted as missed.
      assert.ok(status.counters.telegramsOk > 0);
      assert.deepEqual(status.mqtt, {
        connected: false,
        published: 0,
        missed: status.counters.telegramsOk,
        connects: 0,
        takeovers: 0,
      });
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

Deno.test({
  name: "a heat-only meter appears as its own device, with its heat meter linked to it",
  ignore: !enabled || CORPUS === undefined,
  async fn() {
    const broker = await startBroker();
    const publisher = await reader(broker.anonymousUrl);
    publisher.offer(received("corpus/nl-warmtelink-heat-unpadded-crc.txt"));
    const last = await retainedConfigs(broker.anonymousUrl, 2);
    const byId = configs(last);
    assert.deepEqual([...byId.keys()].sort(), [
      "p1reader_ADC3100000158491_equipment_id",
      "p1reader_ADC3100000158491_mbus1_reading",
    ]);
    assert.deepEqual(configSetProblems([...byId.values()]), []);
    const heat = byId.get("p1reader_ADC3100000158491_mbus1_reading")!;
    assert.equal((heat.device as { via_device: string }).via_device, "p1reader_ADC3100000158491");
    assert.ok([...byId.values()].every((config) => available(config, last)));
    await publisher.stop();
    await broker.dispose();
  },
});

Deno.test({
  name: "an empty M-Bus slot gets no sensor, and the phantom gas meter of an older version goes",
  ignore: !enabled || CORPUS === undefined,
  async fn() {
    const broker = await startBroker();
    // What the previous release left retained for the empty slot: a "Gas" sensor at 0 m³.
    const phantom = "homeassistant/sensor/p1reader_E0044007382246019_mbus1_reading/config";
    const before = await mqtt.connectAsync(broker.anonymousUrl, { clientId: "old-release" });
    await before.publishAsync(
      phantom,
      JSON.stringify({
        unique_id: "p1reader_E0044007382246019_mbus1_reading",
        name: "Gas",
        state_topic: "p1reader/E0044007382246019/mbus/1/state",
      }),
      { qos: 1, retain: true },
    );
    await before.endAsync();
    const watch = await subscriber(broker.anonymousUrl, ["homeassistant/#"]);
    await waitFor(() => watch.last.get(phantom)?.payload !== undefined, "the phantom config");
    const publisher = await reader(broker.anonymousUrl);
    publisher.offer(received("corpus/nl-dsmr50-iskra-am550-two-mbus.txt"));
    await waitFor(() => watch.last.get(phantom)?.payload === "", "the phantom's removal");
    const byId = configs(await retainedConfigs(broker.anonymousUrl, 29));
    assert.ok(!byId.has("p1reader_E0044007382246019_mbus1_reading"));
    const gas = [...byId.values()].filter((config) => config.device_class === "gas");
    assert.deepEqual(gas.map((config) => config.unique_id), [
      "p1reader_E0044007382246019_mbus2_reading",
    ]);
    await publisher.stop();
    await watch.client.endAsync();
    await broker.dispose();
  },
});

Deno.test({
  name: "a water meter is published as water in m³ with its reading on its own topic",
  ignore: !enabled,
  async fn() {
    const broker = await startBroker();
    const watch = await subscriber(broker.anonymousUrl, ["homeassistant/#", "p1reader/#"]);
    const publisher = await reader(broker.anonymousUrl);
    publisher.offer(received("nl-dsmr50-1phase-water.txt"));
    const water = "homeassistant/sensor/p1reader_E0053004723456789_mbus1_reading/config";
    const state = "p1reader/E0053004723456789/mbus/1/state";
    await waitFor(() => watch.last.has(water) && watch.last.has(state), "the water meter");
    const config = JSON.parse(watch.last.get(water)!.payload);
    assert.deepEqual(sensorConfigProblems(water, config), []);
    assert.deepEqual(
      [config.device_class, config.unit_of_measurement, config.state_class, config.state_topic],
      ["water", "m³", "total_increasing", state],
    );
    const reading = renderValueTemplate(
      config.value_template,
      JSON.parse(watch.last.get(state)!.payload),
    );
    assert.equal(reading, 318.204);
    await waitFor(() => available(config, watch.last), "the water meter to be available");
    await publisher.stop();
    await watch.client.endAsync();
    await broker.dispose();
  },
});

Deno.test({
  name: "a meter that goes silent makes its entities unavailable, and available again on return",
  ignore: !enabled,
  async fn() {
    const broker = await startBroker();
    const telegram = Deno.readFileSync(fixture("nl-dsmr50-1phase-water.txt"));
    const dongle = startDongle(telegram);
    const watch = await subscriber(broker.anonymousUrl, ["homeassistant/#", "p1reader/#"]);
    const server = await startServer([
      "--source",
      `tcp://127.0.0.1:${dongle.port}`,
      "--stale-after",
      "1",
      "--mqtt-url",
      broker.anonymousUrl,
    ]);
    try {
      const meterStatus = () => watch.last.get("p1reader/E0053004723456789/status")?.payload;
      const entities = () => [...configs(watch.last).values()];
      await waitFor(() => meterStatus() === "online", "the meter to be live", 20_000);
      await waitFor(() => entities().length === 17, "the discovery configs");
      assert.ok(entities().every((config) => available(config, watch.last)));

      dongle.feeding = false;
      await waitFor(() => meterStatus() === "offline", "the silent meter to be noticed", 20_000);
      assert.equal(watch.last.get("p1reader/status")?.payload, "online", "the reader still runs");
      assert.ok(entities().every((config) => !available(config, watch.last)));

      dongle.feeding = true;
      await waitFor(() => meterStatus() === "online", "the meter's return", 20_000);
      assert.ok(entities().every((config) => available(config, watch.last)));
    } finally {
      await server.stop();
      await dongle.close();
      await watch.client.endAsync();
      await broker.dispose();
    }
  },
});

Deno.test({
  name:
    "every sensor expires without state messages, later than --mqtt-interval's and never before ten minutes",
  ignore: !enabled,
  async fn() {
    for (const intervalSeconds of [0, 300]) {
      const broker = await startBroker(); // its own: none of the configs before are retained
      const publisher = new MqttPublisher({
        url: broker.anonymousUrl,
        version: "test",
        intervalSeconds,
        backoff: { initialMs: 100 },
      });
      publisher.start();
      try {
        await waitFor(() => publisher.stats.connected, "the connection");
        publisher.offer(received("nl-dsmr50-3phase-4mbus.txt"));
        const last = await retainedConfigs(broker.anonymousUrl, 32);
        const byTopic = [...last].filter(([topic]) => topic.startsWith("homeassistant/sensor/"));
        for (const [topic, message] of byTopic) {
          const config = JSON.parse(message.payload);
          assert.deepEqual(sensorConfigProblems(topic, config), []);
          assert.equal(typeof config.expire_after, "number", topic);
          assert.ok(config.expire_after >= 600, `${topic}: ${config.expire_after}`);
          assert.ok(config.expire_after > 2 * intervalSeconds, `${topic}: ${config.expire_after}`);
        }
      } finally {
        await publisher.stop();
        await broker.dispose();
      }
    }
  },
});
