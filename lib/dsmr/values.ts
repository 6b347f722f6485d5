/**
 * Small readers for the value shapes of P1 lines. Each takes one string from inside a pair of
 * parentheses and returns `undefined` when the string does not have that shape. They know nothing
 * of lines, fields or formats.
 *
 * ```
 * 011080.001*kWh     number with unit       readNumber  -> { value: 11080.001, unit: "kWh" }
 * 0001               number without unit    readNumber  -> { value: 1 }
 * 230205165005W      TST: YYMMDDhhmmss + S (summer) / W (winter), meter-local time
 *                                           readTimestamp -> 2023-02-05T16:50:05+01:00
 * 4530303435         hex-encoded text       decodeHexText -> "E0045"
 * ```
 *
 * @module
 */

import type { ObisValue, Quantity, Timestamp } from "./model.ts";

type NumberValue = Extract<ObisValue, { kind: "number" }>;
type TimestampValue = Extract<ObisValue, { kind: "timestamp" }>;

/** UTC offsets (minutes) a meter's `S` and `W` flags stand for. */
export interface TimeZoneRule {
  /** Offset when the flag is `S` (summer time). */
  summer: number;
  /** Offset when the flag is `W` (winter time). */
  winter: number;
}

/** Central European Time: the Netherlands, Belgium, Luxembourg, Sweden, Hungary. */
export const CENTRAL_EUROPEAN_TIME: TimeZoneRule = { summer: 120, winter: 60 };

/** A number as read from the telegram, with its unit when the meter wrote one. */
export interface NumberWithUnit {
  /** The number. */
  value: number;
  /** The unit after `*`, absent when the meter wrote none. */
  unit?: string;
}

const POWERS_OF_TEN = [
  1,
  10,
  100,
  1e3,
  1e4,
  1e5,
  1e6,
  1e7,
  1e8,
  1e9,
  1e10,
  1e11,
  1e12,
  1e13,
  1e14,
  1e15,
];

const CLOSE = 0x29;
const LF = 0x0a;

/**
 * Reads `[+-]digits[.digits][*unit]`, the whole of `raw`, in one pass, or returns `undefined`. A
 * mantissa below 2^53 divided by an exact power of ten is correctly rounded, so the value equals
 * `Number()` of the digits exactly. Digits too many for a finite number (a 400-digit "register")
 * are not a number. Some meters (Fluvius) leave out the `*`: a unit of {@linkcode COMMON_UNITS}
 * straight after the digits is read as if it were there; any other letters make the value text.
 * A `)` or line feed inside `raw` ends the value early, so `raw` is then no number.
 */
function numberOf(raw: string): NumberValue | undefined {
  const length = raw.length;
  let i = 0;
  const first = raw.charCodeAt(0);
  const negative = first === 0x2d;
  if (negative || first === 0x2b) i++;
  const integerStart = i;
  let mantissa = 0;
  let digit = 0;
  for (; i < length; i++) {
    digit = raw.charCodeAt(i) - 0x30;
    if (digit >>> 0 > 9) break;
    mantissa = mantissa * 10 + digit;
  }
  let digits = i - integerStart;
  let decimals = 0;
  if (i < length && digit === 0x2e - 0x30 /* . */) {
    const fractionStart = ++i;
    for (; i < length; i++) {
      digit = raw.charCodeAt(i) - 0x30;
      if (digit >>> 0 > 9) break;
      mantissa = mantissa * 10 + digit;
    }
    decimals = i - fractionStart;
    digits += decimals;
  }
  const end = i;
  if (digits === 0) return undefined;
  let value: number;
  if (mantissa > Number.MAX_SAFE_INTEGER || decimals >= POWERS_OF_TEN.length) {
    value = Number(raw.slice(0, end));
    if (!Number.isFinite(value)) return undefined;
  } else {
    value = decimals > 0 ? mantissa / POWERS_OF_TEN[decimals]! : mantissa;
    if (negative) value = -value;
  }
  if (end === length) return { kind: "number", value };
  const star = raw.charCodeAt(end) === 0x2a /* * */;
  if (star && end + 1 === length) return { kind: "number", value };
  const unit = unitOf(raw, star ? end + 1 : end, !star);
  return unit === undefined ? undefined : { kind: "number", value, unit };
}

