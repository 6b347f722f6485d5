/**
 * METRICS: every metric of `/metrics` as one table row (name, help, type, value reader). Three
 * sets: the original product's names (both generations, with its bugs fixed), a set following
 * Prometheus's conventions (base units, `_total` counters, labels for tariff, phase and channel),
 * and the reader's own health. Counters of meter registers export the values the receiver took
 * (see `RegisterWatch`): a register glitch never reaches a counter.
 *
 * @module
 */

import { FRAME_OUTCOMES } from "../dsmr/decryption.ts";
import { countedRegisters, gasDevice, meterReading } from "../dsmr/derive.ts";
import type { MbusDevice, PhaseReadings, Quantity, Telegram } from "../dsmr/model.ts";
import { REGISTER_KEYS, type RegisterWatch } from "../meter_registers.ts";
import type { ConnectionStats } from "../http/connection_guard.ts";
import type { ReceiverCounters, ReceiverState } from "../receiver.ts";

/** What a scrape reads from. */
export interface MetricSnapshot {
  /** The latest valid telegram, if any. */
  telegram: Telegram | undefined;
  /** When it arrived (ms since the epoch). */
  receivedAt: number | undefined;
  /** The receiver's counters. */
  counters: ReceiverCounters;
  /** The receiver's state. */
  state: ReceiverState;
  /** The meter's registers as counters; without them, counters export the telegram's values. */
  registers?: Pick<RegisterWatch, "counterValue"> | undefined;
  /** The format name configured (the original's M-Bus family names depend on it). */
  configuredFormat?: string | undefined;
  /** The reader's version. */
  version: string;
  /** The HTTP port's connections, when a connection guard holds it. */
  connections?: ConnectionStats | undefined;
}

/**
 * The snapshot of a receiver that every scrape reads (outputs have their own families).
 *
 * @param receiver The receiver.
 * @param version The reader's version.
 * @returns The snapshot.
 */
export function receiverSnapshot(
  receiver: {
    latest: { telegram: Telegram; receivedAt: number } | undefined;
    counters: ReceiverCounters;
    state: ReceiverState;
    registers: Pick<RegisterWatch, "counterValue">;
    format: string;
  },
  version: string,
): MetricSnapshot {
  const latest = receiver.latest;
  return {
    telegram: latest?.telegram,
    receivedAt: latest?.receivedAt,
    counters: receiver.counters,
    state: receiver.state,
    registers: receiver.registers,
    configuredFormat: receiver.format,
    version,
  };
}

/** One sample: labels and a value. */
export interface Sample {
  /** Label names and values. */
  labels?: Record<string, string>;
  /** The value. */
  value: number;
}

/** One metric family. */
export interface MetricRow {
  /** The metric name. */
  name: string;
  /** The HELP text. */
  help: string;
  /** The TYPE. */
  type: "gauge" | "counter";
  /** Reads the samples; an absent value gives no sample (never a made-up 0). */
  read(snapshot: MetricSnapshot): Sample[];
}

const PHASES = ["l1", "l2", "l3"] as const;
/** Windows FILETIME (100 ns ticks since 1601-01-01 UTC) of an instant, as the original exported. */
const FILETIME_EPOCH_OFFSET_MS = 11_644_473_600_000;

function one(value: number | undefined): Sample[] {
  return value === undefined ? [] : [{ value }];
}

function fromTelegram(read: (t: Telegram) => number | undefined) {
  return (s: MetricSnapshot): Sample[] => (s.telegram ? one(read(s.telegram)) : []);
}

/** A meter register as a counter: its held value (see `RegisterWatch`), else as sent. */
function held(s: MetricSnapshot, key: string, value: number): number {
  return s.registers?.counterValue(key) ?? value;
}

/** A quantity in kW/kWh/V/A as is. */
function plain(q: Quantity | undefined): number | undefined {
  return q?.value;
}

function perPhase(read: (p: PhaseReadings) => number | undefined) {
  return (s: MetricSnapshot): Sample[] =>
    PHASES.flatMap((phase) => {
      const readings = s.telegram?.phases[phase];
      const value = readings ? read(readings) : undefined;
      return value === undefined ? [] : [{ labels: { phase }, value }];
    });
}

