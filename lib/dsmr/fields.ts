/**
 * FIELDS: the one table of OBIS references this reader knows. Each row names the field it
 * fills, the shapes of its values (for the generic view) and a small function that stores the
 * decoded values in the model. M-Bus rows use the channel placeholder `0-n:` (n = 1..4).
 *
 * Sources: DSMR 5.0.2 P1 Companion Standard (table 6), e-MUCS P1 1.7.1 (Belgium), Luxembourg
 * Smarty P1 specification 1.1.3, Swedish P1 (SS-EN 62056-21 based), EasyMeter Q3D manual,
 * E.ON Hungary P1 specification.
 *
 * @module
 */

import type {
  EnergyRegisters,
  MbusDevice,
  ObisValue,
  PeakDemand,
  PhaseReadings,
  Quantity,
  Telegram,
  Timestamp,
} from "./model.ts";
import { quotable } from "./errors.ts";
import type { ValueShape } from "./values.ts";

/** Groups of rows; a format is a set of groups. */
export type FieldGroup =
  | "dsmr"
  | "dsmr22"
  | "belgium"
  | "totals"
  | "luxembourg"
  | "hungary"
  | "q3d";

/** What a row's `apply` works on: the telegram being built and the M-Bus devices so far. */
export interface FieldContext {
  /** The telegram being filled in. */
  telegram: Telegram;
  /** The M-Bus device of the line's channel (M-Bus rows only). */
  device: MbusDevice | undefined;
  /** The raw strings of the line. */
  raw: string[];
}

/** One row of the catalogue. */
export interface FieldSpec {
  /** The OBIS reference, `0-n:` for an M-Bus channel. */
  obis: string;
  /** The model field it fills, as a dotted path (for the `obis` view and documentation). */
  field: string;
  /** The group the row belongs to. */
  group: FieldGroup;
  /** What the value means, in the specification's words. */
  description: string;
  /**
   * The format of a number value as the specification writes it, with its unit (see
   * {@linkcode valueFormat}), e.g. `F9(3) kWh`; a number that does not fit it is a problem.
   */
  format?: string;
  /** Shapes of the values in order; with `repeat`, the last `repeat` shapes repeat. */
  shapes: readonly ValueShape[];
  /** How many trailing shapes repeat (profile buffers such as the event log). */
  repeat?: number;
  /** Stores the decoded values; returns a reason when they cannot be read. */
  apply(values: ObisValue[], context: FieldContext): string | undefined;
  /**
   * Quantity rows: the unit and the setter `apply` uses, so that parsing can store a lone number
   * already in that unit (the usual line) without calling `apply`.
   */
  quantity?: { unit: string; set: Setter<Quantity> };
  /** Count rows: the setter `apply` uses, so that parsing can store a lone number without it. */
  count?: Setter<number>;
}

/** Stores a value in a fixed place of the telegram. */
export type Setter<T> = (telegram: Telegram, value: T) => void;

// ---- value formats -----------------------------------------------------------------------

/** A number's format as the specifications write it; see {@linkcode valueFormat}. */
export interface ValueFormat {
  /** As written, e.g. `F9(3) kWh`. */
  text: string;
  /** The value's magnitude is below this: 10 to the number of digits before the point. */
  limit: number;
  /** The units it may carry, the first being what a value without unit means. */
  units: readonly string[];
}

/**
 * Reads a value format as the DSMR, e-MUCS and Smarty specifications write it: `F9(3)` is a
 * number of nine digits, three of them decimals (at most 999999.999); `I1` and `S4` are integers
 * of one and four digits. The units follow, alternatives separated by `|`.
 *
 * @param text For example `F9(3) kWh`, `F4(1) kW|A` or `I1`.
 * @returns The format.
 * @throws {SyntaxError} When `text` is not such a format (a mistake in the table).
 *
 * @example
 * ```ts
 * import { valueFormat } from "./fields.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(valueFormat("F9(3) kWh"), { text: "F9(3) kWh", limit: 1e6, units: ["kWh"] });
 * ```
 */