/**
 * The unit that fills `raw` from `start` on: the one string of {@linkcode COMMON_UNITS} when it is
 * one of those, else (unless only those will do) the rest of `raw`, when it holds no `)` or line
 * feed.
 */
function unitOf(raw: string, start: number, commonOnly: boolean): string | undefined {
  const length = raw.length - start;
  const first = raw.charCodeAt(start);
  for (let u = 0; u < COMMON_UNITS.length; u++) {
    const unit = COMMON_UNITS[u]!;
    if (unit.length === length && unit.charCodeAt(0) === first && raw.startsWith(unit, start)) {
      return unit;
    }
  }
  if (commonOnly) return undefined;
  for (let i = start; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c === CLOSE || c === LF) return undefined;
  }
  return raw.slice(start);
}

/**
 * Units meters write: these are read without a `*` before them, and a value's unit is the one
 * string of this list rather than a new one per value.
 */
const COMMON_UNITS = [
  "kWh",
  "kW",
  "V",
  "A",
  "m3",
  "s",
  "GJ",
  "Wh",
  "W",
  "kvarh",
  "kvar",
  "kVArh",
  "kVAr",
  "varh",
  "var",
  "kVA",
  "Hz",
];

/**
 * Reads a decimal number with an optional `*unit`.
 *
 * @param raw For example `011080.001*kWh`, `00046` or `-1.5`.
 * @returns The number and unit, or `undefined` when `raw` is not a number.
 *
 * @example
 * ```ts
 * import { readNumber } from "./values.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(readNumber("06919.956*m3"), { value: 6919.956, unit: "m3" });
 * assert.equal(readNumber("4B38"), undefined);
 * ```
 */
export function readNumber(raw: string): NumberWithUnit | undefined {
  const read = numberOf(raw);
  if (read === undefined) return undefined;
  return read.unit === undefined ? { value: read.value } : { value: read.value, unit: read.unit };
}

/**
 * The units meters write in place of the specification's, each with the specification's unit and
 * how many of the one make the other: meters that write `W` or `Wh` where the specification says
 * `kW` or `kWh`.
 */
const UNIT_MULTIPLES: readonly (readonly [unit: string, multiple: string, factor: number])[] = [
  ["W", "kW", 1000],
  ["Wh", "kWh", 1000],
  ["var", "kvar", 1000],
];

/** The factor from one unit to another, both ways round, by `from>to`. */
const UNIT_SCALES: ReadonlyMap<string, number> = new Map(
  UNIT_MULTIPLES.flatMap(([unit, multiple, factor]) => [
    [`${unit}>${multiple}`, 1 / factor],
    [`${multiple}>${unit}`, factor],
  ]),
);

/**
 * A number in one unit converted to another (`W` to `kW`, `kWh` to `Wh`, ...), rounded to nine
 * decimals so that `2124.86 W` is `2.12486 kW`, not `2.1248599999999997`.
 *
 * @param value The number.
 * @param from Its unit.
 * @param to The unit wanted.
 * @returns The number in `to`, or `undefined` when the units do not convert.
 *
 * @example
 * ```ts
 * import { convertUnit } from "./values.ts";
 * import assert from "node:assert/strict";
 * assert.equal(convertUnit(2124.86, "W", "kW"), 2.12486);
 * assert.equal(convertUnit(1, "m3", "kWh"), undefined);
 * ```
 */
export function convertUnit(value: number, from: string, to: string): number | undefined {
  if (from === to) return value;
  const scale = UNIT_SCALES.get(`${from}>${to}`);
  return scale === undefined ? undefined : Math.round(value * scale * 1e9) / 1e9;
}

/**
 * Reads a number that must carry one of the given units, converting it to the first.
 * Meters that write `W` or `Wh` where the specification says `kW` or `kWh` are scaled.
 *
 * @param raw The value as written.
 * @param unit The canonical unit, e.g. `kWh`.
 * @returns The quantity in `unit`, or `undefined` when `raw` is not a number in a known unit.
 */
export function readQuantity(raw: string, unit: string): Quantity | undefined {
  const read = readNumber(raw);
  if (!read) return undefined;
  if (read.unit === undefined) return { value: read.value, unit };
  const value = convertUnit(read.value, read.unit, unit);
  return value === undefined ? undefined : { value, unit };
}

