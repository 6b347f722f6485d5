/**
 * Home Assistant MQTT discovery for a telegram: one retained config message per value the meter
 * sends (energy per tariff and total, power total and per phase, voltage, current, tariff, power
 * failures, Belgian peak demand, the equipment identifier), with the meter as one device and each
 * M-Bus meter (gas, water, heat, slave electricity) as its own device linked to it. Empty M-Bus
 * slots get no device ({@linkcode emptySlotTopics} names the configs an older version published
 * for them). Every sensor is available only while the reader is online and its meter's data is
 * live. Pure: no I/O.
 *
 * @module
 */

import { meterReading } from "../../dsmr/derive.ts";
import type { MbusDevice, Telegram } from "../../dsmr/model.ts";

/** The default topic prefix. */
export const DEFAULT_PREFIX = "p1reader";

/** Topics and names the messages use. */
export interface DiscoveryOptions {
  /** Our topic prefix, e.g. `p1reader`; part of a meter's identity when it is `prefixed`. */
  prefix: string;
  /** Home Assistant's discovery prefix, e.g. `homeassistant`. */
  discoveryPrefix: string;
  /** The reader's version (origin of the messages). */
  version: string;
  /**
   * The reader's MQTT client id, which names its availability topic (see {@linkcode statusTopic}).
   * @default {defaultClientId(prefix)}
   */
  clientId?: string;
  /**
   * Seconds without a state message after which Home Assistant shows a sensor as unavailable
   * (`expire_after`); see {@linkcode expireAfterSeconds}.
   * @default {600}
   */
  expireAfter?: number;
}

/** The shortest `expire_after`: slower than any meter's telegrams, including DSMR 2.2's 10 s. */
const MIN_EXPIRE_AFTER_SECONDS = 600;

/**
 * The `expire_after` of every sensor: ten minutes, or three `--mqtt-interval`s when that is longer,
 * so that a sensor never expires between two state messages of a live meter (each carries every
 * value, the M-Bus readings included). It is the backstop for what the availability topics cannot
 * say: a reader that hangs while its connection to the broker stays open sends no last will.
 */
export function expireAfterSeconds(intervalSeconds: number): number {
  return Math.max(MIN_EXPIRE_AFTER_SECONDS, Math.ceil(3 * intervalSeconds));
}

/** One MQTT message. */
export interface MqttMessage {
  /** The topic. */
  topic: string;
  /** The payload; an empty one deletes the retained message (and the entity it configured). */
  payload: string;
}

interface SensorRow {
  key: string;
  name: string;
  path: (t: Telegram) => unknown;
  template: string;
  unit?: string;
  deviceClass?: string;
  stateClass?: "measurement" | "total_increasing";
  icon?: string;
  /** `diagnostic` for facts about the meter rather than measurements. */
  category?: "diagnostic";
}

const PHASES = ["l1", "l2", "l3"] as const;

function energyRows(direction: "import" | "export"): SensorRow[] {
  const word = direction === "import" ? "imported" : "exported";
  return (["t1", "t2", "t3", "t4", "total"] as const).map((register) => ({
    key: `energy_${direction}_${register}`,
    name: `Energy ${word} ${register === "total" ? "total" : `tariff ${register.slice(1)}`}`,
    path: (t: Telegram) => t.energy[direction][register],
    template: `{{ value_json.energy.${direction}.${register}.value }}`,
    unit: "kWh",
    deviceClass: "energy",
    stateClass: "total_increasing" as const,
  }));
}

function phaseRows(): SensorRow[] {
  return PHASES.flatMap((phase) => {
    const label = phase.toUpperCase();
    const rows: SensorRow[] = [
      {
        key: `power_import_${phase}`,
        name: `Power imported ${label}`,
        path: (t) => t.phases[phase]?.powerImport,
        template: `{{ value_json.phases.${phase}.powerImport.value }}`,
        unit: "kW",
        deviceClass: "power",
        stateClass: "measurement",
      },
      {
        key: `power_export_${phase}`,
        name: `Power exported ${label}`,
        path: (t) => t.phases[phase]?.powerExport,
        template: `{{ value_json.phases.${phase}.powerExport.value }}`,
        unit: "kW",
        deviceClass: "power",
        stateClass: "measurement",
      },
      {
        key: `voltage_${phase}`,
        name: `Voltage ${label}`,
        path: (t) => t.phases[phase]?.voltage,
        template: `{{ value_json.phases.${phase}.voltage.value }}`,
        unit: "V",
        deviceClass: "voltage",
        stateClass: "measurement",
      },
      {
        key: `current_${phase}`,
        name: `Current ${label}`,
        path: (t) => t.phases[phase]?.current,
        template: `{{ value_json.phases.${phase}.current.value }}`,
        unit: "A",
        deviceClass: "current",
        stateClass: "measurement",
      },
      {
        key: `voltage_sags_${phase}`,
        name: `Voltage sags ${label}`,
        path: (t) => t.phases[phase]?.voltageSags,
        template: `{{ value_json.phases.${phase}.voltageSags }}`,
        stateClass: "total_increasing",
        icon: "mdi:flash-alert",
      },
      {
        key: `voltage_swells_${phase}`,
        name: `Voltage swells ${label}`,
        path: (t) => t.phases[phase]?.voltageSwells,
        template: `{{ value_json.phases.${phase}.voltageSwells }}`,
        stateClass: "total_increasing",
        icon: "mdi:flash-alert",
      },
    ];
    return rows;
  });
}

