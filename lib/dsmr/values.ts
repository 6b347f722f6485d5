/**
 * Small readers for the value shapes of P1 lines. Each takes one string from inside a pair of
 * parentheses and returns `undefined` when the string does not have that shape.
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

/**
 * Parses `[+-]digits[.digits]` in `text[from..to)`, or returns NaN. A mantissa below 2^53 divided
 * by an exact power of ten is correctly rounded, so the result equals `Number(text)` exactly.
 */
function parseDecimal(text: string, from: number, to: number): number {
  let i = from;
  const first = text.charCodeAt(i);
  const negative = first === 0x2d;
  if (negative || first === 0x2b) i++;
  const integerStart = i;
  let mantissa = 0;
  for (; i < to; i++) {
    const digit = text.charCodeAt(i) - 0x30;
    if (digit >>> 0 > 9) break;
    mantissa = mantissa * 10 + digit;
  }
  let digits = i - integerStart;
  let decimals = 0;
  if (i < to) {
    if (text.charCodeAt(i) !== 0x2e /* . */) return NaN;
    const fractionStart = ++i;
    for (; i < to; i++) {
      const digit = text.charCodeAt(i) - 0x30;
      if (digit >>> 0 > 9) return NaN;
      mantissa = mantissa * 10 + digit;
    }
    decimals = i - fractionStart;
    digits += decimals;
  }
  if (digits === 0) return NaN;
  if (mantissa > Number.MAX_SAFE_INTEGER || decimals >= POWERS_OF_TEN.length) {
    return Number(text.slice(from, to));
  }
  const value = decimals > 0 ? mantissa / POWERS_OF_TEN[decimals]! : mantissa;
  return negative ? -value : value;
}

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
  const star = raw.indexOf("*");
  const end = star < 0 ? raw.length : star;
  const value = parseDecimal(raw, 0, end);
  if (Number.isNaN(value)) return undefined;
  if (star < 0 || star === raw.length - 1) return { value };
  return { value, unit: unitAfter(raw, star + 1) };
}

/** Units meters write, so that the hot path shares one string per unit instead of slicing. */
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
];

/** The unit at `raw[from..]`, as a shared string when it is a common one. */
function unitAfter(raw: string, from: number): string {
  const length = raw.length - from;
  for (const unit of COMMON_UNITS) {
    if (unit.length === length && raw.startsWith(unit, from)) return unit;
  }
  return raw.slice(from);
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
  if (read.unit === undefined || read.unit === unit) return { value: read.value, unit };
  const scale = UNIT_SCALES[`${read.unit}>${unit}`];
  return scale === undefined ? undefined : { value: round(read.value * scale), unit };
}

const UNIT_SCALES: Record<string, number> = {
  "W>kW": 0.001,
  "Wh>kWh": 0.001,
  "kW>W": 1000,
  "kWh>Wh": 1000,
};

function round(value: number): number {
  return Math.round(value * 1e9) / 1e9;
}

function digit(text: string, at: number): number {
  const c = text.charCodeAt(at) - 0x30;
  return c >= 0 && c <= 9 ? c : NaN;
}

function two(text: string, at: number): number {
  return digit(text, at) * 10 + digit(text, at + 1);
}

/** `TWO_DIGITS[n]`: 0-99 as two digits, so that a timestamp's ISO text needs no number formatting. */
const TWO_DIGITS = Array.from({ length: 100 }, (_, n) => (n < 10 ? `0${n}` : `${n}`));

function pad(n: number): string {
  return TWO_DIGITS[n] ?? String(n);
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
  const length = raw.length;
  if (length !== 12 && length !== 13) return undefined;
  const yy = two(raw, 0);
  const month = two(raw, 2);
  const day = two(raw, 4);
  const hour = two(raw, 6);
  const minute = two(raw, 8);
  const second = two(raw, 10);
  if (!(month >= 1 && month <= 12 && day >= 1 && hour <= 23 && minute <= 59 && second <= 59)) {
    return undefined;
  }
  const year = yy < 70 ? 2000 + yy : 1900 + yy;
  const leap = month === 2 && year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  if (day > DAYS_IN_MONTH[month - 1]! + (leap ? 1 : 0)) return undefined;
  const local = Date.UTC(year, month - 1, day, hour, minute, second);
  let offset: number;
  if (length === 13) {
    const flag = raw.charCodeAt(12);
    if (flag === 0x53 /* S */) offset = zone.summer;
    else if (flag === 0x57 /* W */) offset = zone.winter;
    else return undefined;
  } else {
    offset = isEuSummerTime(local - zone.winter * 60_000) ? zone.summer : zone.winter;
  }
  const sign = offset < 0 ? "-" : "+";
  const abs = Math.abs(offset);
  const iso = `${year}-${pad(month)}-${pad(day)}T${pad(hour)}:${pad(minute)}:${pad(second)}` +
    `${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
  return { iso, epochMs: local - offset * 60_000, raw };
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
  const codes: number[] = new Array(length / 2);
  for (let i = 0; i < length; i += 2) {
    const code = (nibble(raw.charCodeAt(i)) << 4) | nibble(raw.charCodeAt(i + 1));
    if (!(code >= 0x20 && code < 0x7f)) return undefined;
    codes[i / 2] = code;
  }
  return String.fromCharCode(...codes);
}

/** The value of one hex digit, or 0x100 (which fails the printable check) for anything else. */
function nibble(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return 0x100;
}

/** How a value of a known line is to be read in the generic view. */
export type ValueShape = "number" | "timestamp" | "text" | "hex" | "auto";

/**
 * Decodes one value for the generic OBIS view.
 *
 * @param raw The string inside the parentheses.
 * @param shape The expected shape; `auto` guesses from the text (a number with or without a unit,
 *   a timestamp with S/W flag, else text).
 * @param zone The offsets the S/W flags stand for.
 * @returns The decoded value; a value that does not have the expected shape is returned as text.
 */
export function decodeValue(
  raw: string,
  shape: ValueShape,
  zone: TimeZoneRule = CENTRAL_EUROPEAN_TIME,
): ObisValue {
  if (raw === "") return { kind: "empty" };
  switch (shape) {
    case "timestamp": {
      const time = readTimestamp(raw, zone);
      return time ? timestampValue(time) : { kind: "text", value: raw };
    }
    case "hex":
      return { kind: "text", value: decodeHexText(raw) ?? raw };
    case "text":
      return { kind: "text", value: raw };
    case "number":
      return decodeNumber(raw) ?? { kind: "text", value: raw };
    case "auto": {
      if (raw.length === 13) {
        const time = readTimestamp(raw, zone);
        if (time) return timestampValue(time);
      }
      return decodeNumber(raw) ?? { kind: "text", value: raw };
    }
  }
}

/** A number with optional unit straight into its view object (the hot path: no intermediate). */
function decodeNumber(raw: string): ObisValue | undefined {
  const star = raw.indexOf("*");
  const value = parseDecimal(raw, 0, star < 0 ? raw.length : star);
  if (Number.isNaN(value)) return undefined;
  if (star < 0 || star === raw.length - 1) return { kind: "number", value };
  return { kind: "number", value, unit: unitAfter(raw, star + 1) };
}

function timestampValue(time: Timestamp): ObisValue {
  return { kind: "timestamp", value: time.iso, epochMs: time.epochMs };
}