export function valueFormat(text: string): ValueFormat {
  const match = /^(?:F(\d+)\((\d+)\)|[IS](\d+))(?: (\S+))?$/.exec(text);
  if (!match) throw new SyntaxError(`Cannot read the value format "${text}"`);
  const digits = match[3] === undefined ? Number(match[1]) - Number(match[2]) : Number(match[3]);
  return { text, limit: 10 ** digits, units: match[4]?.split("|") ?? [] };
}

/** Whether a number has no more digits before its point than its format allows. */
export function fitsFormat(value: number, limit: number): boolean {
  return value < limit && value > -limit;
}

// ---- small value helpers ---------------------------------------------------------------

const SCALES: Record<string, number> = { "W>kW": 0.001, "Wh>kWh": 0.001, "var>kvar": 0.001 };

/** A number in one of its format's units (`W` and `Wh` scaled to `kW` and `kWh`) that fits it. */
function quantity(value: ObisValue | undefined, format: ValueFormat): Quantity | undefined {
  if (value?.kind !== "number") return undefined;
  const unit = format.units[0]!;
  let read: Quantity;
  if (value.unit === undefined) read = { value: value.value, unit };
  else if (format.units.includes(value.unit)) read = { value: value.value, unit: value.unit };
  else {
    const scale = SCALES[`${value.unit}>${unit}`];
    if (scale === undefined) return undefined;
    read = { value: Math.round(value.value * scale * 1e9) / 1e9, unit };
  }
  return fitsFormat(read.value, format.limit) ? read : undefined;
}

/** An M-Bus reading: a number in one of its format's units, or none (the device's kind says). */
function reading(value: ObisValue | undefined, format: ValueFormat): Quantity | undefined {
  if (value?.kind !== "number" || !fitsFormat(value.value, format.limit)) return undefined;
  if (value.unit !== undefined && !format.units.includes(value.unit)) return undefined;
  return { value: value.value, unit: value.unit ?? "" };
}

function integer(value: ObisValue | undefined, format: ValueFormat): number | undefined {
  return value?.kind === "number" && fitsFormat(value.value, format.limit)
    ? value.value
    : undefined;
}

function timestamp(value: ObisValue | undefined, raw: string | undefined): Timestamp | undefined {
  if (value?.kind !== "timestamp" || raw === undefined) return undefined;
  return { iso: value.value, epochMs: value.epochMs, raw };
}

function text(value: ObisValue | undefined): string | undefined {
  if (value?.kind === "text") return value.value;
  if (value?.kind === "empty") return "";
  return undefined;
}

/** Why a line's values cannot be read, quoting them (their first 80 characters). */
function describe(context: FieldContext, expected: string): string {
  return `Cannot read ${expected} from "${quotable(context.raw.join(")("), 80)}"`;
}

// ---- row builders ----------------------------------------------------------------------

function quantityRow(
  obis: string,
  field: string,
  group: FieldGroup,
  description: string,
  formatText: string,
  set: Setter<Quantity>,
): FieldSpec {
  const format = valueFormat(formatText);
  return {
    obis,
    field,
    group,
    description,
    format: formatText,
    shapes: ["number"],
    quantity: { unit: format.units[0]!, set },
    apply(values, context) {
      if (values[0]?.kind === "empty") return undefined;
      const q = quantity(values[0], format);
      if (!q) return describe(context, `a number of format ${formatText}`);
      set(context.telegram, q);
    },
  };
}

function integerRow(
  obis: string,
  field: string,
  group: FieldGroup,
  description: string,
  formatText: string,
  set: Setter<number>,
): FieldSpec {
  const format = valueFormat(formatText);
  return {
    obis,
    field,
    group,
    description,
    format: formatText,
    shapes: ["number"],
    count: set,
    apply(values, context) {
      if (values[0]?.kind === "empty") return undefined;
      const n = integer(values[0], format);
      if (n === undefined) return describe(context, `a number of format ${formatText}`);
      set(context.telegram, n);
    },
  };
}