/** Every sensor of the meter itself, one row each. */
export const METER_SENSORS: readonly SensorRow[] = [
  {
    // Also what makes the meter's own device exist when it sends no electricity values (a heat
    // meter's P1 port), so that its M-Bus meters are never linked to a device nobody created.
    key: "equipment_id",
    name: "Equipment identifier",
    path: (t) => t.equipmentId,
    template: "{{ value_json.equipmentId }}",
    icon: "mdi:identifier",
    category: "diagnostic",
  },
  ...energyRows("import"),
  ...energyRows("export"),
  {
    key: "power_import",
    name: "Power imported",
    path: (t) => t.power.import,
    template: "{{ value_json.power.import.value }}",
    unit: "kW",
    deviceClass: "power",
    stateClass: "measurement",
  },
  {
    key: "power_export",
    name: "Power exported",
    path: (t) => t.power.export,
    template: "{{ value_json.power.export.value }}",
    unit: "kW",
    deviceClass: "power",
    stateClass: "measurement",
  },
  ...phaseRows(),
  {
    key: "tariff",
    name: "Tariff",
    path: (t) => t.tariff,
    template: "{{ value_json.tariff }}",
    icon: "mdi:clock-outline",
  },
  {
    key: "power_failures",
    name: "Power failures",
    path: (t) => t.powerFailures.short,
    template: "{{ value_json.powerFailures.short }}",
    stateClass: "total_increasing",
    icon: "mdi:transmission-tower-off",
  },
  {
    key: "long_power_failures",
    name: "Long power failures",
    path: (t) => t.powerFailures.long,
    template: "{{ value_json.powerFailures.long }}",
    stateClass: "total_increasing",
    icon: "mdi:transmission-tower-off",
  },
  {
    key: "demand_average",
    name: "Current average demand",
    path: (t) => t.demand?.currentAverage,
    template: "{{ value_json.demand.currentAverage.value }}",
    unit: "kW",
    deviceClass: "power",
    stateClass: "measurement",
  },
  {
    key: "demand_month_peak",
    name: "Peak demand this month",
    path: (t) => t.demand?.monthPeak?.value,
    template: "{{ value_json.demand.monthPeak.value.value }}",
    unit: "kW",
    deviceClass: "power",
    stateClass: "measurement",
  },
];

/** Home Assistant's view of an M-Bus meter's reading, by what it measures. */
const MBUS_CLASSES: Record<string, { deviceClass: string; name: string } | undefined> = {
  gas: { deviceClass: "gas", name: "Gas" },
  water: { deviceClass: "water", name: "Water" },
  warm_water: { deviceClass: "water", name: "Warm water" },
  heat: { deviceClass: "energy", name: "Heat" },
  cold: { deviceClass: "energy", name: "Cold" },
  electricity: { deviceClass: "energy", name: "Sub-meter energy" },
};

/** Manufacturer names of the three-letter codes in P1 headers. */
const MANUFACTURERS: Record<string, string> = {
  ISK: "Iskra",
  ISk: "Iskra",
  KFM: "Kaifa",
  XMX: "Landis+Gyr",
  KAM: "Kamstrup",
  SAG: "Sagemcom",
  EST: "Sagemcom",
  FLU: "Fluvius",
  ESY: "EasyMeter",
  Ene: "Enexis",
  KMP: "Kamstrup",
  LGF: "Landis+Gyr",
  NWA: "Warmtelink",
};

/** A string safe in topics and ids (`[a-zA-Z0-9_-]`). */
export function safeId(text: string): string {
  return text.replace(/[^A-Za-z0-9_-]/g, "_").slice(0, 64) || "meter";
}

/** The id the meter is known by in topics: its equipment id, made safe. */
export function meterId(t: Telegram): string {
  return safeId(t.equipmentId ?? t.header ?? "meter");
}

/**
 * Which unique ids and device identifiers a meter's configs carry. `plain` is `p1reader_<id>_…`,
 * what every earlier version published whatever the prefix, so an upgrade keeps the entities and
 * their history. `prefixed` is `p1reader_<prefix>_<id>_…`, for a meter whose plain identity
 * another reader on the broker already uses (two meters that send the same placeholder id, or a
 * reader reading another's `--share-port`): Home Assistant would merge the two meters otherwise.
 */
