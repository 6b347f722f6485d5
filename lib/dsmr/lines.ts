/**
 * Line readers: how the decoded values of each shape of line become the value of the field a
 * catalogue row names, checked against the row's value format. One reader per line shape, shared
 * by every row and format that has such lines. A reader returns the field's value, `undefined`
 * when the line holds none (`()`), or an {@linkcode Unreadable} naming what it expected.
 *
 * ```
 * 1-0:1.8.1(000004.426*kWh)               quantity       a number in the row's unit (W, Wh scaled)
 * 0-0:96.7.21(00013)                      count          a number within the row's digits
 * 0-1:24.1.0(003)                         deviceType     the same, which must be there (also valve)
 * 1-3:0.2.8(50)                           text           text, empty included
 * 0-0:96.1.1(4B38...)                     identifier     text; empty is none
 * 0-1:96.1.0(3232...)                     deviceId       text; empty or missing is none
 * 0-0:1.0.0(170102192002W)                timestamp
 * 0-1:24.2.1(170102161005W)(00000.107*m3) mbusReading    (capture time)(reading)
 * 0-1:24.3.0(090212160000)(00)(60)(1)(0-1:24.2.1)(m3)
 * (00001.001)                             oldGasReading  DSMR 2.2/3.0: (time)(4 ids)(unit),
 *                                                        the value on the next line
 * 1-0:99.97.0(2)(0-0:96.7.19)(101208152415W)(0000000240*s)(101208151004W)(0000000301*s)
 *                                         eventLog       (count)(id), then (end)(duration) pairs
 * 1-0:1.6.0(200509134558S)(01.111*kW)     peak           (time)(demand)
 * 0-0:98.1.0(2)(1-0:1.6.0)(1-0:1.6.0)(200501000000S)(200423192538S)(03.695*kW)...
 *                                         peakHistory    (count)(2 ids), then (month)(time)(demand)
 * ```
 *
 * @module
 */

import type {
  MbusDevice,
  ObisValue,
  PeakDemand,
  PowerFailure,
  Quantity,
  Timestamp,
} from "./model.ts";
import { convertUnit } from "./values.ts";

/** A number's format as the specifications write it; see {@linkcode valueFormat}. */
export interface ValueFormat {
  /** As written, e.g. `F9(3) kWh`. */
  text: string;
  /** The value's magnitude is below this: 10 to the number of digits before the point. */
  limit: number;
  /** The units it may carry, the first being what a value without unit means. */
  units: readonly string[];
  /** Whether it may be negative: the specifications' numbers are unsigned, a few meters' are not. */
  signed: boolean;
}

/**
 * Reads a value format as the DSMR, e-MUCS and Smarty specifications write it: `F9(3)` is a
 * number of nine digits, three of them decimals (at most 999999.999); `I1` and `S4` are integers
 * of one and four digits. The units follow, alternatives separated by `|`.
 *
 * @param text For example `F9(3) kWh`, `F4(1) kW|A` or `I1`.
 * @param signed Whether the value may be negative, which no specification's number may.
 * @returns The format.
 * @throws {SyntaxError} When `text` is not such a format (a mistake in the table).
 *
 * @example
 * ```ts
 * import { valueFormat } from "./lines.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(valueFormat("F9(3) kWh"), {
 *   text: "F9(3) kWh",
 *   limit: 1e6,
 *   units: ["kWh"],
 *   signed: false,
 * });
 * ```
 */
export function valueFormat(text: string, signed = false): ValueFormat {
  const match = /^(?:F(\d+)\((\d+)\)|[IS](\d+))(?: (\S+))?$/.exec(text);
  if (!match) throw new SyntaxError(`Cannot read the value format "${text}"`);
  const digits = match[3] === undefined ? Number(match[1]) - Number(match[2]) : Number(match[3]);
  return { text, limit: 10 ** digits, units: match[4]?.split("|") ?? [], signed };
}