function textRow(
  obis: string,
  field: string,
  group: FieldGroup,
  description: string,
  shape: "text" | "hex",
  set: Setter<string>,
): FieldSpec {
  return {
    obis,
    field,
    group,
    description,
    shapes: [shape],
    apply(values, context) {
      const t = text(values[0]);
      if (t === undefined) return describe(context, "text");
      set(context.telegram, t);
    },
  };
}

// Setters store by a fixed property name: a store by computed key (`t.energy[direction][register]`)
// is megamorphic in V8 and cost 2-3% of parsing a telegram. Each setter made below has its
// own name in its code, and reaches the object it stores into through one of a few accessors.

type Of<T> = (telegram: Telegram) => T;

const REGISTERS: Record<"import" | "export", Of<EnergyRegisters>> = {
  import: (t) => t.energy.import,
  export: (t) => t.energy.export,
};

const REGISTER_SETTERS: Record<
  keyof EnergyRegisters,
  (of: Of<EnergyRegisters>) => Setter<Quantity>
> = {
  t1: (of) => (t, q) => void (of(t).t1 = q),
  t2: (of) => (t, q) => void (of(t).t2 = q),
  t3: (of) => (t, q) => void (of(t).t3 = q),
  t4: (of) => (t, q) => void (of(t).t4 = q),
  total: (of) => (t, q) => void (of(t).total = q),
};

function energy(direction: "import" | "export", register: keyof EnergyRegisters): Setter<Quantity> {
  return REGISTER_SETTERS[register](REGISTERS[direction]);
}

/** A phase's readings, made when the phase's first line is stored. */
const PHASES: Record<"l1" | "l2" | "l3", Of<PhaseReadings>> = {
  l1: (t) => (t.phases.l1 ??= {}),
  l2: (t) => (t.phases.l2 ??= {}),
  l3: (t) => (t.phases.l3 ??= {}),
};

const PHASE_SETTERS = {
  voltage: (of: Of<PhaseReadings>): Setter<Quantity> => (t, q) => void (of(t).voltage = q),
  current: (of: Of<PhaseReadings>): Setter<Quantity> => (t, q) => void (of(t).current = q),
  powerImport: (of: Of<PhaseReadings>): Setter<Quantity> => (t, q) => void (of(t).powerImport = q),
  powerExport: (of: Of<PhaseReadings>): Setter<Quantity> => (t, q) => void (of(t).powerExport = q),
  voltageSags: (of: Of<PhaseReadings>): Setter<number> => (t, n) => void (of(t).voltageSags = n),
  voltageSwells: (of: Of<PhaseReadings>): Setter<number> => (t, n) =>
    void (of(t).voltageSwells = n),
};

function phase(
  name: "l1" | "l2" | "l3",
  key: "voltage" | "current" | "powerImport" | "powerExport",
): Setter<Quantity> {
  return PHASE_SETTERS[key](PHASES[name]);
}

function phaseCount(
  name: "l1" | "l2" | "l3",
  key: "voltageSags" | "voltageSwells",
): Setter<number> {
  return PHASE_SETTERS[key](PHASES[name]);
}