export type Identity = "plain" | "prefixed";

/** The start of every unique id and device identifier of a meter with this identity. */
export function identityRoot(options: DiscoveryOptions, identity: Identity): string {
  return identity === "plain" ? "p1reader" : `p1reader_${safeId(options.prefix)}`;
}

/**
 * The entity id Home Assistant derives from a unique id (`sensor.` and the id slugified as its
 * `slugify` does), published as `default_entity_id`: the same id older versions got from
 * `object_id`, which Home Assistant deprecated in 2025.10 and ignores from 2026.4.
 */
export function defaultEntityId(uniqueId: string): string {
  return `sensor.${uniqueId.toLowerCase().replace(/[^a-z0-9]+/g, "_").replace(/^_|_$/g, "")}`;
}

/** The topic of the meter's complete JSON state. */
export function stateTopic(options: DiscoveryOptions, t: Telegram): string {
  return `${options.prefix}/${meterId(t)}/state`;
}

/** The topic of one M-Bus device's JSON state. */
export function mbusStateTopic(options: DiscoveryOptions, t: Telegram, device: MbusDevice): string {
  return `${options.prefix}/${meterId(t)}/mbus/${device.channel}/state`;
}

/**
 * The client id a reader uses unless told: `p1reader` with the default prefix (as it always was),
 * `p1reader-<prefix>` with another, so that readers with their own prefixes share a broker.
 */
export function defaultClientId(prefix: string): string {
  return prefix === DEFAULT_PREFIX ? DEFAULT_PREFIX : `${DEFAULT_PREFIX}-${prefix}`;
}

/**
 * The reader's availability topic (`online`/`offline`, with its last will): `<prefix>/status` for
 * the reader with the prefix's default client id (what every earlier version used, and what users'
 * automations read), `<prefix>/readers/<client id>/status` for a reader given another one. The
 * broker holds one connection per client id, so each running reader has a topic of its own, and
 * one reader's stop or crash never speaks for another that shares its prefix.
 */
export function statusTopic(options: DiscoveryOptions): string {
  const clientId = options.clientId ?? defaultClientId(options.prefix);
  return clientId === defaultClientId(options.prefix)
    ? `${options.prefix}/status`
    : `${options.prefix}/readers/${safeId(clientId)}/status`;
}

/**
 * A meter's availability topic (retained): `online` while valid telegrams from it arrive,
 * `offline` while it is silent, stale or disconnected, once the reader reads another meter, and
 * after the reader stopped. One per meter, so that readers sharing a prefix never speak for each
 * other's meters.
 */
export function meterStatusTopic(options: DiscoveryOptions, id: string): string {
  return `${options.prefix}/${id}/status`;
}

/** The discovery config topic of a sensor. */
export function configTopic(options: DiscoveryOptions, uniqueId: string): string {
  return `${options.discoveryPrefix}/sensor/${uniqueId}/config`;
}

/**
 * Who a retained discovery config belongs to, judged by the state topic it reads: `ours` when it is
 * exactly the one this reader publishes that sensor's values on, `another` reader's when it is any
 * other (also one under our prefix: a reader with the prefix `p1reader/b` publishes under
 * `p1reader/`), `undefined` for an empty or unreadable payload (which configures nothing).
 *
 * @param payload The retained config.
 * @param ownStateTopic The state topic this reader's config on that topic reads.
 */
export function configOwner(
  payload: string,
  ownStateTopic: string,
): "ours" | "another" | undefined {
  const topic = stateTopicOf(payload);
  if (topic === undefined) return undefined;
  return topic === ownStateTopic ? "ours" : "another";
}

/** The state topic a discovery config reads, if it is a config at all. */
export function stateTopicOf(payload: string): string | undefined {
  try {
    const config: unknown = JSON.parse(payload);
    const topic = (config as { state_topic?: unknown } | null)?.state_topic;
    return typeof topic === "string" ? topic : undefined;
  } catch {
    return undefined; // not JSON: no config Home Assistant would have taken either
  }
}

/**
 * The retained discovery configs for a telegram, one per sensor.
 *
 * @param options Prefixes and version.
 * @param t The telegram (only values it carries get a sensor).
 * @param identity Which unique ids the meter's configs carry.
 * @returns The messages.
 */