/** What a line reader could not read: what it expected there (the parser quotes the values). */
export class Unreadable {
  /** What was expected, e.g. `a number of format F9(3) kWh`. */
  readonly expected: string;

  /**
   * Makes the verdict.
   *
   * @param expected What was expected.
   */
  constructor(expected: string) {
    this.expected = expected;
  }
}

/** An M-Bus device's last reading, as `MbusDevice.reading` holds it. */
export type MbusReading = NonNullable<MbusDevice["reading"]>;

/** What each line reader makes: the type of the field its rows fill. */
export interface LineValues {
  /** A number in the row's unit. */
  quantity: Quantity;
  /** A count or code, absent when empty. */
  count: number;
  /** An M-Bus device type, which must be there. */
  deviceType: number;
  /** An M-Bus valve position, which must be there. */
  valve: number;
  /** Text, empty included. */
  text: string;
  /** An identifier: empty text is none. */
  identifier: string;
  /** An M-Bus device's identifier: none when empty or missing, never a problem. */
  deviceId: string;
  /** A timestamp, which must be there. */
  timestamp: Timestamp;
  /** `(capture time)(reading)`. */
  mbusReading: MbusReading;
  /** DSMR 2.2/3.0 gas: `(time)(...)(unit)` and the value in the group after. */
  oldGasReading: MbusReading;
  /** The power failure log. */
  eventLog: PowerFailure[];
  /** `(time)(demand)`. */
  peak: PeakDemand;
  /** The Belgian monthly peaks. */
  peakHistory: PeakDemand[];
}

/** The name of a line reader. */
export type LineShape = keyof LineValues;

/**
 * Reads one line's values into its field's value.
 *
 * @param values The line's values, decoded at its row's shapes.
 * @param raw The same values as written.
 * @param format The row's value format (one without digits or units for rows that have none).
 * @returns The value, `undefined` when the line holds none, or what was expected instead.
 */
export type LineReader<T> = (
  values: readonly ObisValue[],
  raw: readonly string[],
  format: ValueFormat,
) => T | Unreadable | undefined;

/** How many months a demand history holds (e-MUCS: at most 13). */
const DEMAND_MONTHS = valueFormat("F2(0)");

/**
 * Whether a number has no more digits before its point than its format allows, and no sign where
 * it may have none (a negative register or power is no value a meter counts).
 */
function fits(value: number, format: ValueFormat): boolean {
  return value < format.limit && (format.signed ? value > -format.limit : value >= 0);
}

/** What a quantity or count line should have held, saying so when its sign was the trouble. */
function expectedNumber(value: ObisValue | undefined, format: ValueFormat): Unreadable {
  const negative = value?.kind === "number" && value.value < 0 && !format.signed;
  return new Unreadable(`a number of format ${format.text}${negative ? ", not negative" : ""}`);
}

/** A number in one of its format's units (`W` and `Wh` scaled to `kW` and `kWh`) that fits it. */
function quantityIn(value: ObisValue | undefined, format: ValueFormat): Quantity | undefined {
  if (value?.kind !== "number") return undefined;
  const unit = format.units[0]!;
  let read: Quantity;
  if (value.unit === undefined) read = { value: value.value, unit };
  else if (format.units.includes(value.unit)) read = { value: value.value, unit: value.unit };
  else {
    const converted = convertUnit(value.value, value.unit, unit);
    if (converted === undefined) return undefined;
    read = { value: converted, unit };
  }
  return fits(read.value, format) ? read : undefined;
}

/** An M-Bus reading: a number in one of its format's units, or none (the device's kind says). */
function readingIn(value: ObisValue | undefined, format: ValueFormat): Quantity | undefined {
  if (value?.kind !== "number" || !fits(value.value, format)) return undefined;
  if (value.unit !== undefined && !format.units.includes(value.unit)) return undefined;
  return { value: value.value, unit: value.unit ?? "" };
}

function integerIn(value: ObisValue | undefined, format: ValueFormat): number | undefined {
  return value?.kind === "number" && fits(value.value, format) ? value.value : undefined;
}

