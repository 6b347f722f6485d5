/**
 * Home Assistant's own rules for an MQTT sensor discovery config, encoded for our tests, so that
 * a config Home Assistant would reject, warn about, or keep out of the Energy dashboard fails a
 * test here instead of in a user's home. Read from home-assistant/core:
 *
 * - `homeassistant/components/mqtt/sensor.py` (2024-2025 revisions): `_PLATFORM_SCHEMA_BASE`
 *   (the sensor's keys) and `validate_sensor_state_and_device_class_config` (a unit must be one
 *   of `DEVICE_CLASS_UNITS[device_class]`; unknown keys are dropped silently by
 *   `extra=vol.REMOVE_EXTRA`, which is why this validator rejects them instead).
 * - `homeassistant/components/mqtt/config.py` `MQTT_RO_SCHEMA` and `schemas.py`
 *   (`MQTT_ENTITY_COMMON_SCHEMA`, `MQTT_AVAILABILITY_SCHEMA`, `MQTT_ENTITY_DEVICE_INFO_SCHEMA`,
 *   `MQTT_ORIGIN_INFO_SCHEMA`); `discovery.py` for the config topic's form.
 * - Home Assistant 2025.10 (core pull request 151775): `default_entity_id` (a full entity id,
 *   checked with `cv.entity_id`) replaces `object_id`, which logs a deprecation warning and stops
 *   working in 2026.4.
 * - `homeassistant/components/sensor/const.py` (a 2025 revision: it has `ENERGY_DISTANCE` and
 *   `MEASUREMENT_ANGLE`): `DEVICE_CLASS_UNITS`, `DEVICE_CLASS_STATE_CLASSES` (the sensor entity
 *   warns about any other state class) and `NON_NUMERIC_DEVICE_CLASSES` (which may have neither
 *   a unit nor a state class: `sensor/__init__.py` raises).
 * - `homeassistant/components/energy/validate.py` (a 2025 revision: it has `MILLE_CUBIC_FEET`
 *   and power sources): which device classes, units and state classes the Energy dashboard takes
 *   for grid energy, gas and water.
 *
 * Only the device classes our configs can use are tabled; any other one is reported, so that a
 * new one gets its rules added here before it is published.
 *
 * @module
 */

/** Keys of an MQTT sensor config (full names; abbreviations are not used by our configs). */
const SENSOR_KEYS = new Set([
  // config.py MQTT_BASE_SCHEMA / MQTT_RO_SCHEMA
  "qos",
  "encoding",
  "state_topic",
  "value_template",
  // sensor.py _PLATFORM_SCHEMA_BASE
  "device_class",
  "expire_after",
  "force_update",
  "last_reset_value_template",
  "name",
  "options",
  "suggested_display_precision",
  "state_class",
  "unit_of_measurement",
  // schemas.py MQTT_ENTITY_COMMON_SCHEMA
  "device",
  "origin",
  "enabled_by_default",
  "entity_category",
  "entity_picture",
  "icon",
  "json_attributes_topic",
  "json_attributes_template",
  "default_entity_id",
  "object_id",
  "unique_id",
  // schemas.py MQTT_AVAILABILITY_SCHEMA
  "availability",
  "availability_mode",
  "availability_topic",
  "availability_template",
  "payload_available",
  "payload_not_available",
]);

/** Keys Home Assistant still reads but has deprecated, with what replaces them. */
const DEPRECATED_KEYS: Record<string, string> = {
  object_id: "default_entity_id (object_id is deprecated since 2025.10 and ignored from 2026.4)",
};

/** schemas.py MQTT_ENTITY_DEVICE_INFO_SCHEMA. */
const DEVICE_KEYS = new Set([
  "identifiers",
  "connections",
  "manufacturer",
  "model",
  "model_id",
  "name",
  "hw_version",
  "serial_number",
  "sw_version",
  "via_device",
  "suggested_area",
  "configuration_url",
]);

