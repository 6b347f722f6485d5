/**
 * Home Assistant discovery, judged by Home Assistant's own rules (`ha_rules.ts`) on every corpus
 * telegram and fixture, and checked against the discovery of the release before (entity ids and
 * history must survive an upgrade). Pure: the broker tests are in `mqtt_test.ts`.
 */
import assert from "node:assert/strict";
import { FrameScanner } from "../../../lib/dsmr/framer.ts";
import type { Telegram } from "../../../lib/dsmr/model.ts";
import { parseTelegram } from "../../../lib/dsmr/parse.ts";
import {
  defaultEntityId,
  discoveryMessages,
  type DiscoveryOptions,
  emptySlotTopics,
  expireAfterSeconds,
  type MqttMessage,
  statusTopic,
} from "../../../lib/outputs/mqtt/discovery.ts";
import { decideIdentity, topicsToCheck } from "../../../lib/outputs/mqtt/identity.ts";
import { fullTelegram } from "../../../lib/views/full.ts";
import { CORPUS, ROOT } from "../../support/paths.ts";
import {
  configSetProblems,
  energySources,
  renderValueTemplate,
  sensorConfigProblems,
} from "./ha_rules.ts";

const OPTIONS: DiscoveryOptions = {
  prefix: "p1reader",
  discoveryPrefix: "homeassistant",
  version: "test",
};

type Config = Record<string, unknown> & {
  unique_id: string;
  state_topic: string;
  value_template: string;
  device: { identifiers: string[]; via_device?: string };
};

/** Every valid telegram of a file. */
function telegramsOf(path: string): Telegram[] {
  const scanner = new FrameScanner();
  const raws = [...scanner.push(Deno.readFileSync(path)), ...scanner.flush()];
  return raws.flatMap((raw) => {
    try {
      return [parseTelegram(raw)];
    } catch {
      return []; // the corpus's negative cases (wrong CRC): rejected, so never published
    }
  });
}

/** Every valid telegram of the corpus (when present) and of `fixtures/`, by `corpus/<file>`. */
const TELEGRAMS: [string, Telegram][] = [
  ...(CORPUS ? [["corpus", `${CORPUS}telegrams`]] : []),
  ["fixtures", `${ROOT}fixtures`],
].flatMap(([label, dir]) =>
  [...Deno.readDirSync(dir!)].filter((entry) => entry.name.endsWith(".txt"))
    .flatMap((entry) =>
      telegramsOf(`${dir}/${entry.name}`).map((t): [string, Telegram] => [
        `${label}/${entry.name}`,
        t,
      ])
    )
);

function telegram(name: string): Telegram {
  const found = TELEGRAMS.find(([n]) => n === name)?.[1];
  assert.ok(found, `${name} is not a valid telegram here`);
  return found;
}

const configsOf = (messages: MqttMessage[]): Config[] =>
  messages.filter((m) => m.payload !== "").map((m) => JSON.parse(m.payload));

/** The JSON state a config reads: the meter's, or one M-Bus device's. */
function stateFor(config: Config, t: Telegram): unknown {
  const channel = /\/mbus\/(\d)\/state$/.exec(config.state_topic)?.[1];
  if (channel) return t.mbus.find((device) => device.channel === Number(channel));
  return fullTelegram({ telegram: t, bytes: new Uint8Array(), receivedAt: 0 });
}

Deno.test("every config of every corpus telegram and fixture passes Home Assistant's rules", () => {
  let checked = 0;
  for (const [name, t] of TELEGRAMS) {
    const messages = discoveryMessages(OPTIONS, t);
    for (const message of messages.filter((m) => m.payload !== "")) {
      const config = JSON.parse(message.payload) as Config;
      assert.deepEqual(sensorConfigProblems(message.topic, config), [], `${name} ${message.topic}`);
      const value = renderValueTemplate(config.value_template, stateFor(config, t));
      const numeric = "unit_of_measurement" in config || "state_class" in config;
      if (numeric) assert.equal(typeof value, "number", `${name} ${config.unique_id}`);
      else {
        // Shown as text, which Home Assistant refuses beyond 255 characters.
        const text = typeof value === "string" || typeof value === "number" ? `${value}` : "";
        assert.ok(text.length > 0 && text.length <= 255, `${name} ${config.unique_id}: ${value}`);
      }
      checked++;
    }
    assert.deepEqual(configSetProblems(configsOf(messages)), [], name);
  }
  assert.ok(checked > (CORPUS ? 500 : 100), `${checked} configs checked`);
});

