/**
 * FIELDS: the one table of OBIS references this reader knows, as plain data. Each row names the
 * model field it fills (a path such as `energy.import.t1`), the shapes its values are decoded at,
 * the line reader that makes the field's value of them (see `lines.ts`) and, for numbers, the value
 * format the specification gives. M-Bus rows use the channel placeholder `0-n:` (n = 1..9).
 *
 * Sources: DSMR 5.0.2 P1 Companion Standard (table 6), e-MUCS P1 1.7.1 (Belgium), Luxembourg
 * Smarty P1 specification 1.1.3, Swedish P1 (SS-EN 62056-21 based), EasyMeter Q3D manual,
 * E.ON Hungary P1 specification.
 *
 * @module
 */

import type { LineShape, LineValues, MbusReading } from "./lines.ts";
import type {
  EnergyRegisters,
  PeakDemand,
  PowerFailure,
  Quantity,
  Telegram,
  Timestamp,
} from "./model.ts";
import type { ValueShape } from "./values.ts";

export type { LineShape, LineValues, MbusReading } from "./lines.ts";

/** Groups of rows; a format is a set of groups. */
export type FieldGroup =
  | "dsmr"
  | "dsmr22"
  | "belgium"
  | "totals"
  | "luxembourg"
  | "hungary"
  | "q3d";

/** The registers of one direction: `t1` to `t4` and `total`. */
export type Register = keyof EnergyRegisters;
/** The phases: `l1`, `l2`, `l3`. */
export type Phase = keyof Telegram["phases"];

/**
 * Every named field of the telegram model by its path, with the type of its value. `mbus[].` paths
 * are fields of the M-Bus device of the line's channel.
 */
export type FieldValues =
  & {
    version: string;
    timestamp: Timestamp;
    equipmentId: string;
    tariff: number;
    "power.import": Quantity;
    "power.export": Quantity;
    "powerFailures.short": number;
    "powerFailures.long": number;
    "powerFailures.log": PowerFailure[];
    textMessage: string;
    textCode: string;
    breakerState: number;
    limiterThreshold: Quantity;
    fuseThreshold: Quantity;
    "demand.currentAverage": Quantity;
    "demand.monthPeak": PeakDemand;
    "demand.history": PeakDemand[];
    "mbus[].deviceType": number;
    "mbus[].id": string;
    "mbus[].reading": MbusReading;
    "mbus[].valve": number;
  }
  & { [P in `energy.${"import" | "export"}.${Register}`]: Quantity }
  & { [P in `phases.${Phase}.${"voltage" | "current" | "powerImport" | "powerExport"}`]: Quantity }
  & { [P in `phases.${Phase}.${"voltageSags" | "voltageSwells"}`]: number };

/** The path of a named field, e.g. `energy.import.t1` or `mbus[].reading`. */
export type FieldPath = keyof FieldValues;

/** The line readers whose value a field of type `T` takes. */
export type ReaderOf<T> = {
  [S in LineShape]: LineValues[S] extends T ? T extends LineValues[S] ? S : never : never;
}[LineShape];

/** One row of the catalogue, for the field at `P`. */
export interface FieldRow<P extends FieldPath> {
  /** The OBIS reference, `0-n:` for an M-Bus channel. */
  readonly obis: string;
  /** The model field it fills, as a path. */
  readonly field: P;
  /** The group the row belongs to. */
  readonly group: FieldGroup;
  /** What the value means, in the specification's words. */
  readonly description: string;
  /** Shapes of the values in order; with `repeat`, the last `repeat` shapes repeat. */
  readonly shapes: readonly ValueShape[];
  /** How many trailing shapes repeat (profile buffers such as the event log). */
  readonly repeat?: number;
  /** The line reader that makes the field's value of the decoded values. */
  readonly reader: ReaderOf<FieldValues[P]>;
  /**
   * The format of a number value as the specification writes it, with its unit (see
   * `valueFormat`), e.g. `F9(3) kWh`; a number that does not fit it is a problem.
   */
  readonly format?: string;
  /** The number may be negative (the specifications' numbers are unsigned; a few meters' not). */
  readonly signed?: boolean;
}

