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

import { latin1Bytes } from "../bytes.ts";
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
 * Reads `[+-]digits[.digits][*unit]` that fills `bytes[from..to)`, in one pass, or returns
 * `undefined`; `text` holds the same characters, for the rare slices. A mantissa below 2^53
 * divided by an exact power of ten is correctly rounded, so the value equals `Number()` of the
 * digits exactly. Digits too many for a finite number (a 400-digit "register") are not a number.
 * Some meters (Fluvius) leave out the `*`: a unit of {@linkcode COMMON_UNITS} straight after the
 * digits is read as if it were there; any other letters make the value text. A `)` or line feed
 * ends the value early, so the bytes are then no number.
 */
function numberAt(
  bytes: Uint8Array,
  text: string,
  from: number,
  to: number,
): NumberValue | undefined {
  let i = from;
  const first = bytes[i];
  const negative = first === 0x2d;
  if (negative || first === 0x2b) i++;
  const integerStart = i;
  let mantissa = 0;
  let digit = 0;
  for (; i < to; i++) {
    digit = bytes[i]! - 0x30;
    if (digit >>> 0 > 9) break;
    mantissa = mantissa * 10 + digit;
  }
  let digits = i - integerStart;
  let decimals = 0;
  if (i < to && digit === 0x2e - 0x30 /* . */) {
    const fractionStart = ++i;
    for (; i < to; i++) {
      digit = bytes[i]! - 0x30;
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
    value = Number(text.slice(from, end));
    if (!Number.isFinite(value)) return undefined;
  } else {
    value = decimals > 0 ? mantissa / POWERS_OF_TEN[decimals]! : mantissa;
    if (negative) value = -value;
  }
  if (end === to) return { kind: "number", value };
  const star = bytes[end] === 0x2a /* * */;
  if (star && end + 1 === to) return { kind: "number", value };
  const unit = unitAt(bytes, text, star ? end + 1 : end, to, !star);
  return unit === undefined ? undefined : { kind: "number", value, unit };
}

/**
 * The unit that fills `bytes[from..to)`: the one string of {@linkcode COMMON_UNITS} when it is one
 * of those, else (unless only those will do) the text there, when it holds no `)` or line feed.
 */
function unitAt(
  bytes: Uint8Array,
  text: string,
  from: number,
  to: number,
  commonOnly: boolean,
): string | undefined {
  const length = to - from;
  for (let u = 0; u < COMMON_UNITS.length; u++) {
    const unit = COMMON_UNITS[u]!;
    if (unit.length === length && spells(bytes, from, unit)) return unit;
  }
  if (commonOnly) return undefined;
  for (let i = from; i < to; i++) {
    const c = bytes[i];
    if (c === CLOSE || c === LF) return undefined;
  }
  return text.slice(from, to);
}

/** Whether `bytes` spell `word` from `at` on. */
function spells(bytes: Uint8Array, at: number, word: string): boolean {
  for (let k = 0; k < word.length; k++) if (word.charCodeAt(k) !== bytes[at + k]) return false;
  return true;
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
  const read = numberAt(latin1Bytes(raw), raw, 0, raw.length);
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

function digitAt(bytes: Uint8Array, at: number): number {
  const c = bytes[at]! - 0x30;
  return c >= 0 && c <= 9 ? c : NaN;
}

/** The two-digit number at `at`, `NaN` when it is not two digits. */
function twoDigitsAt(bytes: Uint8Array, at: number): number {
  return digitAt(bytes, at) * 10 + digitAt(bytes, at + 1);
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
export function isEuSummerTime(epochMs: number): boolean {
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
  const time = timestampAt(latin1Bytes(raw), 0, raw.length, zone);
  return time && { iso: time.value, epochMs: time.epochMs, raw };
}

/** The view value of the timestamp in `bytes[from..to)` (see {@linkcode readTimestamp}). */
function timestampAt(
  bytes: Uint8Array,
  from: number,
  to: number,
  zone: TimeZoneRule,
): TimestampValue | undefined {
  const length = to - from;
  if (length !== 12 && length !== 13) return undefined;
  const yy = twoDigitsAt(bytes, from);
  const month = twoDigitsAt(bytes, from + 2);
  const day = twoDigitsAt(bytes, from + 4);
  const hour = twoDigitsAt(bytes, from + 6);
  const minute = twoDigitsAt(bytes, from + 8);
  const second = twoDigitsAt(bytes, from + 10);
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
    const flag = bytes[from + 12];
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
    bytes[from]!,
    bytes[from + 1]!,
    0x2d, // -
    bytes[from + 2]!,
    bytes[from + 3]!,
    0x2d, // -
    bytes[from + 4]!,
    bytes[from + 5]!,
    0x54, // T
    bytes[from + 6]!,
    bytes[from + 7]!,
    0x3a, // :
    bytes[from + 8]!,
    bytes[from + 9]!,
    0x3a, // :
    bytes[from + 10]!,
    bytes[from + 11]!,
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
  return hexTextAt(latin1Bytes(raw), 0, raw.length);
}

/** {@linkcode decodeHexText} of `bytes[from..to)`. */
function hexTextAt(bytes: Uint8Array, from: number, to: number): string | undefined {
  const length = to - from;
  if (length === 0 || length % 2 !== 0) return undefined;
  const codes = new Array<number>(length >>> 1);
  for (let k = 0, i = from; i < to; k++, i += 2) {
    const code = (NIBBLES[bytes[i]!]! << 4) | NIBBLES[bytes[i + 1]!]!;
    if (!(code >= 0x20 && code < 0x7f)) return undefined;
    codes[k] = code;
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

/**
 * Whether `raw` is only 0xFF, as sent or hex-encoded (`FFFF...`): what some meters (E.ON
 * Hungary's Sagemcom) send as an empty text message, 1,024 bytes of it.
 */
function isPadding(bytes: Uint8Array, from: number, to: number): boolean {
  const sent = bytes[from] === 0xff;
  for (let i = from; i < to; i++) {
    const c = bytes[i];
    if (sent ? c !== 0xff : c !== 0x46 /* F */ && c !== 0x66 /* f */) return false;
  }
  return sent || (to - from) % 2 === 0;
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
  return decodeValueAt(latin1Bytes(raw), raw, 0, raw.length, raw, shape, zone);
}

/**
 * {@linkcode decodeValue} of a value where it stands in a telegram, read from its bytes.
 *
 * @param bytes The telegram's bytes.
 * @param text The same telegram as text, one character per byte.
 * @param from Where the value starts (after its `(`).
 * @param to Where it ends (at its `)`).
 * @param raw The value itself, `text.slice(from, to)`.
 * @param shape The expected shape.
 * @param zone The offsets the S/W flags stand for.
 * @returns The decoded value.
 */
export function decodeValueAt(
  bytes: Uint8Array,
  text: string,
  from: number,
  to: number,
  raw: string,
  shape: ValueShape,
  zone: TimeZoneRule,
): ObisValue {
  if (from === to) return { kind: "empty" };
  switch (shape) {
    case "number":
      return numberAt(bytes, text, from, to) ?? { kind: "text", value: raw };
    case "timestamp":
      return timestampAt(bytes, from, to, zone) ?? { kind: "text", value: raw };
    case "hex":
      if (isPadding(bytes, from, to)) return { kind: "empty" };
      return { kind: "text", value: hexTextAt(bytes, from, to) ?? raw };
    case "text":
      return { kind: "text", value: raw };
    case "auto":
      return (to - from === 13 ? timestampAt(bytes, from, to, zone) : undefined) ??
        numberAt(bytes, text, from, to) ?? { kind: "text", value: raw };
  }
}