export function discoveryMessages(
  options: DiscoveryOptions,
  t: Telegram,
  identity: Identity = "plain",
): MqttMessage[] {
  const id = meterId(t);
  const root = `${identityRoot(options, identity)}_${id}`;
  const name = `P1 meter ${t.equipmentId ?? id}`;
  const meterDevice = {
    identifiers: [root],
    name: identity === "plain" ? name : `${name} (${options.prefix})`,
    manufacturer: MANUFACTURERS[t.manufacturer ?? ""] ?? t.manufacturer ?? "unknown",
    model: t.header ?? t.format,
    ...(t.version ? { sw_version: t.version } : {}),
    ...(t.equipmentId ? { serial_number: t.equipmentId } : {}),
  };
  const common = {
    availability: [
      { topic: statusTopic(options) },
      { topic: meterStatusTopic(options, id) },
    ],
    availability_mode: "all",
    expire_after: options.expireAfter ?? MIN_EXPIRE_AFTER_SECONDS,
    origin: { name: "KingTech P1 Reader", sw_version: options.version },
  };
  const messages: MqttMessage[] = [];
  const config = (uniqueId: string, body: Record<string, unknown>) =>
    messages.push({
      topic: configTopic(options, uniqueId),
      payload: JSON.stringify({
        unique_id: uniqueId,
        default_entity_id: defaultEntityId(uniqueId),
        ...common,
        ...body,
      }),
    });
  for (const row of METER_SENSORS) {
    if (row.path(t) === undefined) continue;
    config(`${root}_${row.key}`, {
      name: row.name,
      state_topic: stateTopic(options, t),
      value_template: row.template,
      ...(row.unit ? { unit_of_measurement: row.unit } : {}),
      ...(row.deviceClass ? { device_class: row.deviceClass } : {}),
      ...(row.stateClass ? { state_class: row.stateClass } : {}),
      ...(row.icon ? { icon: row.icon } : {}),
      ...(row.category ? { entity_category: row.category } : {}),
      device: meterDevice,
    });
  }
  // Linking to a device no config creates would make Home Assistant invent a nameless one.
  const meterExists = messages.length > 0;
  for (const device of t.mbus) {
    const kind = MBUS_CLASSES[device.kind];
    const reading = meterReading(device);
    if (!kind || !reading) continue;
    const deviceId = `${root}_mbus${device.channel}`;
    config(`${deviceId}_reading`, {
      name: kind.name,
      state_topic: mbusStateTopic(options, t, device),
      value_template: "{{ value_json.reading.value.value }}",
      unit_of_measurement: reading.value.unit === "m3" ? "m³" : reading.value.unit,
      device_class: kind.deviceClass,
      state_class: "total_increasing",
      device: {
        identifiers: [deviceId],
        name: `${kind.name} meter ${device.id ?? `channel ${device.channel}`}`,
        model: `M-Bus device type ${device.deviceType ?? "unknown"}`,
        ...(meterExists ? { via_device: root } : {}),
        ...(device.id ? { serial_number: device.id } : {}),
      },
    });
  }
  return messages;
}

/** A config topic and the state topic this reader's config there reads. */
export interface ConfigTopic {
  /** The config topic. */
  topic: string;
  /** The state topic our config on it reads. */
  stateTopic: string;
}

/**
 * The config topics, under either identity, of the sensors an older version published for this
 * telegram's empty M-Bus slots (a "Gas" meter at 0 m³), with the state topic they read. The
 * publisher empties those that hold a config of ours, which removes the sensor from Home Assistant.
 */
export function emptySlots(options: DiscoveryOptions, t: Telegram): ConfigTopic[] {
  const slots = t.mbus.filter((device) => MBUS_CLASSES[device.kind] && !meterReading(device));
  return slots.flatMap((device) =>
    (["plain", "prefixed"] as const).map((identity) => ({
      topic: configTopic(
        options,
        `${identityRoot(options, identity)}_${meterId(t)}_mbus${device.channel}_reading`,
      ),
      stateTopic: mbusStateTopic(options, t, device),
    }))
  );
}

/** The config topics of {@linkcode emptySlots}. */
export function emptySlotTopics(options: DiscoveryOptions, t: Telegram): string[] {
  return emptySlots(options, t).map((slot) => slot.topic);
}

/** The meter's config topics under the plain identity, with the state topic each config reads. */
export function plainConfigTopics(options: DiscoveryOptions, t: Telegram): ConfigTopic[] {
  return discoveryMessages(options, t, "plain").map((message) => ({
    topic: message.topic,
    stateTopic: stateTopicOf(message.payload) ?? "",
  }));
}

/** The values of the meter's sensors by key, for `--mqtt-per-value` topics. */
export function sensorValues(t: Telegram): [string, string][] {
  const values: [string, string][] = [];
  for (const row of METER_SENSORS) {
    const value = row.path(t);
    if (value === undefined) continue;
    const plain = typeof value === "object" && value !== null && "value" in value
      ? (value as { value: unknown }).value
      : value;
    values.push([row.key, typeof plain === "object" ? JSON.stringify(plain) : String(plain)]);
  }
  return values;
}
