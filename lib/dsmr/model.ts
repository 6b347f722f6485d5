/**
 * The typed telegram model produced by `parseTelegram`. Numbers are numbers, quantities carry
 * their unit, and a value the meter did not send is absent, never 0.
 *
 * @module
 */

import type { FormatId } from "./formats.ts";

/** A number with its unit, for example `{ value: 11080.001, unit: "kWh" }`. */
export interface Quantity {
  /** The number. */
  value: number;
  /** The unit as the P1 specification writes it (`kWh`, `kW`, `V`, `A`, `m3`, `GJ`, `s`, ...). */
  unit: string;
}

/** A meter timestamp (`TST`, `YYMMDDhhmmssX`) turned into an exact instant. */
export interface Timestamp {
  /** ISO 8601 local time with the UTC offset the meter meant, e.g. `2023-02-05T16:50:05+01:00`. */
  iso: string;
  /** The same instant in milliseconds since the Unix epoch. */
  epochMs: number;
  /** The value as the meter wrote it, e.g. `230205165005W`. */
  raw: string;
}

/** Energy registers for one direction, by tariff and in total (kWh). */
export interface EnergyRegisters {
  /** Tariff 1 (in the Netherlands: low; in Belgium: day/normal). */
  t1?: Quantity;
  /** Tariff 2 (in the Netherlands: normal/high; in Belgium: night/low). */
  t2?: Quantity;
  /** Tariff 3 (Hungary). */
  t3?: Quantity;
  /** Tariff 4 (Hungary). */
  t4?: Quantity;
  /** The meter's own total register (`1.8.0` / `2.8.0`), when it sends one. */
  total?: Quantity;
}

/** Instantaneous values and event counters of one phase. */
export interface PhaseReadings {
  /** Voltage (V). */
  voltage?: Quantity;
  /** Current (A). */
  current?: Quantity;
  /** Active power imported from the grid, +P (kW). */
  powerImport?: Quantity;
  /** Active power exported to the grid, -P (kW). */
  powerExport?: Quantity;
  /** Number of voltage sags. */
  voltageSags?: number;
  /** Number of voltage swells. */
  voltageSwells?: number;
}

/** One entry of the power failure event log (`1-0:99.97.0`). */
export interface PowerFailure {
  /** When the failure ended; absent when the meter wrote an invalid time. */
  end?: Timestamp;
  /** How long it lasted, in seconds. */
  durationSeconds: number;
}

/** One month of the Belgian peak demand history (`0-0:98.1.0`). */
export interface PeakDemand {
  /** Start of the month the peak belongs to. */
  month?: Timestamp;
  /** When the peak quarter-hour occurred. */
  time?: Timestamp;
  /** The peak average demand (kW). */
  value: Quantity;
}

/** What an M-Bus device measures, from its device type (EN 13757-3) or, lacking that, its unit. */
export type MbusKind = "gas" | "water" | "warm_water" | "heat" | "cold" | "electricity" | "unknown";

/** A device on an M-Bus channel of the meter (gas, water, heat, slave electricity). */
export interface MbusDevice {
  /** The channel, 1 to 4: the `n` of `0-n:...`. */
  channel: number;
  /** The M-Bus device type number (`0-n:24.1.0`), e.g. 3 for gas. */
  deviceType?: number;
  /** What the device measures. */
  kind: MbusKind;
  /** The equipment identifier, decoded from hex when it is printable text. */
  id?: string;
  /** The last reading the meter relayed, with the time the device captured it. */
  reading?: { time?: Timestamp; value: Quantity };
  /** Valve position (`0-n:24.4.0`): 0 closed, 1 open, as the meter sends it. */
  valve?: number;
}

/** A decoded value in the generic {@linkcode ObisLine} view. */
export type ObisValue =
  | { kind: "number"; value: number; unit?: string }
  | { kind: "timestamp"; value: string; epochMs: number }
  | { kind: "text"; value: string }
  | { kind: "empty" };

/** One data line as the meter sent it, with its values decoded. */
export interface ObisLine {
  /** The OBIS reference as written, e.g. `1-0:1.8.1` or `1-0:1.8.0*255`. */
  reference: string;
  /** The strings inside the parentheses, in order. */
  raw: string[];
  /** The same values decoded: numbers with units, timestamps, text. */
  values: ObisValue[];
  /** The named field this line fills, when the format knows it (e.g. `energy.import.t1`). */
  field?: string | undefined;
}

/** A data line the format knows but whose value could not be read. */
export interface LineProblem {
  /** The OBIS reference as written. */
  reference: string;
  /** What was wrong, naming the value. */
  reason: string;
}

/** The outcome of the CRC check. */
export interface ChecksumResult {
  /** The CRC as the meter wrote it, absent when it wrote none. */
  stated?: string;
  /** The CRC computed over `/` through `!`, 4 upper-case hex digits. */
  computed: string;
  /** `true` when they match, `null` when the meter sent none and the format allows that. */
  valid: boolean | null;
}

/** A parsed telegram: named fields, M-Bus devices and a generic view of every line. */
export interface Telegram {
  /** The format used to read it (after `auto` detection). */
  format: FormatId;
  /** The identification line without the `/`, e.g. `ISK5\2M550T-1012`. */
  header?: string;
  /** The three-letter manufacturer code from the header, e.g. `ISK`. */
  manufacturer?: string;
  /** The P1 version (`1-3:0.2.8`, e.g. `50`; in Belgium `0-0:96.1.4`, e.g. `50217`). */
  version?: string;
  /** The meter's clock at the time of the telegram. */
  timestamp?: Timestamp;
  /** The meter's equipment identifier, decoded from hex when it is printable text. */
  equipmentId?: string;
  /** The active tariff (`0-0:96.14.0`). */
  tariff?: number;
  /** Energy registers (kWh): `import` is delivered to the client, `export` delivered by it. */
  energy: { import: EnergyRegisters; export: EnergyRegisters };
  /** Total instantaneous active power (kW). */
  power: { import?: Quantity; export?: Quantity };
  /** Per-phase readings; a phase the meter does not report is absent. */
  phases: { l1?: PhaseReadings; l2?: PhaseReadings; l3?: PhaseReadings };
  /** Power failure counters and the event log of long failures. */
  powerFailures: { short?: number; long?: number; log?: PowerFailure[] };
  /** The text message (`0-0:96.13.0`), decoded from hex. */
  textMessage?: string;
  /** The text code (`0-0:96.13.1`), decoded from hex. */
  textCode?: string;
  /** Breaker/switch state (`0-0:96.3.10`). */
  breakerState?: number;
  /** Limiter threshold (`0-0:17.0.0`; kW, or A on DSMR 3). */
  limiterThreshold?: Quantity;
  /** Fuse supervision threshold (`1-0:31.4.0`, A). */
  fuseThreshold?: Quantity;
  /** Belgian capacity-tariff demand: current quarter-hour average, month peak and history. */
  demand?: { currentAverage?: Quantity; monthPeak?: PeakDemand; history?: PeakDemand[] };
  /** Devices on the M-Bus channels, by channel number. */
  mbus: MbusDevice[];
  /** Every data line, known or not, in telegram order. */
  obis: ObisLine[];
  /** Known lines whose values could not be read (kept raw in {@linkcode Telegram.obis}). */
  problems: LineProblem[];
  /** The CRC check. */
  checksum: ChecksumResult;
  /** The telegram text exactly as received (Latin-1 decoded). */
  raw: string;
}