/** schemas.py: `cv.deprecated(CONF_DEPRECATED_VIA_HUB, CONF_VIA_DEVICE)`. */
const DEPRECATED_DEVICE_KEYS: Record<string, string> = { via_hub: "via_device" };

/** schemas.py MQTT_ORIGIN_INFO_SCHEMA. */
const ORIGIN_KEYS = new Set(["name", "sw_version", "support_url"]);

/** schemas.py MQTT_AVAILABILITY_LIST_SCHEMA, one entry. */
const AVAILABILITY_KEYS = new Set([
  "topic",
  "payload_available",
  "payload_not_available",
  "value_template",
]);

const STATE_CLASSES = new Set(["measurement", "measurement_angle", "total", "total_increasing"]);

const ENERGY_UNITS = [
  "J",
  "kJ",
  "MJ",
  "GJ",
  "mWh",
  "Wh",
  "kWh",
  "MWh",
  "GWh",
  "TWh",
  "cal",
  "kcal",
  "Mcal",
  "Gcal",
];
const GAS_UNITS = ["CCF", "ft³", "m³", "L"];
const WATER_UNITS = ["CCF", "ft³", "m³", "gal", "L"];
const TOTALS = ["total", "total_increasing"];

/** sensor/const.py DEVICE_CLASS_UNITS and DEVICE_CLASS_STATE_CLASSES, for our device classes. */
const DEVICE_CLASSES: Record<string, { units: (string | null)[]; stateClasses: string[] }> = {
  energy: { units: ENERGY_UNITS, stateClasses: TOTALS },
  gas: { units: GAS_UNITS, stateClasses: TOTALS },
  water: { units: WATER_UNITS, stateClasses: TOTALS },
  power: { units: ["mW", "W", "kW", "MW", "GW", "TW"], stateClasses: ["measurement"] },
  voltage: { units: ["µV", "mV", "V", "kV", "MV"], stateClasses: ["measurement"] },
  current: { units: ["mA", "A"], stateClasses: ["measurement"] },
  timestamp: { units: [null], stateClasses: [] },
};

/** sensor/const.py NON_NUMERIC_DEVICE_CLASSES. */
const NON_NUMERIC = new Set(["date", "enum", "timestamp"]);

/** energy/validate.py: what each kind of Energy dashboard source accepts. */
const ENERGY_SOURCES: Record<string, Record<string, string[]>> = {
  grid: { energy: ENERGY_UNITS },
  gas: { energy: ENERGY_UNITS, gas: [...GAS_UNITS, "MCF"] },
  water: { water: [...WATER_UNITS, "MCF"] },
};

/** core's `valid_entity_id`, applied by `cv.entity_id` after lower-casing. */
const ENTITY_ID = /^(?!.+__)(?!_)[\da-z_]+(?<!_)\.(?!_)[\da-z_]+(?<!_)$/;

/** discovery.py's topic matcher, for a sensor. */
const CONFIG_TOPIC =
  /^(?<prefix>.+)\/sensor\/(?:[a-zA-Z0-9_-]+\/)?(?<objectId>[a-zA-Z0-9_-]+)\/config$/;

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json =>
  typeof value === "object" && value !== null && !Array.isArray(value);

/** util.py `valid_subscribe_topic`: non-empty UTF-8 without NUL, wildcards only whole levels. */
function topicProblem(topic: unknown): string | undefined {
  if (typeof topic !== "string" || topic === "") return "is not a topic";
  if (topic.includes("\0")) return "contains a NUL character";
  if (new TextEncoder().encode(topic).length > 65535) return "is longer than 65535 bytes";
  const levels = topic.split("/");
  for (const [i, level] of levels.entries()) {
    if (level.includes("#") && (level !== "#" || i !== levels.length - 1)) {
      return "has a # that is not the whole last level";
    }
    if (level.includes("+") && level !== "+") return "has a + that is not a whole level";
  }
  return undefined;
}

function unknownKeys(
  where: string,
  object: Json,
  known: Set<string>,
  deprecated: Record<string, string> = {},
): string[] {
  return Object.keys(object).flatMap((key) => {
    if (key in deprecated) return [`${where}${key} is deprecated: use ${deprecated[key]}`];
    return known.has(key) ? [] : [`${where}${key} is not a key Home Assistant knows`];
  });
}