function originalPhaseRows(): MetricRow[] {
  return PHASES.flatMap((phase, i) => {
    const n = i + 1;
    const get = (read: (p: PhaseReadings) => number | undefined) =>
      fromTelegram((t) => {
        const readings = t.phases[phase];
        return readings ? read(readings) : undefined;
      });
    return [
      {
        name: `p1_voltage_sags_${phase}`,
        help: `Number of voltage sags in phase L${n}`,
        type: "gauge",
        read: get((p) => p.voltageSags),
      },
      {
        name: `p1_voltage_swells_${phase}`,
        help: `Number of voltage swells in phase L${n}`,
        type: "gauge",
        read: get((p) => p.voltageSwells),
      },
      {
        name: `p1_voltage_${phase}`,
        help: `Instantaneous voltage for phase L${n} in V`,
        type: "gauge",
        read: get((p) => plain(p.voltage)),
      },
      {
        name: `p1_current_${phase}`,
        help: `Instantaneous current for phase L${n} in A`,
        type: "gauge",
        read: get((p) => plain(p.current)),
      },
      {
        name: `p1_power_delivered_${phase}`,
        help: `Instantaneous active power delivered to the client on phase L${n} (+P) in kW`,
        type: "gauge",
        read: get((p) => plain(p.powerImport)),
      },
      {
        name: `p1_power_received_${phase}`,
        help: `Instantaneous active power received from the client on phase L${n} (-P) in kW`,
        type: "gauge",
        read: get((p) => plain(p.powerExport)),
      },
    ] satisfies MetricRow[];
  });
}

/** Joules in one kWh, and in one GJ. */
const JOULES_PER_KWH = 3_600_000;
const JOULES_PER_UNIT: Record<string, number> = { kWh: JOULES_PER_KWH, GJ: 1e9, MJ: 1e6 };

function registers(direction: "import" | "export") {
  return (s: MetricSnapshot): Sample[] => {
    const energy = s.telegram?.energy[direction];
    if (!energy) return [];
    return countedRegisters(energy).map(([register, quantity]) => ({
      labels: { tariff: register === "total" ? "total" : register.slice(1) },
      value: Math.round(
        held(s, REGISTER_KEYS.energy(direction, register), quantity.value) * JOULES_PER_KWH,
      ),
    }));
  };
}

/** A phase's event count as a counter. */
function phaseCounter(count: "voltageSags" | "voltageSwells") {
  return (s: MetricSnapshot): Sample[] =>
    PHASES.flatMap((phase) => {
      const value = s.telegram?.phases[phase]?.[count];
      return value === undefined
        ? []
        : [{ labels: { phase }, value: held(s, REGISTER_KEYS.phase(phase, count), value) }];
    });
}

/** A power failure count as a counter. */
function failureCounter(length: "short" | "long") {
  return (s: MetricSnapshot): Sample[] => {
    const value = s.telegram?.powerFailures[length];
    return one(
      value === undefined ? undefined : held(s, REGISTER_KEYS.powerFailures(length), value),
    );
  };
}

/** M-Bus readings of one kind as counters, by channel. */
function mbusReadings(
  kind: MbusDevice["kind"] | "heat_or_cold",
  convert: (q: Quantity) => number | undefined,
) {
  return (s: MetricSnapshot): Sample[] =>
    (s.telegram?.mbus ?? []).flatMap((d) => {
      const matches = kind === "heat_or_cold"
        ? d.kind === "heat" || d.kind === "cold"
        : d.kind === kind;
      // An empty slot (no meter on the channel) is no series, not a meter at 0.
      const reading = matches ? meterReading(d)?.value : undefined;
      const value = reading &&
        convert({ ...reading, value: held(s, REGISTER_KEYS.mbus(d.channel), reading.value) });
      return value === undefined ? [] : [{ labels: { channel: String(d.channel) }, value }];
    });
}

const watts = (
  q: Quantity | undefined,
) => (q === undefined ? undefined : Math.round(q.value * 1000 * 1000) / 1000);

/**
 * The meter's families with a fixed name: they read only the latest telegram and the registers
 * held for it, so they change only with a new telegram.
 */