/** One row of the catalogue: a reader whose value has the type of the row's field. */
export type FieldSpec = { [P in FieldPath]: FieldRow<P> }[FieldPath];

const NUMBER: readonly ValueShape[] = ["number"];
const TEXT: readonly ValueShape[] = ["text"];
const HEX: readonly ValueShape[] = ["hex"];
const TIMESTAMP: readonly ValueShape[] = ["timestamp"];
const TIMESTAMP_NUMBER: readonly ValueShape[] = ["timestamp", "number"];

/**
 * The paths whose value has type `T`. The row builders below take only these, which is what makes
 * the row they build (a union member the compiler cannot pick for a union of paths) right.
 */
type PathOf<T> = { [P in FieldPath]: FieldValues[P] extends T ? P : never }[FieldPath];

function quantity(
  obis: string,
  field: PathOf<Quantity>,
  group: FieldGroup,
  description: string,
  format: string,
): FieldSpec {
  return {
    obis,
    field,
    group,
    description,
    format,
    shapes: NUMBER,
    reader: "quantity",
  } as FieldSpec;
}

function count(
  obis: string,
  field: PathOf<number>,
  group: FieldGroup,
  description: string,
  format: string,
): FieldSpec {
  return { obis, field, group, description, format, shapes: NUMBER, reader: "count" } as FieldSpec;
}

function text(
  obis: string,
  field: PathOf<string>,
  group: FieldGroup,
  description: string,
  shapes: readonly ValueShape[],
  reader: "text" | "identifier" = "text",
): FieldSpec {
  return { obis, field, group, description, shapes, reader } as FieldSpec;
}

function phaseRows(
  phase: Phase,
  codes: {
    voltage: string;
    current: string;
    powerImport: string;
    powerExport: string;
    sags: string;
    swells: string;
  },
): FieldSpec[] {
  const label = phase.toUpperCase();
  return [
    quantity(
      codes.voltage,
      `phases.${phase}.voltage`,
      "dsmr",
      `Instantaneous voltage ${label}`,
      "F4(1) V",
    ),
    quantity(
      codes.current,
      `phases.${phase}.current`,
      "dsmr",
      `Instantaneous current ${label}`,
      "F3(0) A",
    ),
    quantity(
      codes.powerImport,
      `phases.${phase}.powerImport`,
      "dsmr",
      `Instantaneous active power ${label} (+P)`,
      "F5(3) kW",
    ),
    quantity(
      codes.powerExport,
      `phases.${phase}.powerExport`,
      "dsmr",
      `Instantaneous active power ${label} (-P)`,
      "F5(3) kW",
    ),
    count(
      codes.sags,
      `phases.${phase}.voltageSags`,
      "dsmr",
      `Number of voltage sags in phase ${label}`,
      "F5(0)",
    ),
    count(
      codes.swells,
      `phases.${phase}.voltageSwells`,
      "dsmr",
      `Number of voltage swells in phase ${label}`,
      "F5(0)",
    ),
  ];
}

/** An M-Bus reading: gas and water in m3, heat and cold in GJ, slave electricity in kWh. */
const MBUS_READING = "F8(2) m3|GJ|kWh";
/** Belgian demand (e-MUCS): the quarter-hour average and the monthly peaks. */
const DEMAND = "F5(3) kW";

/**
 * Every OBIS reference this reader gives a named field, one row per reference and group. A format
 * reads its groups' rows; a later row replaces an earlier one for the same reference (Luxembourg's
 * threshold in kVA).
 */