function deviceProblems(device: unknown): string[] {
  if (device === undefined) return [];
  if (!isObject(device)) return ["device is not an object"];
  const problems = unknownKeys("device.", device, DEVICE_KEYS, DEPRECATED_DEVICE_KEYS);
  const ids = device.identifiers;
  const idList = typeof ids === "string" ? [ids] : ids;
  if (
    idList !== undefined && !(Array.isArray(idList) && idList.every((id) => typeof id === "string"))
  ) {
    problems.push("device.identifiers is not a list of strings");
  }
  const connections = device.connections;
  if ((!Array.isArray(idList) || idList.length === 0) && !Array.isArray(connections)) {
    problems.push("device has neither identifiers nor connections");
  }
  for (const key of DEVICE_KEYS) {
    if (key === "identifiers" || key === "connections") continue;
    if (key in device && typeof device[key] !== "string") {
      problems.push(`device.${key} is not a string`);
    }
  }
  return problems;
}

function availabilityProblems(config: Json): string[] {
  const problems: string[] = [];
  if ("availability" in config && "availability_topic" in config) {
    problems.push("availability and availability_topic are exclusive");
  }
  if ("availability_topic" in config) {
    const problem = topicProblem(config.availability_topic);
    if (problem) problems.push(`availability_topic ${problem}`);
  }
  if ("availability" in config) {
    const list = Array.isArray(config.availability) ? config.availability : [config.availability];
    for (const [i, entry] of list.entries()) {
      if (!isObject(entry)) {
        problems.push(`availability[${i}] is not an object`);
        continue;
      }
      problems.push(...unknownKeys(`availability[${i}].`, entry, AVAILABILITY_KEYS));
      const problem = topicProblem(entry.topic);
      if (problem) problems.push(`availability[${i}].topic ${problem}`);
    }
  }
  const mode = config.availability_mode;
  if (mode !== undefined && !["all", "any", "latest"].includes(mode as string)) {
    problems.push(`availability_mode ${JSON.stringify(mode)} is not all, any or latest`);
  }
  return problems;
}

function classProblems(config: Json): string[] {
  const problems: string[] = [];
  const deviceClass = config.device_class as string | undefined;
  const stateClass = config.state_class as string | undefined;
  const unit = (config.unit_of_measurement as string | undefined) ?? null;
  if (stateClass !== undefined && !STATE_CLASSES.has(stateClass)) {
    problems.push(`state_class ${stateClass} is not a state class`);
  }
  if (deviceClass === undefined) return problems;
  if (NON_NUMERIC.has(deviceClass) && (unit !== null || stateClass !== undefined)) {
    problems.push(
      `device class ${deviceClass} is not numeric: it takes no unit and no state class`,
    );
  }
  const rules = DEVICE_CLASSES[deviceClass];
  if (!rules) return [...problems, `device class ${deviceClass} has no rules in this validator`];
  if (!rules.units.includes(unit)) {
    problems.push(`unit ${JSON.stringify(unit)} is not valid with device class ${deviceClass}`);
  }
  if (stateClass !== undefined && !rules.stateClasses.includes(stateClass)) {
    problems.push(`state class ${stateClass} is not valid with device class ${deviceClass}`);
  }
  return problems;
}

/**
 * What Home Assistant would object to in one sensor discovery config.
 *
 * @param topic The config topic, e.g. `homeassistant/sensor/<id>/config`.
 * @param config The parsed payload.
 * @returns One sentence per problem; none when Home Assistant takes it as it is.
 */