function phaseRows(
  name: "l1" | "l2" | "l3",
  codes: {
    voltage: string;
    current: string;
    powerImport: string;
    powerExport: string;
    sags: string;
    swells: string;
  },
): FieldSpec[] {
  const label = name.toUpperCase();
  return [
    quantityRow(
      codes.voltage,
      `phases.${name}.voltage`,
      "dsmr",
      `Instantaneous voltage ${label}`,
      "F4(1) V",
      phase(name, "voltage"),
    ),
    quantityRow(
      codes.current,
      `phases.${name}.current`,
      "dsmr",
      `Instantaneous current ${label}`,
      "F3(0) A",
      phase(name, "current"),
    ),
    quantityRow(
      codes.powerImport,
      `phases.${name}.powerImport`,
      "dsmr",
      `Instantaneous active power ${label} (+P)`,
      "F5(3) kW",
      phase(name, "powerImport"),
    ),
    quantityRow(
      codes.powerExport,
      `phases.${name}.powerExport`,
      "dsmr",
      `Instantaneous active power ${label} (-P)`,
      "F5(3) kW",
      phase(name, "powerExport"),
    ),
    integerRow(
      codes.sags,
      `phases.${name}.voltageSags`,
      "dsmr",
      `Number of voltage sags in phase ${label}`,
      "F5(0)",
      phaseCount(name, "voltageSags"),
    ),
    integerRow(
      codes.swells,
      `phases.${name}.voltageSwells`,
      "dsmr",
      `Number of voltage swells in phase ${label}`,
      "F5(0)",
      phaseCount(name, "voltageSwells"),
    ),
  ];
}

/** An M-Bus reading: gas and water in m3, heat and cold in GJ, slave electricity in kWh. */
const MBUS_READING = valueFormat("F8(2) m3|GJ|kWh");
/** DSMR 2.2/3.0's gas reading, its unit in a group of its own. */
const OLD_GAS_READING = valueFormat("F8(3) m3");
const DEVICE_TYPE = valueFormat("F3(0)");
const VALVE = valueFormat("I1");
const FAILURE_DURATION = valueFormat("F10(0) s");
/** Belgian demand (e-MUCS): the quarter-hour average and the monthly peaks. */
const DEMAND = valueFormat("F5(3) kW");
/** How many months the demand history holds (at most 13). */
const DEMAND_MONTHS = valueFormat("F2(0)");

function mbusReadingRow(obis: string, group: FieldGroup, description: string): FieldSpec {
  return {
    obis,
    field: "mbus[].reading",
    group,
    description,
    format: MBUS_READING.text,
    shapes: ["timestamp", "number"],
    apply(values, context) {
      const device = context.device!;
      const value = reading(values[1], MBUS_READING);
      if (!value) {
        if (values[1]?.kind === "empty" || values[1] === undefined) return undefined;
        return describe(context, "a capture time and a reading");
      }
      const time = timestamp(values[0], context.raw[0]);
      device.reading = time ? { time, value } : { value };
    },
  };
}

function peak(
  month: Timestamp | undefined,
  time: Timestamp | undefined,
  value: Quantity,
): PeakDemand {
  const entry: PeakDemand = { value };
  if (month) entry.month = month;
  if (time) entry.time = time;
  return entry;
}

// ---- the catalogue ---------------------------------------------------------------------

/**
 * Every OBIS reference this reader gives a named field, one row per reference and group. A format
 * reads its groups' rows; a row of a later group replaces one of an earlier group for the same
 * reference (Luxembourg's threshold in kVA).
 */
