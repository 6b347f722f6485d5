/**
 * The test validator of Home Assistant's rules (`ha_rules.ts`) catches what Home Assistant
 * rejects or warns about: without these, a validator that accepts everything would pass too.
 */
import assert from "node:assert/strict";
import { configSetProblems, energySources, sensorConfigProblems } from "./ha_rules.ts";

const TOPIC = "homeassistant/sensor/p1reader_X_energy_import_t1/config";

/** A config Home Assistant takes as it is: the energy register of meter X. */
function good(): Record<string, unknown> {
  return {
    unique_id: "p1reader_X_energy_import_t1",
    default_entity_id: "sensor.p1reader_x_energy_import_t1",
    availability: [{ topic: "p1reader/status" }],
    availability_mode: "all",
    origin: { name: "KingTech P1 Reader", sw_version: "1" },
    name: "Energy imported tariff 1",
    state_topic: "p1reader/X/state",
    value_template: "{{ value_json.energy.import.t1.value }}",
    unit_of_measurement: "kWh",
    device_class: "energy",
    state_class: "total_increasing",
    device: { identifiers: ["p1reader_X"], name: "P1 meter X" },
  };
}

Deno.test("a valid energy config has no problems and feeds the Energy dashboard's grid", () => {
  assert.deepEqual(sensorConfigProblems(TOPIC, good()), []);
  assert.deepEqual(energySources(good()), ["grid", "gas"]);
});

Deno.test("object_id is reported as deprecated in favour of default_entity_id", () => {
  const problems = sensorConfigProblems(TOPIC, { ...good(), object_id: "p1reader_X" });
  assert.equal(problems.length, 1);
  assert.match(problems[0]!, /object_id is deprecated: use default_entity_id/);
});

Deno.test("a default_entity_id that is not a full sensor entity id is reported", () => {
  for (const id of ["p1reader_x", "sensor.p1reader__x", "switch.p1reader_x", "sensor.p1-reader"]) {
    assert.equal(sensorConfigProblems(TOPIC, { ...good(), default_entity_id: id }).length, 1, id);
  }
  assert.deepEqual(
    sensorConfigProblems(TOPIC, { ...good(), default_entity_id: `sensor.${"x".repeat(249)}` }),
    ["default_entity_id is longer than 255 characters"],
  );
  assert.deepEqual(
    sensorConfigProblems(TOPIC, { ...good(), default_entity_id: "sensor.P1reader_X" }),
    [],
    "cv.entity_id lower-cases first",
  );
});

Deno.test("a unit Home Assistant does not accept for the device class is reported", () => {
  assert.deepEqual(
    sensorConfigProblems(TOPIC, { ...good(), device_class: "gas", unit_of_measurement: "m3" }),
    ['unit "m3" is not valid with device class gas'],
  );
  assert.deepEqual(
    sensorConfigProblems(TOPIC, { ...good(), device_class: "water", unit_of_measurement: "GJ" }),
    ['unit "GJ" is not valid with device class water'],
  );
});

Deno.test("a state class the device class does not allow is reported", () => {
  assert.deepEqual(
    sensorConfigProblems(TOPIC, { ...good(), state_class: "measurement" }),
    ["state class measurement is not valid with device class energy"],
  );
  assert.deepEqual(energySources({ ...good(), state_class: "measurement" }), []);
});

Deno.test("a timestamp sensor with a unit or a state class is reported", () => {
  const config = { ...good(), device_class: "timestamp" };
  assert.ok(
    sensorConfigProblems(TOPIC, config).includes(
      "device class timestamp is not numeric: it takes no unit and no state class",
    ),
  );
});

Deno.test("unknown keys, a config category and a device without identifiers are reported", () => {
  const problems = sensorConfigProblems(TOPIC, {
    ...good(),
    stat_t: "p1reader/X/state",
    entity_category: "config",
    device: { name: "P1 meter X", via_hub: "p1reader_Y" },
  });
  assert.deepEqual(problems, [
    "stat_t is not a key Home Assistant knows",
    "entity_category config: a sensor can only be diagnostic",
    "device.via_hub is deprecated: use via_device",
    "device has neither identifiers nor connections",
  ]);
});

Deno.test("availability and availability_topic together, or a wildcard state topic, are reported", () => {
  assert.deepEqual(
    sensorConfigProblems(TOPIC, {
      ...good(),
      availability_topic: "p1reader/status",
      state_topic: "p1reader/+/state#",
    }),
    [
      "state_topic has a # that is not the whole last level",
      "availability and availability_topic are exclusive",
    ],
  );
});

Deno.test("a device class without rules here is reported rather than passed", () => {
  assert.deepEqual(
    sensorConfigProblems(TOPIC, { ...good(), device_class: "volume", unit_of_measurement: "m³" }),
    ["device class volume has no rules in this validator"],
  );
});

Deno.test("a set of configs with a unique id twice or a link to a missing device is reported", () => {
  const gas = {
    ...good(),
    unique_id: "p1reader_X_mbus1_reading",
    device: { identifiers: ["p1reader_X_mbus1"], via_device: "p1reader_X" },
  };
  assert.deepEqual(configSetProblems([good(), gas]), []);
  assert.deepEqual(configSetProblems([gas]), [
    "p1reader_X_mbus1_reading is linked to device p1reader_X, which no config creates",
  ]);
  assert.deepEqual(configSetProblems([good(), good()]), [
    "unique_id p1reader_X_energy_import_t1 is used twice",
  ]);
});

Deno.test("gas in m³ and water in m³ feed the Energy dashboard's gas and water sources", () => {
  const reading = { ...good(), unit_of_measurement: "m³" };
  assert.deepEqual(energySources({ ...reading, device_class: "gas" }), ["gas"]);
  assert.deepEqual(energySources({ ...reading, device_class: "water" }), ["water"]);
  assert.deepEqual(energySources({ ...good(), unit_of_measurement: "GJ" }), ["grid", "gas"]);
});