export function sensorConfigProblems(topic: string, config: unknown): string[] {
  if (!isObject(config)) return ["the payload is not a JSON object"];
  const problems = unknownKeys("", config, SENSOR_KEYS, DEPRECATED_KEYS);
  if (!CONFIG_TOPIC.test(topic)) problems.push(`${topic} is not a sensor discovery topic`);
  const stateTopic = topicProblem(config.state_topic);
  if (stateTopic) problems.push(`state_topic ${stateTopic}`);
  if (typeof config.unique_id !== "string") problems.push("unique_id is not a string");
  if (config.name !== undefined && config.name !== null && typeof config.name !== "string") {
    problems.push("name is neither a string nor null");
  }
  const entityId = config.default_entity_id;
  if (entityId !== undefined) {
    const lower = typeof entityId === "string" ? entityId.toLowerCase() : "";
    if (!ENTITY_ID.test(lower)) problems.push(`default_entity_id ${entityId} is not an entity id`);
    else if (!lower.startsWith("sensor.")) {
      problems.push(`default_entity_id ${entityId} is no sensor`);
    }
    // core const.py MAX_LENGTH_STATE_ENTITY_ID
    if (lower.length > 255) problems.push("default_entity_id is longer than 255 characters");
  }
  if (config.icon !== undefined && !/^[^:]+:[^:]+$/.test(String(config.icon))) {
    problems.push(`icon ${config.icon} is not prefix:name`);
  }
  const category = config.entity_category;
  if (category !== undefined && category !== "diagnostic") {
    problems.push(`entity_category ${category}: a sensor can only be diagnostic`);
  }
  if (config.expire_after !== undefined) {
    const expire = config.expire_after;
    if (!Number.isInteger(expire) || (expire as number) < 0) {
      problems.push("expire_after is negative");
    }
  }
  if (config.origin !== undefined) {
    if (!isObject(config.origin)) problems.push("origin is not an object");
    else {
      problems.push(...unknownKeys("origin.", config.origin, ORIGIN_KEYS));
      if (typeof config.origin.name !== "string") problems.push("origin.name is required");
    }
  }
  return [
    ...problems,
    ...deviceProblems(config.device),
    ...availabilityProblems(config),
    ...classProblems(config),
  ];
}

/**
 * Problems of a whole set of configs that no single config shows: unique ids used twice, and
 * devices linked (`via_device`) to a device that no config creates, which Home Assistant would
 * then create nameless.
 */
export function configSetProblems(configs: readonly Json[]): string[] {
  const problems: string[] = [];
  const seen = new Set<unknown>();
  const devices = new Set<string>();
  for (const config of configs) {
    if (seen.has(config.unique_id)) problems.push(`unique_id ${config.unique_id} is used twice`);
    seen.add(config.unique_id);
    const ids = (config.device as Json | undefined)?.identifiers;
    for (const id of Array.isArray(ids) ? ids : [ids]) if (typeof id === "string") devices.add(id);
  }
  for (const config of configs) {
    const via = (config.device as Json | undefined)?.via_device;
    if (typeof via === "string" && !devices.has(via)) {
      problems.push(`${config.unique_id} is linked to device ${via}, which no config creates`);
    }
  }
  return problems;
}

/**
 * Which Energy dashboard source a config can feed (`grid`, `gas`, `water`), as
 * `energy/validate.py` checks device class, unit and state class; `[]` when none.
 */
export function energySources(config: Json): string[] {
  const stateClass = config.state_class;
  // A measurement would also need last_reset, which none of our configs sends.
  if (stateClass !== "total" && stateClass !== "total_increasing") return [];
  return Object.entries(ENERGY_SOURCES).flatMap(([source, classes]) => {
    const units = classes[config.device_class as string];
    return units?.includes(config.unit_of_measurement as string) ? [source] : [];
  });
}

/**
 * A `value_template` of the form our configs use, `{{ value_json.a.b }}`, rendered against the JSON
 * state as Home Assistant renders it (a missing key gives `undefined`); any other form fails.
 */
export function renderValueTemplate(template: string, state: unknown): unknown {
  const path = /^\{\{ value_json\.([\w.]+) \}\}$/.exec(template)?.[1];
  if (!path) throw new Error(`not a value_json template: ${template}`);
  return path.split(".").reduce<unknown>(
    (value, key) => (value as Record<string, unknown> | undefined)?.[key],
    state,
  );
}