export const FIELDS: readonly FieldSpec[] = [
  textRow("1-3:0.2.8", "version", "dsmr", "Version information for P1 output", "text", (t, v) => {
    t.version = v;
  }),
  {
    obis: "0-0:1.0.0",
    field: "timestamp",
    group: "dsmr",
    description: "Date-time stamp of the P1 message",
    shapes: ["timestamp"],
    apply(values, context) {
      const time = timestamp(values[0], context.raw[0]);
      if (!time) return describe(context, "a timestamp");
      context.telegram.timestamp = time;
    },
  },
  textRow("0-0:96.1.1", "equipmentId", "dsmr", "Equipment identifier", "hex", (t, v) => {
    if (v !== "") t.equipmentId = v;
  }),
  quantityRow(
    "1-0:1.8.1",
    "energy.import.t1",
    "dsmr",
    "Electricity delivered to client, tariff 1",
    "F9(3) kWh",
    energy("import", "t1"),
  ),
  quantityRow(
    "1-0:1.8.2",
    "energy.import.t2",
    "dsmr",
    "Electricity delivered to client, tariff 2",
    "F9(3) kWh",
    energy("import", "t2"),
  ),
  quantityRow(
    "1-0:2.8.1",
    "energy.export.t1",
    "dsmr",
    "Electricity delivered by client, tariff 1",
    "F9(3) kWh",
    energy("export", "t1"),
  ),
  quantityRow(
    "1-0:2.8.2",
    "energy.export.t2",
    "dsmr",
    "Electricity delivered by client, tariff 2",
    "F9(3) kWh",
    energy("export", "t2"),
  ),
  integerRow("0-0:96.14.0", "tariff", "dsmr", "Tariff indicator electricity", "S4", (t, v) => {
    t.tariff = v;
  }),
  quantityRow(
    "1-0:1.7.0",
    "power.import",
    "dsmr",
    "Actual electricity power delivered (+P)",
    "F5(3) kW",
    (t, q) => {
      t.power.import = q;
    },
  ),
  quantityRow(
    "1-0:2.7.0",
    "power.export",
    "dsmr",
    "Actual electricity power received (-P)",
    "F5(3) kW",
    (t, q) => {
      t.power.export = q;
    },
  ),
  integerRow(
    "0-0:96.7.21",
    "powerFailures.short",
    "dsmr",
    "Number of power failures in any phase",
    "F5(0)",
    (t, v) => {
      t.powerFailures.short = v;
    },
  ),
  integerRow(
    "0-0:96.7.9",
    "powerFailures.long",
    "dsmr",
    "Number of long power failures in any phase",
    "F5(0)",
    (t, v) => {
      t.powerFailures.long = v;
    },
  ),
  {
    obis: "1-0:99.97.0",
    field: "powerFailures.log",
    group: "dsmr",
    description: "Power failure event log (end of failure, duration in seconds)",
    format: FAILURE_DURATION.text,
    shapes: ["number", "text", "timestamp", "number"],
    repeat: 2,
    apply(values, context) {
      if (values.length === 1 && values[0]?.kind === "empty") {
        context.telegram.powerFailures.log = [];
        return undefined;
      }
      const log = [];
      for (let i = 2; i + 1 < values.length; i += 2) {
        const duration = quantity(values[i + 1], FAILURE_DURATION);
        if (!duration) return describe(context, "an event log");
        const end = timestamp(values[i], context.raw[i]);
        log.push(
          end ? { end, durationSeconds: duration.value } : { durationSeconds: duration.value },
        );
      }
      context.telegram.powerFailures.log = log;
    },
  },
  ...phaseRows("l1", {
    voltage: "1-0:32.7.0",
    current: "1-0:31.7.0",
    powerImport: "1-0:21.7.0",
    powerExport: "1-0:22.7.0",
    sags: "1-0:32.32.0",
    swells: "1-0:32.36.0",
  }),
  ...phaseRows("l2", {
    voltage: "1-0:52.7.0",
    current: "1-0:51.7.0",
    powerImport: "1-0:41.7.0",
    powerExport: "1-0:42.7.0",
    sags: "1-0:52.32.0",
    swells: "1-0:52.36.0",
  }),
  ...phaseRows("l3", {
    voltage: "1-0:72.7.0",
    current: "1-0:71.7.0",
    powerImport: "1-0:61.7.0",
    powerExport: "1-0:62.7.0",
    sags: "1-0:72.32.0",
    swells: "1-0:72.36.0",
  }),
  textRow("0-0:96.13.0", "textMessage", "dsmr", "Text message", "hex", (t, v) => {
    t.textMessage = v;
  }),
  textRow("0-0:96.13.1", "textCode", "dsmr", "Text message code", "hex", (t, v) => {
    t.textCode = v;
  }),
  integerRow("0-0:96.3.10", "breakerState", "dsmr", "Breaker (switch) position", "I1", (t, v) => {
    t.breakerState = v;
  }),
  // DSMR 4 and 5 give it in kW; DSMR 2.2/3.0 meters also in A.
  quantityRow(
    "0-0:17.0.0",
    "limiterThreshold",
    "dsmr",
    "Limiter threshold",
    "F4(1) kW|A",
    (t, q) => {
      t.limiterThreshold = q;
    },
  ),
  {
    obis: "0-n:24.1.0",
    field: "mbus[].deviceType",
    group: "dsmr",
    description: "M-Bus device type",
    format: DEVICE_TYPE.text,
    shapes: ["number"],
    apply(values, context) {
      const n = integer(values[0], DEVICE_TYPE);
      if (n === undefined) return describe(context, `a device type of format ${DEVICE_TYPE.text}`);
      context.device!.deviceType = n;
    },
  },
  {
    obis: "0-n:96.1.0",
    field: "mbus[].id",
    group: "dsmr",
    description: "M-Bus equipment identifier",
    shapes: ["hex"],
    apply(values, context) {
      const id = text(values[0]);
      if (id) context.device!.id = id;
    },
  },
  mbusReadingRow("0-n:24.2.1", "dsmr", "Last 5-minute M-Bus reading and its capture time"),
  {
    obis: "0-n:24.4.0",
    field: "mbus[].valve",
    group: "dsmr",
    description: "M-Bus valve position",
    format: VALVE.text,
    shapes: ["number"],
    apply(values, context) {
      const n = integer(values[0], VALVE);
      if (n === undefined) return describe(context, `a valve position of format ${VALVE.text}`);
      context.device!.valve = n;
    },
  },
  {
    obis: "0-n:24.3.0",
    field: "mbus[].reading",
    group: "dsmr22",
    description: "DSMR 2.2/3.0 gas reading: time, ..., unit, and the value on the next line",
    format: OLD_GAS_READING.text,
    shapes: ["timestamp", "text", "text", "text", "text", "text", "number"],
    apply(values, context) {
      const unit = context.raw[5] ?? "";
      const value = OLD_GAS_READING.units.includes(unit)
        ? reading(values[6], OLD_GAS_READING)
        : undefined;
      if (!value) return describe(context, `a gas reading of format ${OLD_GAS_READING.text}`);
      const time = timestamp(values[0], context.raw[0]);
      value.unit = unit;
      context.device!.reading = time ? { time, value } : { value };
    },
  },
  textRow("0-0:96.1.4", "version", "belgium", "Version information (e-MUCS)", "text", (t, v) => {
    t.version = v;
  }),
  quantityRow(
    "1-0:1.4.0",
    "demand.currentAverage",
    "belgium",
    "Current average demand (quarter hour)",
    "F5(3) kW",
    (t, q) => {
      (t.demand ??= {}).currentAverage = q;
    },
  ),
  {
    obis: "1-0:1.6.0",
    field: "demand.monthPeak",
    group: "belgium",
    description: "Maximum demand of the running month, with its time",
    format: DEMAND.text,
    shapes: ["timestamp", "number"],
    apply(values, context) {
      const value = quantity(values[1], DEMAND);
      if (!value) return describe(context, `a peak demand of format ${DEMAND.text}`);
      (context.telegram.demand ??= {}).monthPeak = peak(
        undefined,
        timestamp(values[0], context.raw[0]),
        value,
      );
    },
  },
  {
    obis: "0-0:98.1.0",
    field: "demand.history",
    group: "belgium",
    description: "Maximum demand of the last 13 months",
    format: DEMAND.text,
    shapes: ["number", "text", "text", "timestamp", "timestamp", "number"],
    repeat: 3,
    apply(values, context) {
      const expected = `a demand history of values of format ${DEMAND.text}`;
      if (integer(values[0], DEMAND_MONTHS) === undefined) return describe(context, expected);
      const history: PeakDemand[] = [];
      for (let i = 3; i + 2 < values.length; i += 3) {
        const value = quantity(values[i + 2], DEMAND);
        if (!value) return describe(context, expected);
        history.push(
          peak(
            timestamp(values[i], context.raw[i]),
            timestamp(values[i + 1], context.raw[i + 1]),
            value,
          ),
        );
      }
      (context.telegram.demand ??= {}).history = history;
    },
  },
  quantityRow(
    "1-0:31.4.0",
    "fuseThreshold",
    "belgium",
    "Fuse supervision threshold",
    "F5(2) A",
    (t, q) => {
      t.fuseThreshold = q;
    },
  ),
  {
    obis: "0-n:96.1.1",
    field: "mbus[].id",
    group: "belgium",
    description: "M-Bus equipment identifier (e-MUCS)",
    shapes: ["hex"],
    apply(values, context) {
      const id = text(values[0]);
      if (id) context.device!.id = id;
    },
  },
  mbusReadingRow("0-n:24.2.3", "belgium", "Last M-Bus reading (e-MUCS) and its capture time"),
  quantityRow(
    "1-0:1.8.0",
    "energy.import.total",
    "totals",
    "Electricity delivered to client, total",
    "F9(3) kWh",
    energy("import", "total"),
  ),
  quantityRow(
    "1-0:2.8.0",
    "energy.export.total",
    "totals",
    "Electricity delivered by client, total",
    "F9(3) kWh",
    energy("export", "total"),
  ),
  quantityRow(
    "1-0:1.8.3",
    "energy.import.t3",
    "totals",
    "Electricity delivered to client, tariff 3",
    "F9(3) kWh",
    energy("import", "t3"),
  ),
  quantityRow(
    "1-0:1.8.4",
    "energy.import.t4",
    "totals",
    "Electricity delivered to client, tariff 4",
    "F9(3) kWh",
    energy("import", "t4"),
  ),
  quantityRow(
    "1-0:2.8.3",
    "energy.export.t3",
    "totals",
    "Electricity delivered by client, tariff 3",
    "F9(3) kWh",
    energy("export", "t3"),
  ),
  quantityRow(
    "1-0:2.8.4",
    "energy.export.t4",
    "totals",
    "Electricity delivered by client, tariff 4",
    "F9(3) kWh",
    energy("export", "t4"),
  ),
  textRow(
    "0-0:42.0.0",
    "equipmentId",
    "luxembourg",
    "Equipment identifier (COSEM logical device name)",
    "hex",
    (t, v) => {
      if (v !== "") t.equipmentId = v;
    },
  ),
  // Smarty's active threshold SMAX, in kVA (openHAB's Smarty channels, the corpus's
  // `27.600*kVA`), which some meters send without its unit (`77.376`, openHAB's smarty.telegram).
  quantityRow(
    "0-0:17.0.0",
    "limiterThreshold",
    "luxembourg",
    "Active threshold (SMAX)",
    "F5(3) kVA",
    (t, q) => {
      t.limiterThreshold = q;
    },
  ),
  textRow("0-0:96.1.0", "equipmentId", "hungary", "Equipment identifier", "hex", (t, v) => {
    if (v !== "") t.equipmentId = v;
  }),
  textRow("0-0:96.1.255", "equipmentId", "q3d", "Serial number", "text", (t, v) => {
    if (v !== "") t.equipmentId = v;
  }),
];

/** The OBIS reference a catalogue row is looked up by: `.255`/`*255` dropped, M-Bus channel as `n`. */
export function catalogueKey(reference: string): { key: string; channel: number } {
  let key = reference;
  if (key.endsWith("*255") || key.endsWith(".255")) key = key.slice(0, -4);
  const c = key.charCodeAt(2);
  if (
    key.charCodeAt(0) === 0x30 && key.charCodeAt(1) === 0x2d && c >= 0x31 && c <= 0x39 &&
    key.charCodeAt(3) === 0x3a
  ) {
    return { key: `0-n${key.slice(3)}`, channel: c - 0x30 };
  }
  return { key, channel: 0 };
}