Deno.test("every energy, gas, water and heat reading can be picked in the Energy dashboard", () => {
  for (const [name, t] of TELEGRAMS) {
    for (const config of configsOf(discoveryMessages(OPTIONS, t))) {
      const wanted = config.device_class === "energy"
        ? "grid"
        : config.device_class === "gas" || config.device_class === "water"
        ? config.device_class
        : undefined;
      if (wanted) assert.ok(energySources(config).includes(wanted), `${name} ${config.unique_id}`);
    }
  }
});

Deno.test("a water meter (M-Bus device type 7) is a water sensor in m³", () => {
  const t = telegram("fixtures/nl-dsmr50-1phase-water.txt");
  const water = configsOf(discoveryMessages(OPTIONS, t)).find((c) =>
    c.unique_id === "p1reader_E0053004723456789_mbus1_reading"
  );
  assert.ok(water);
  assert.deepEqual(
    [water.device_class, water.unit_of_measurement, water.state_class],
    ["water", "m³", "total_increasing"],
  );
  assert.deepEqual(water.device, {
    identifiers: ["p1reader_E0053004723456789_mbus1"],
    name: "Water meter W0061234567890123",
    model: "M-Bus device type 7",
    via_device: "p1reader_E0053004723456789",
    serial_number: "W0061234567890123",
  });
  assert.deepEqual(energySources(water), ["water"]);
});

Deno.test({
  name: "an empty M-Bus slot is no device, and the config an older version made there is named",
  ignore: CORPUS === undefined,
  fn() {
    for (
      const [name, meter] of [
        ["corpus/nl-dsmr50-iskra-am550-two-mbus.txt", "p1reader_E0044007382246019"],
        ["corpus/nl-dsmr50-iskra-am550e-mbus2.txt", "p1reader_12345678901234567890123456789012"],
        ["corpus/be-fluvius-no-gas.txt", "p1reader_12345678901234567890123456789012"],
      ] as const
    ) {
      const messages = discoveryMessages(OPTIONS, telegram(name));
      const slot = `homeassistant/sensor/${meter}_mbus1_reading/config`;
      assert.ok(messages.every((m) => m.topic !== slot));
      assert.deepEqual(emptySlotTopics(OPTIONS, telegram(name)), [
        slot,
        slot.replace("p1reader_", "p1reader_p1reader_"),
      ]);
      assert.ok(
        configsOf(messages).every((c) => !c.device.identifiers.includes(`${meter}_mbus1`)),
        name,
      );
    }
    const gas = configsOf(
      discoveryMessages(OPTIONS, telegram("corpus/nl-dsmr50-iskra-am550-two-mbus.txt")),
    ).filter((c) => c.device_class === "gas");
    assert.deepEqual(gas.map((c) => c.unique_id), ["p1reader_E0044007382246019_mbus2_reading"]);
  },
});

Deno.test({
  name: "a new meter's first reading of 0, captured at a real time, is a device",
  ignore: CORPUS === undefined,
  fn() {
    const configs = configsOf(
      discoveryMessages(OPTIONS, telegram("corpus/be-fluvius-multiple-gas.txt")),
    );
    assert.ok(configs.some((c) => c.unique_id.endsWith("_mbus2_reading")));
  },
});

Deno.test({
  name: "a heat-only meter's own device exists, so its heat meter links to a real device",
  ignore: CORPUS === undefined,
  fn() {
    const t = telegram("corpus/nl-warmtelink-heat-unpadded-crc.txt");
    const configs = configsOf(discoveryMessages(OPTIONS, t));
    assert.deepEqual(configs.map((c) => c.unique_id), [
      "p1reader_ADC3100000158491_equipment_id",
      "p1reader_ADC3100000158491_mbus1_reading",
    ]);
    assert.deepEqual(configs[0]!.device.identifiers, ["p1reader_ADC3100000158491"]);
    assert.equal(configs[0]!.entity_category, "diagnostic");
    assert.equal(configs[1]!.device.via_device, "p1reader_ADC3100000158491");
    assert.deepEqual(
      [configs[1]!.device_class, configs[1]!.unit_of_measurement],
      ["energy", "GJ"],
    );
    assert.deepEqual(configSetProblems(configs), []);
  },
});