export const FIELDS: readonly FieldSpec[] = [
  text("1-3:0.2.8", "version", "dsmr", "Version information for P1 output", TEXT),
  {
    obis: "0-0:1.0.0",
    field: "timestamp",
    group: "dsmr",
    description: "Date-time stamp of the P1 message",
    shapes: TIMESTAMP,
    reader: "timestamp",
  },
  text("0-0:96.1.1", "equipmentId", "dsmr", "Equipment identifier", HEX, "identifier"),
  quantity(
    "1-0:1.8.1",
    "energy.import.t1",
    "dsmr",
    "Electricity delivered to client, tariff 1",
    "F9(3) kWh",
  ),
  quantity(
    "1-0:1.8.2",
    "energy.import.t2",
    "dsmr",
    "Electricity delivered to client, tariff 2",
    "F9(3) kWh",
  ),
  quantity(
    "1-0:2.8.1",
    "energy.export.t1",
    "dsmr",
    "Electricity delivered by client, tariff 1",
    "F9(3) kWh",
  ),
  quantity(
    "1-0:2.8.2",
    "energy.export.t2",
    "dsmr",
    "Electricity delivered by client, tariff 2",
    "F9(3) kWh",
  ),
  count("0-0:96.14.0", "tariff", "dsmr", "Tariff indicator electricity", "S4"),
  quantity(
    "1-0:1.7.0",
    "power.import",
    "dsmr",
    "Actual electricity power delivered (+P)",
    "F5(3) kW",
  ),
  quantity(
    "1-0:2.7.0",
    "power.export",
    "dsmr",
    "Actual electricity power received (-P)",
    "F5(3) kW",
  ),
  count(
    "0-0:96.7.21",
    "powerFailures.short",
    "dsmr",
    "Number of power failures in any phase",
    "F5(0)",
  ),
  count(
    "0-0:96.7.9",
    "powerFailures.long",
    "dsmr",
    "Number of long power failures in any phase",
    "F5(0)",
  ),
  {
    obis: "1-0:99.97.0",
    field: "powerFailures.log",
    group: "dsmr",
    description: "Power failure event log (end of failure, duration in seconds)",
    format: "F10(0) s",
    shapes: ["number", "text", "timestamp", "number"],
    repeat: 2,
    reader: "eventLog",
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
  text("0-0:96.13.0", "textMessage", "dsmr", "Text message", HEX),
  text("0-0:96.13.1", "textCode", "dsmr", "Text message code", HEX),
  count("0-0:96.3.10", "breakerState", "dsmr", "Breaker (switch) position", "I1"),
  // DSMR 4 and 5 give it in kW; DSMR 2.2/3.0 meters also in A.
  quantity("0-0:17.0.0", "limiterThreshold", "dsmr", "Limiter threshold", "F4(1) kW|A"),
  {
    obis: "0-n:24.1.0",
    field: "mbus[].deviceType",
    group: "dsmr",
    description: "M-Bus device type",
    format: "F3(0)",
    shapes: NUMBER,
    reader: "deviceType",
  },
  {
    obis: "0-n:96.1.0",
    field: "mbus[].id",
    group: "dsmr",
    description: "M-Bus equipment identifier",
    shapes: HEX,
    reader: "deviceId",
  },
  {
    obis: "0-n:24.2.1",
    field: "mbus[].reading",
    group: "dsmr",
    description: "Last 5-minute M-Bus reading and its capture time",
    format: MBUS_READING,
    shapes: TIMESTAMP_NUMBER,
    reader: "mbusReading",
  },
  {
    obis: "0-n:24.4.0",
    field: "mbus[].valve",
    group: "dsmr",
    description: "M-Bus valve position",
    format: "I1",
    shapes: NUMBER,
    reader: "valve",
  },
  {
    obis: "0-n:24.3.0",
    field: "mbus[].reading",
    group: "dsmr22",
    description: "DSMR 2.2/3.0 gas reading: time, ..., unit, and the value on the next line",
    format: "F8(3) m3",
    shapes: ["timestamp", "text", "text", "text", "text", "text", "number"],
    reader: "oldGasReading",
  },
  text("0-0:96.1.4", "version", "belgium", "Version information (e-MUCS)", TEXT),
  quantity(
    "1-0:1.4.0",
    "demand.currentAverage",
    "belgium",
    "Current average demand (quarter hour)",
    DEMAND,
  ),
  {
    obis: "1-0:1.6.0",
    field: "demand.monthPeak",
    group: "belgium",
    description: "Maximum demand of the running month, with its time",
    format: DEMAND,
    shapes: TIMESTAMP_NUMBER,
    reader: "peak",
  },
  {
    obis: "0-0:98.1.0",
    field: "demand.history",
    group: "belgium",
    description: "Maximum demand of the last 13 months",
    format: DEMAND,
    shapes: ["number", "text", "text", "timestamp", "timestamp", "number"],
    repeat: 3,
    reader: "peakHistory",
  },
  quantity("1-0:31.4.0", "fuseThreshold", "belgium", "Fuse supervision threshold", "F5(2) A"),
  {
    obis: "0-n:96.1.1",
    field: "mbus[].id",
    group: "belgium",
    description: "M-Bus equipment identifier (e-MUCS)",
    shapes: HEX,
    reader: "deviceId",
  },
  {
    obis: "0-n:24.2.3",
    field: "mbus[].reading",
    group: "belgium",
    description: "Last M-Bus reading (e-MUCS) and its capture time",
    format: MBUS_READING,
    shapes: TIMESTAMP_NUMBER,
    reader: "mbusReading",
  },
  quantity(
    "1-0:1.8.0",
    "energy.import.total",
    "totals",
    "Electricity delivered to client, total",
    "F9(3) kWh",
  ),
  quantity(
    "1-0:2.8.0",
    "energy.export.total",
    "totals",
    "Electricity delivered by client, total",
    "F9(3) kWh",
  ),
  quantity(
    "1-0:1.8.3",
    "energy.import.t3",
    "totals",
    "Electricity delivered to client, tariff 3",
    "F9(3) kWh",
  ),
  quantity(
    "1-0:1.8.4",
    "energy.import.t4",
    "totals",
    "Electricity delivered to client, tariff 4",
    "F9(3) kWh",
  ),
  quantity(
    "1-0:2.8.3",
    "energy.export.t3",
    "totals",
    "Electricity delivered by client, tariff 3",
    "F9(3) kWh",
  ),
  quantity(
    "1-0:2.8.4",
    "energy.export.t4",
    "totals",
    "Electricity delivered by client, tariff 4",
    "F9(3) kWh",
  ),
  text(
    "0-0:42.0.0",
    "equipmentId",
    "luxembourg",
    "Equipment identifier (COSEM logical device name)",
    HEX,
    "identifier",
  ),
  // Smarty's active threshold SMAX, in kVA (openHAB's Smarty channels, the corpus's
  // `27.600*kVA`), which some meters send without its unit (`77.376`, openHAB's smarty.telegram).
  quantity("0-0:17.0.0", "limiterThreshold", "luxembourg", "Active threshold (SMAX)", "F5(3) kVA"),
  text("0-0:96.1.0", "equipmentId", "hungary", "Equipment identifier", HEX, "identifier"),
  text("0-0:96.1.255", "equipmentId", "q3d", "Serial number", TEXT, "identifier"),
  // The Q3D balances import and export: its power is negative while the home exports (telegrams
  // its users published, such as `1-0:1.7.0*255(-000997.90*W)`).
  ...(
    [
      ["1-0:1.7.0", "power.import", "Actual power, negative while exporting"],
      ["1-0:21.7.0", "phases.l1.powerImport", "Actual power L1, negative while exporting"],
      ["1-0:41.7.0", "phases.l2.powerImport", "Actual power L2, negative while exporting"],
      ["1-0:61.7.0", "phases.l3.powerImport", "Actual power L3, negative while exporting"],
    ] as const
  ).map(([obis, field, description]): FieldSpec => ({
    ...quantity(obis, field, "q3d", description, "F5(3) kW"),
    signed: true,
  })),
];