function timestampIn(value: ObisValue | undefined, raw: string | undefined): Timestamp | undefined {
  if (value?.kind !== "timestamp" || raw === undefined) return undefined;
  return { iso: value.value, epochMs: value.epochMs, raw };
}

function textIn(value: ObisValue | undefined): string | undefined {
  if (value?.kind === "text") return value.value;
  if (value?.kind === "empty") return "";
  return undefined;
}

function peakOf(
  month: Timestamp | undefined,
  time: Timestamp | undefined,
  value: Quantity,
): PeakDemand {
  const peak: PeakDemand = { value };
  if (month) peak.month = month;
  if (time) peak.time = time;
  return peak;
}

/** Every line reader, by name. */
export const LINE_READERS: { readonly [S in LineShape]: LineReader<LineValues[S]> } = {
  quantity(values, _raw, format) {
    if (values[0]?.kind === "empty") return undefined;
    return quantityIn(values[0], format) ?? expectedNumber(values[0], format);
  },
  count(values, _raw, format) {
    if (values[0]?.kind === "empty") return undefined;
    return integerIn(values[0], format) ?? expectedNumber(values[0], format);
  },
  deviceType(values, _raw, format) {
    return integerIn(values[0], format) ??
      new Unreadable(`a device type of format ${format.text}`);
  },
  valve(values, _raw, format) {
    return integerIn(values[0], format) ??
      new Unreadable(`a valve position of format ${format.text}`);
  },
  text(values) {
    return textIn(values[0]) ?? new Unreadable("text");
  },
  identifier(values) {
    const text = textIn(values[0]);
    if (text === undefined) return new Unreadable("text");
    return text === "" ? undefined : text;
  },
  deviceId(values) {
    return textIn(values[0]) || undefined;
  },
  timestamp(values, raw) {
    return timestampIn(values[0], raw[0]) ?? new Unreadable("a timestamp");
  },
  mbusReading(values, raw, format) {
    const value = readingIn(values[1], format);
    if (!value) {
      if (values[1] === undefined || values[1].kind === "empty") return undefined;
      return new Unreadable("a capture time and a reading");
    }
    const time = timestampIn(values[0], raw[0]);
    return time ? { time, value } : { value };
  },
  oldGasReading(values, raw, format) {
    const unit = raw[5] ?? "";
    const value = format.units.includes(unit) ? readingIn(values[6], format) : undefined;
    if (!value) return new Unreadable(`a gas reading of format ${format.text}`);
    const time = timestampIn(values[0], raw[0]);
    value.unit = unit;
    return time ? { time, value } : { value };
  },
  eventLog(values, raw, format) {
    if (values.length === 1 && values[0]?.kind === "empty") return [];
    const log: PowerFailure[] = [];
    for (let i = 2; i + 1 < values.length; i += 2) {
      const duration = quantityIn(values[i + 1], format);
      if (!duration) return new Unreadable("an event log");
      const end = timestampIn(values[i], raw[i]);
      log.push(
        end ? { end, durationSeconds: duration.value } : { durationSeconds: duration.value },
      );
    }
    return log;
  },
  peak(values, raw, format) {
    const value = quantityIn(values[1], format);
    if (!value) return new Unreadable(`a peak demand of format ${format.text}`);
    return peakOf(undefined, timestampIn(values[0], raw[0]), value);
  },
  peakHistory(values, raw, format) {
    const expected = `a demand history of values of format ${format.text}`;
    if (integerIn(values[0], DEMAND_MONTHS) === undefined) return new Unreadable(expected);
    const history: PeakDemand[] = [];
    for (let i = 3; i + 2 < values.length; i += 3) {
      const value = quantityIn(values[i + 2], format);
      if (!value) return new Unreadable(expected);
      history.push(
        peakOf(timestampIn(values[i], raw[i]), timestampIn(values[i + 1], raw[i + 1]), value),
      );
    }
    return history;
  },
};