function digitAt(raw: string, at: number): number {
  const c = raw.charCodeAt(at) - 0x30;
  return c >= 0 && c <= 9 ? c : NaN;
}

/** The two-digit number at `at`, `NaN` when it is not two digits. */
function twoDigitsAt(raw: string, at: number): number {
  return digitAt(raw, at) * 10 + digitAt(raw, at + 1);
}

/** Days from 1970-01-01 to a date of the proleptic Gregorian calendar (no `Date` object needed). */
function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yearOfEra = y - era * 400;
  const dayOfYear = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const dayOfEra = yearOfEra * 365 + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100) +
    dayOfYear;
  return era * 146097 + dayOfEra - 719468;
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** The last Sunday of a month, as a day of the month. */
function lastSunday(year: number, month: number): number {
  const last = new Date(Date.UTC(year, month, 0));
  return last.getUTCDate() - last.getUTCDay();
}

/** Whether EU summer time is in force at a UTC instant (01:00 UTC, last Sunday of March/October). */
function isEuSummerTime(epochMs: number): boolean {
  const year = new Date(epochMs).getUTCFullYear();
  const start = Date.UTC(year, 2, lastSunday(year, 3), 1);
  const end = Date.UTC(year, 9, lastSunday(year, 10), 1);
  return epochMs >= start && epochMs < end;
}

/**
 * Reads a meter timestamp: `YYMMDDhhmmss` and a flag, `S` for summer or `W` for winter time.
 * Without a flag (DSMR 2.2/3.0), the EU summer time rule decides the offset.
 *
 * @param raw For example `230205165005W`.
 * @param zone The offsets the flags stand for.
 * @returns The instant, or `undefined` when `raw` is not a valid time (such as `632525252525W`).
 *
 * @example
 * ```ts
 * import { readTimestamp } from "./values.ts";
 * import assert from "node:assert/strict";
 * assert.equal(readTimestamp("230205165005W")?.iso, "2023-02-05T16:50:05+01:00");
 * assert.equal(readTimestamp("230705165005S")?.iso, "2023-07-05T16:50:05+02:00");
 * ```
 */
export function readTimestamp(
  raw: string,
  zone: TimeZoneRule = CENTRAL_EUROPEAN_TIME,
): Timestamp | undefined {
  const time = timestampOf(raw, zone);
  return time && { iso: time.value, epochMs: time.epochMs, raw };
}

/** The view value of a timestamp (see {@linkcode readTimestamp}). */
function timestampOf(raw: string, zone: TimeZoneRule): TimestampValue | undefined {
  const length = raw.length;
  if (length !== 12 && length !== 13) return undefined;
  const yy = twoDigitsAt(raw, 0);
  const month = twoDigitsAt(raw, 2);
  const day = twoDigitsAt(raw, 4);
  const hour = twoDigitsAt(raw, 6);
  const minute = twoDigitsAt(raw, 8);
  const second = twoDigitsAt(raw, 10);
  if (!(month >= 1 && month <= 12 && day >= 1 && hour <= 23 && minute <= 59 && second <= 59)) {
    return undefined;
  }
  const year = yy < 70 ? 2000 + yy : 1900 + yy;
  const leap = month === 2 && year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  if (day > DAYS_IN_MONTH[month - 1]! + (leap ? 1 : 0)) return undefined;
  const local = daysFromCivil(year, month, day) * 86_400_000 +
    ((hour * 60 + minute) * 60 + second) * 1000;
  let offset: number;
  if (length === 13) {
    const flag = raw.charCodeAt(12);
    if (flag === 0x53 /* S */) offset = zone.summer;
    else if (flag === 0x57 /* W */) offset = zone.winter;
    else return undefined;
  } else {
    offset = isEuSummerTime(local - zone.winter * 60_000) ? zone.summer : zone.winter;
  }
  // The digits are copied as the meter wrote them (checked above) into one string.
  const abs = offset < 0 ? -offset : offset;
  const hours = (abs / 60) | 0;
  const minutes = abs % 60;
  const value = String.fromCharCode(
    yy < 70 ? 0x32 : 0x31, // the century: 20 or 19
    yy < 70 ? 0x30 : 0x39,
    raw.charCodeAt(0),
    raw.charCodeAt(1),
    0x2d, // -
    raw.charCodeAt(2),
    raw.charCodeAt(3),
    0x2d, // -
    raw.charCodeAt(4),
    raw.charCodeAt(5),
    0x54, // T
    raw.charCodeAt(6),
    raw.charCodeAt(7),
    0x3a, // :
    raw.charCodeAt(8),
    raw.charCodeAt(9),
    0x3a, // :
    raw.charCodeAt(10),
    raw.charCodeAt(11),
    offset < 0 ? 0x2d : 0x2b, // - or +
    0x30 + ((hours / 10) | 0),
    0x30 + (hours % 10),
    0x3a, // :
    0x30 + ((minutes / 10) | 0),
    0x30 + (minutes % 10),
  );
  return { kind: "timestamp", value, epochMs: local - offset * 60_000 };
}