export const METER_METRICS: readonly MetricRow[] = [
  // ---- the original product, generation 1 (README) --------------------------------------
  {
    name: "p1_usage_electricity_low",
    help: "Electricity usage low tariff",
    type: "gauge",
    read: fromTelegram((t) => plain(t.energy.import.t1)),
  },
  {
    name: "p1_usage_electricity_high",
    help: "Electricity usage high tariff",
    type: "gauge",
    read: fromTelegram((t) => plain(t.energy.import.t2)),
  },
  {
    name: "p1_returned_electricity_low",
    help: "Electricity returned low tariff",
    type: "gauge",
    read: fromTelegram((t) => plain(t.energy.export.t1)),
  },
  {
    name: "p1_returned_electricity_high",
    help: "Electricity returned high tariff",
    type: "gauge",
    read: fromTelegram((t) => plain(t.energy.export.t2)),
  },
  {
    name: "p1_active_tariff",
    help: "Active tariff",
    type: "gauge",
    read: fromTelegram((t) => t.tariff),
  },
  {
    name: "p1_actual_electricity_delivered",
    help: "Electricity actually delivered",
    type: "gauge",
    read: fromTelegram((t) => plain(t.power.import)),
  },
  {
    name: "p1_actual_electricity_retreived",
    help: "Electricity actually retreived",
    type: "gauge",
    read: fromTelegram((t) => plain(t.power.export)),
  },
  {
    name: "p1_power_failures_short",
    help: "Number of power failures in any phase",
    type: "gauge",
    read: fromTelegram((t) => t.powerFailures.short),
  },
  {
    name: "p1_power_failures_long",
    help: "Number of long power failures in any phase",
    type: "gauge",
    read: fromTelegram((t) => t.powerFailures.long),
  },
  {
    name: "p1_usage_gas",
    help: "Gas usage",
    type: "gauge",
    read: fromTelegram((t) => gasDevice(t)?.reading?.value.value),
  },
  // ---- the original product, generation 2 -------------------------------------------------
  {
    name: "p1_version",
    help: "Version of the P1 protocol used",
    type: "gauge",
    read: fromTelegram((t) => (t.version === undefined ? undefined : Number(t.version))),
  },
  {
    name: "p1_timestamp",
    help:
      "Meter time of the last telegram as a Windows FILETIME (100 ns ticks since 1601-01-01 UTC)",
    type: "gauge",
    read: fromTelegram((
      t,
    ) => (t.timestamp ? (t.timestamp.epochMs + FILETIME_EPOCH_OFFSET_MS) * 10_000 : undefined)),
  },
  {
    name: "p1_timestamp_seconds",
    help: "Meter time of the last telegram in Unix seconds",
    type: "gauge",
    read: fromTelegram((t) => (t.timestamp ? t.timestamp.epochMs / 1000 : undefined)),
  },
  {
    name: "p1_tariff_indicator",
    help: "Active tariff",
    type: "gauge",
    read: fromTelegram((t) => t.tariff),
  },
  {
    name: "p1_actual_electricity_retrieved",
    help: "Actual electricity power received (-P) in kW",
    type: "gauge",
    read: fromTelegram((t) => plain(t.power.export)),
  },
  ...originalPhaseRows(),
  // ---- Prometheus conventions: base units, counters with _total, labels -------------------
  {
    name: "p1_energy_imported_joules_total",
    help: "Energy delivered to the client by tariff (meter register)",
    type: "counter",
    read: registers("import"),
  },
  {
    name: "p1_energy_exported_joules_total",
    help: "Energy delivered by the client by tariff (meter register)",
    type: "counter",
    read: registers("export"),
  },
  {
    name: "p1_power_import_watts",
    help: "Active power imported from the grid (+P)",
    type: "gauge",
    read: fromTelegram((t) => watts(t.power.import)),
  },
  {
    name: "p1_power_export_watts",
    help: "Active power exported to the grid (-P)",
    type: "gauge",
    read: fromTelegram((t) => watts(t.power.export)),
  },
  {
    name: "p1_phase_power_import_watts",
    help: "Active power imported per phase (+P)",
    type: "gauge",
    read: perPhase((p) => watts(p.powerImport)),
  },
  {
    name: "p1_phase_power_export_watts",
    help: "Active power exported per phase (-P)",
    type: "gauge",
    read: perPhase((p) => watts(p.powerExport)),
  },
  {
    name: "p1_voltage_volts",
    help: "Voltage per phase",
    type: "gauge",
    read: perPhase((p) => plain(p.voltage)),
  },
  {
    name: "p1_current_amperes",
    help: "Current per phase",
    type: "gauge",
    read: perPhase((p) => plain(p.current)),
  },
  {
    name: "p1_voltage_sags_total",
    help: "Voltage sags per phase (meter counter)",
    type: "counter",
    read: phaseCounter("voltageSags"),
  },
  {
    name: "p1_voltage_swells_total",
    help: "Voltage swells per phase (meter counter)",
    type: "counter",
    read: phaseCounter("voltageSwells"),
  },
  {
    name: "p1_power_failures_total",
    help: "Power failures in any phase (meter counter)",
    type: "counter",
    read: failureCounter("short"),
  },
  {
    name: "p1_long_power_failures_total",
    help: "Long power failures in any phase (meter counter)",
    type: "counter",
    read: failureCounter("long"),
  },
  {
    name: "p1_tariff",
    help: "Active tariff (0-0:96.14.0)",
    type: "gauge",
    read: fromTelegram((t) => t.tariff),
  },
  {
    name: "p1_telegram_timestamp_seconds",
    help: "The meter's clock at the last valid telegram",
    type: "gauge",
    read: fromTelegram((t) => (t.timestamp ? t.timestamp.epochMs / 1000 : undefined)),
  },
  {
    name: "p1_gas_cubic_meters_total",
    help: "Gas delivered, by M-Bus channel (meter register)",
    type: "counter",
    read: mbusReadings("gas", (q) => (q.unit === "m3" ? q.value : undefined)),
  },
  {
    name: "p1_water_cubic_meters_total",
    help: "Water delivered, by M-Bus channel (meter register)",
    type: "counter",
    read: mbusReadings("water", (q) => (q.unit === "m3" ? q.value : undefined)),
  },
  {
    name: "p1_heat_joules_total",
    help: "Heat or cold delivered, by M-Bus channel (meter register)",
    type: "counter",
    read: mbusReadings(
      "heat_or_cold",
      (q) => (JOULES_PER_UNIT[q.unit] ? Math.round(q.value * JOULES_PER_UNIT[q.unit]!) : undefined),
    ),
  },
  {
    name: "p1_submeter_energy_joules_total",
    help: "Energy of a slave electricity meter, by M-Bus channel",
    type: "counter",
    read: mbusReadings(
      "electricity",
      (q) => (q.unit === "kWh" ? Math.round(q.value * JOULES_PER_KWH) : undefined),
    ),
  },
  {
    name: "p1_mbus_reading_timestamp_seconds",
    help: "When the M-Bus device captured its last reading (gas is late by design)",
    type: "gauge",
    read: (s) =>
      (s.telegram?.mbus ?? []).flatMap((d) => {
        const time = meterReading(d)?.time;
        return time
          ? [{ labels: { channel: String(d.channel), kind: d.kind }, value: time.epochMs / 1000 }]
          : [];
      }),
  },
  {
    name: "p1_demand_average_watts",
    help: "Current quarter-hour average demand (Belgium)",
    type: "gauge",
    read: fromTelegram((t) => watts(t.demand?.currentAverage)),
  },
  {
    name: "p1_demand_month_peak_watts",
    help: "Peak quarter-hour demand of the running month (Belgium)",
    type: "gauge",
    read: fromTelegram((t) => watts(t.demand?.monthPeak?.value)),
  },
  {
    name: "p1_meter_info",
    help: "The meter: header, P1 version, equipment id and format",
    type: "gauge",
    read: (s) =>
      s.telegram
        ? [{
          labels: {
            header: s.telegram.header ?? "",
            version: s.telegram.version ?? "",
            equipment_id: s.telegram.equipmentId ?? "",
            format: s.telegram.format,
          },
          value: 1,
        }]
        : [],
  },
];