Deno.test({
  name: "an M-Bus meter is not linked to the meter when the meter itself has no sensor",
  ignore: CORPUS === undefined,
  fn() {
    const { equipmentId: _id, ...t } = telegram("corpus/nl-warmtelink-heat-unpadded-crc.txt");
    const configs = configsOf(discoveryMessages(OPTIONS, t));
    assert.deepEqual(configs.map((c) => c.unique_id), ["p1reader_NWA-WARMTELINK_mbus1_reading"]);
    assert.equal(configs[0]!.device.via_device, undefined);
  },
});

/** The discovery of the release before issue 21, recorded: per telegram, device and keys. */
const BEFORE_UPGRADE: {
  telegrams: Record<string, { device: string; keys: string[] }>;
} = JSON.parse(Deno.readTextFileSync(new URL("discovery_before_upgrade.json", import.meta.url)));

for (const prefix of ["p1reader", "garage/p1"]) {
  Deno.test(`with the prefix ${prefix}, the previous release's unique ids, devices and entity ids stay`, () => {
    const kept = keptOnUpgrade({ ...OPTIONS, prefix });
    assert.ok(kept > (CORPUS ? 500 : 50), `${kept} configs kept`);
  });
}

/** Checks the plain identity against the recording; how many configs it kept. */
function keptOnUpgrade(options: DiscoveryOptions): number {
  let kept = 0;
  for (const [name, { device, keys }] of Object.entries(BEFORE_UPGRADE.telegrams)) {
    if (name.startsWith("corpus/") && CORPUS === undefined) continue;
    const messages = discoveryMessages(options, telegram(name), "plain");
    const byTopic = new Map(messages.map((m) => [m.topic, m.payload]));
    const slots = emptySlotTopics(options, telegram(name));
    for (const key of keys) {
      const uniqueId = `${device}_${key}`;
      const topic = `homeassistant/sensor/${uniqueId}/config`;
      const payload = byTopic.get(topic);
      if (slots.includes(topic)) {
        // Only the phantom gas meters of empty slots go (see the empty-slot test).
        assert.match(key, /^mbus\d_reading$/, `${name}: ${key} removed`);
        assert.equal(payload, undefined);
        continue;
      }
      assert.ok(payload !== undefined, `${name}: ${topic} is published`);
      const config = JSON.parse(payload) as Config;
      const channel = /^mbus(\d)_reading$/.exec(key)?.[1];
      assert.equal(config.unique_id, uniqueId);
      // Home Assistant made the entity id from object_id (= unique_id) the same way.
      assert.equal(config.default_entity_id, `sensor.${uniqueId.toLowerCase()}`.replace(/-/g, "_"));
      assert.deepEqual(config.device.identifiers, [channel ? `${device}_mbus${channel}` : device]);
      if (channel) assert.equal(config.device.via_device, device);
      kept++;
    }
    const added = configsOf(messages).map((c) => c.unique_id.slice(device.length + 1))
      .filter((key) => !keys.includes(key));
    assert.deepEqual(added, added.length ? ["equipment_id"] : [], name);
  }
  return kept;
}

Deno.test("the entity id suggested is the one Home Assistant slugifies from the unique id", () => {
  assert.equal(
    defaultEntityId("p1reader_ISK5_2M550T-1012_power_import"),
    "sensor.p1reader_isk5_2m550t_1012_power_import",
  );
  assert.equal(defaultEntityId("p1reader_meter__x-_y_"), "sensor.p1reader_meter_x_y");
});

Deno.test("a prefixed identity shares nothing with the plain one of the same meter id", () => {
  const t = telegram("fixtures/nl-dsmr50-1phase-water.txt");
  const first = discoveryMessages(OPTIONS, t);
  const second = discoveryMessages({ ...OPTIONS, prefix: "garage/p1" }, t, "prefixed");
  const ids = (messages: MqttMessage[]) =>
    configsOf(messages).flatMap((c) => [
      c.unique_id,
      String(c.default_entity_id),
      ...c.device.identifiers,
    ]);
  const shared = ids(first).filter((id) => ids(second).includes(id));
  assert.deepEqual(shared, []);
  const topics = new Set(first.map((m) => m.topic));
  assert.ok(second.every((m) => !topics.has(m.topic)));
  const garage = configsOf(second);
  assert.equal(garage[0]!.unique_id, "p1reader_garage_p1_E0053004723456789_equipment_id");
  assert.equal(garage[0]!.state_topic, "garage/p1/E0053004723456789/state");
  assert.equal(
    (garage[0]!.device as { name?: string }).name,
    "P1 meter E0053004723456789 (garage/p1)",
  );
  assert.deepEqual(configSetProblems([...configsOf(first), ...garage]), []);
});