/**
 * Decodes hex-encoded text (equipment identifiers, text messages) when it is printable ASCII.
 *
 * @param raw For example `4530303435303033383039333631343137`.
 * @returns The text (`E0045003809361417`), or `undefined` when `raw` is not hex-encoded text.
 */
export function decodeHexText(raw: string): string | undefined {
  const length = raw.length;
  if (length === 0 || length % 2 !== 0) return undefined;
  const codes = new Array<number>(length >>> 1);
  for (let i = 0; i < length; i += 2) {
    const code = (nibble(raw.charCodeAt(i)) << 4) | nibble(raw.charCodeAt(i + 1));
    if (!(code >= 0x20 && code < 0x7f)) return undefined;
    codes[i >>> 1] = code;
  }
  return String.fromCharCode.apply(null, codes);
}

/** The value of each byte as a hex digit, or 0x100 (which fails the printable check). */
const NIBBLES: Uint16Array = (() => {
  const nibbles = new Uint16Array(256).fill(0x100);
  for (let i = 0; i < 16; i++) {
    const digit = i.toString(16);
    nibbles[digit.charCodeAt(0)] = i;
    nibbles[digit.toUpperCase().charCodeAt(0)] = i;
  }
  return nibbles;
})();

function nibble(code: number): number {
  return code < 256 ? NIBBLES[code]! : 0x100;
}

/**
 * Whether `raw` is only 0xFF, as sent or hex-encoded (`FFFF...`): what some meters (E.ON
 * Hungary's Sagemcom) send as an empty text message, 1,024 bytes of it.
 */
function isPadding(raw: string): boolean {
  const sent = raw.charCodeAt(0) === 0xff;
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (sent ? c !== 0xff : c !== 0x46 /* F */ && c !== 0x66 /* f */) return false;
  }
  return sent || raw.length % 2 === 0;
}

/** How a value of a line is to be read: the shapes of {@linkcode decodeValue}. */
export type ValueShape = "number" | "timestamp" | "text" | "hex" | "auto";

/**
 * Decodes one value for the generic OBIS view.
 *
 * @param raw The string inside the parentheses.
 * @param shape The expected shape; `auto` guesses from the text (a number with or without a unit,
 *   a timestamp with S/W flag, else text).
 * @param zone The offsets the S/W flags stand for.
 * @returns The decoded value; a value that does not have the expected shape is returned as text.
 *
 * @example
 * ```ts
 * import { decodeValue } from "./values.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(decodeValue("00.404*kW", "number"), {
 *   kind: "number",
 *   value: 0.404,
 *   unit: "kW",
 * });
 * assert.deepEqual(decodeValue("4142", "hex"), { kind: "text", value: "AB" });
 * ```
 */
export function decodeValue(
  raw: string,
  shape: ValueShape,
  zone: TimeZoneRule = CENTRAL_EUROPEAN_TIME,
): ObisValue {
  if (raw === "") return { kind: "empty" };
  switch (shape) {
    case "number":
      return numberOf(raw) ?? { kind: "text", value: raw };
    case "timestamp":
      return timestampOf(raw, zone) ?? { kind: "text", value: raw };
    case "hex":
      if (isPadding(raw)) return { kind: "empty" };
      return { kind: "text", value: decodeHexText(raw) ?? raw };
    case "text":
      return { kind: "text", value: raw };
    case "auto":
      return (raw.length === 13 ? timestampOf(raw, zone) : undefined) ??
        numberOf(raw) ?? { kind: "text", value: raw };
  }
}