/** The reader's own families: counters, state and process figures that change between telegrams. */
export const READER_METRICS: readonly MetricRow[] = [
  {
    name: "p1_telegrams_total",
    help: "Telegrams framed, by result",
    type: "counter",
    read: (s) => [
      { labels: { result: "ok" }, value: s.counters.telegramsOk },
      { labels: { result: "crc_error" }, value: s.counters.crcErrors },
      { labels: { result: "parse_error" }, value: s.counters.parseErrors },
    ],
  },
  {
    name: "p1_read_bytes_total",
    help: "Bytes read from the source",
    type: "counter",
    read: (s) => one(s.counters.bytesRead),
  },
  {
    name: "p1_discarded_bytes_total",
    help: "Bytes outside valid frames (garbage, incomplete and oversized telegrams)",
    type: "counter",
    read: (s) => one(s.counters.discardedBytes),
  },
  {
    name: "p1_encrypted_frames_total",
    help: "Encrypted (Luxembourg Smarty) frames, by result: ok, or why they gave no telegram",
    type: "counter",
    read: (s) =>
      Object.entries(FRAME_OUTCOMES).map(([result, counted]) => ({
        labels: { result },
        value: s.counters.encryptedFrames[counted],
      })),
  },
  {
    name: "p1_meter_clock_jumps_total",
    help: "Telegrams at which the meter's clock jumped (left out of the history and pushes)",
    type: "counter",
    read: (s) => one(s.counters.clockJumps),
  },
  {
    name: "p1_meter_register_glitches_total",
    help:
      "Telegrams with a meter register that fell or grew faster than a meter counts (left out of the history, pushes and counters)",
    type: "counter",
    read: (s) => one(s.counters.registerGlitches),
  },
  {
    name: "p1_telegram_value_problems_total",
    help:
      "Values of valid telegrams that did not fit their line's specification (kept out of every output)",
    type: "counter",
    read: (s) => one(s.counters.valueProblems),
  },
  {
    name: "p1_source_connected",
    help: "1 while the source delivers valid telegrams",
    type: "gauge",
    read: (s) => one(s.state === "connected" ? 1 : 0),
  },
  {
    name: "p1_source_reconnects_total",
    help: "Times the source was reopened",
    type: "counter",
    read: (s) => one(s.counters.reconnects),
  },
  {
    name: "p1_last_telegram_received_timestamp_seconds",
    help: "When the last valid telegram was received (this host's clock)",
    type: "gauge",
    read: (s) => one(s.receivedAt === undefined ? undefined : s.receivedAt / 1000),
  },
  {
    name: "p1_build_info",
    help: "The reader's version and runtime",
    type: "gauge",
    read: (s) => [{ labels: { version: s.version, deno: Deno.version.deno }, value: 1 }],
  },
  {
    name: "p1_http_connections",
    help: "HTTP connections open",
    type: "gauge",
    read: (s) => one(s.connections?.open),
  },
  {
    name: "p1_http_connections_closed_total",
    help: "HTTP connections closed by a limit, by reason (header_timeout, idle, evicted)",
    type: "counter",
    read: (s) => {
      const c = s.connections;
      if (!c) return [];
      return [
        { labels: { reason: "header_timeout" }, value: c.closedHeaderTimeout },
        { labels: { reason: "idle" }, value: c.closedIdle },
        { labels: { reason: "evicted" }, value: c.evicted },
      ];
    },
  },
  {
    name: "p1_http_connections_refused_total",
    help: "HTTP connections refused because the connection limit was reached",
    type: "counter",
    read: (s) => one(s.connections?.refused),
  },
];