Deno.test("sensors are available only while the reader is online and its own meter is live", () => {
  const [config] = configsOf(discoveryMessages(OPTIONS, telegram("fixtures/be-emucs-peak.txt")));
  assert.deepEqual(config!.availability, [
    { topic: "p1reader/status" },
    { topic: "p1reader/1SAG1100042181/status" },
  ]);
  assert.equal(config!.availability_mode, "all");
});

Deno.test("each reader has its own availability topic; one with its prefix's client id keeps <prefix>/status", () => {
  assert.equal(statusTopic(OPTIONS), "p1reader/status");
  assert.equal(statusTopic({ ...OPTIONS, clientId: "p1reader" }), "p1reader/status");
  assert.equal(statusTopic({ ...OPTIONS, prefix: "garage" }), "garage/status");
  assert.equal(
    statusTopic({ ...OPTIONS, prefix: "garage", clientId: "p1reader-garage" }),
    "garage/status",
  );
  assert.equal(
    statusTopic({ ...OPTIONS, clientId: "reader B" }),
    "p1reader/readers/reader_B/status",
  );
  assert.equal(
    statusTopic({ ...OPTIONS, prefix: "garage", clientId: "p1reader" }),
    "garage/readers/p1reader/status",
  );
});

Deno.test("sensors expire after ten minutes without a state message, or three intervals", () => {
  const t = telegram("fixtures/nl-dsmr50-3phase-4mbus.txt");
  const expiries = (options: DiscoveryOptions) =>
    new Set(configsOf(discoveryMessages(options, t)).map((c) => c.expire_after));
  assert.deepEqual(expiries(OPTIONS), new Set([600]));
  assert.equal(expireAfterSeconds(0), 600);
  assert.equal(expireAfterSeconds(60), 600);
  assert.equal(expireAfterSeconds(900), 2700);
  assert.deepEqual(expiries({ ...OPTIONS, expireAfter: expireAfterSeconds(900) }), new Set([2700]));
});

Deno.test("a meter takes the prefixed identity only when another reader's config holds a plain one", () => {
  const t = telegram("fixtures/nl-dsmr50-1phase-water.txt");
  const garage = { ...OPTIONS, prefix: "garage" };
  const topic = "homeassistant/sensor/p1reader_E0053004723456789_power_import/config";
  assert.ok(topicsToCheck(garage, t).includes(topic));
  const holding = (stateTopic: string) =>
    new Map([[topic, JSON.stringify({ unique_id: "x", state_topic: stateTopic })]]);
  const decide = (retained: Map<string, string>) => decideIdentity(garage, t, retained).identity;
  assert.equal(decide(new Map()), "plain", "nothing retained: the ids of earlier versions");
  assert.equal(decide(holding("garage/E0053004723456789/state")), "plain", "our own config");
  assert.equal(decide(holding("p1reader/E0053004723456789/state")), "prefixed");
  assert.equal(decide(holding("garage2/E0053004723456789/state")), "prefixed", "not our prefix");
  assert.equal(decide(holding("garage/b/E0053004723456789/state")), "prefixed", "nested prefix");
  assert.equal(decide(new Map([[topic, ""]])), "plain", "an emptied config belongs to nobody");
});

Deno.test({
  name: "only configs of ours on empty slots are removed, never another reader's",
  ignore: CORPUS === undefined,
  fn() {
    const t = telegram("corpus/nl-dsmr50-iskra-am550-two-mbus.txt");
    const [plain, prefixed] = emptySlotTopics(OPTIONS, t);
    const config = (stateTopic: string) =>
      JSON.stringify({ unique_id: "x", state_topic: stateTopic });
    const retained = new Map([
      [plain!, config("garage/E0044007382246019/mbus/1/state")],
      [prefixed!, config("p1reader/E0044007382246019/mbus/1/state")],
    ]);
    assert.deepEqual(decideIdentity(OPTIONS, t, retained).phantoms, [prefixed]);
  },
});