/** Every metric family with a fixed name: the meter's, then the reader's. */
export const METRICS: readonly MetricRow[] = [...METER_METRICS, ...READER_METRICS];

/**
 * The original's per-device families (`p1_mbus_<id>_device_type`, `_capture_time`, `_value`) for
 * one M-Bus device; `<id>` is its raw hex identifier, or its 1-based position when it has none.
 *
 * @param key The `<id>` part.
 * @param find Finds the device in a telegram.
 * @returns The three rows.
 */
export function originalMbusRows(
  key: string,
  find: (t: Telegram) => MbusDevice | undefined,
): MetricRow[] {
  const device = (read: (d: MbusDevice) => number | undefined) =>
    fromTelegram((t) => {
      const found = find(t);
      return found ? read(found) : undefined;
    });
  return [
    {
      name: `p1_mbus_${key}_device_type`,
      help: `Modbus client ${key} device type`,
      type: "gauge",
      read: device((d) => d.deviceType),
    },
    {
      name: `p1_mbus_${key}_capture_time`,
      help: `Modbus client ${key} metric capture time (Windows FILETIME)`,
      type: "gauge",
      read: device((
        d,
      ) => (d.reading?.time
        ? (d.reading.time.epochMs + FILETIME_EPOCH_OFFSET_MS) * 10_000
        : undefined)
      ),
    },
    {
      name: `p1_mbus_${key}_value`,
      help: `Modbus client ${key} metric value`,
      type: "gauge",
      read: device((d) => d.reading?.value.value),
    },
  ];
}
