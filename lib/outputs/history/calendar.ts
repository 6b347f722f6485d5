/**
 * The meter's calendar: which meter-local day, month and hour an instant falls in, and when a
 * meter-local day starts. A format's zone rule gives the UTC offsets its `S` and `W` flags stand
 * for; the EU rule (01:00 UTC on the last Sundays of March and October) says which is in force, so
 * a spring day has 23 hours and an autumn day 25. Every offset the formats use is a whole number
 * of hours, so a meter-local day is always a run of whole UTC hours.
 *
 * @module
 */

import { isEuSummerTime, type TimeZoneRule } from "../../dsmr/values.ts";
import type { ReceiverView } from "../output.ts";

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

function pad(value: number, digits = 2): string {
  return String(value).padStart(digits, "0");
}

/**
 * Whether `text` is a calendar date written `YYYY-MM-DD` (a real day: no 2025-02-30).
 *
 * @example
 * ```ts
 * import { isDate } from "./calendar.ts";
 * import assert from "node:assert/strict";
 * assert.equal(isDate("2024-02-29"), true);
 * assert.equal(isDate("2025-02-29"), false);
 * ```
 */
export function isDate(text: string): boolean {
  const match = DATE.exec(text);
  if (!match) return false;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const at = new Date(Date.UTC(year, month - 1, day));
  return at.getUTCFullYear() === year && at.getUTCMonth() === month - 1 && at.getUTCDate() === day;
}

/**
 * The date `days` days after `date` (before, when negative).
 *
 * @param date `YYYY-MM-DD`.
 * @param days Whole days.
 * @returns `YYYY-MM-DD`.
 */
export function addDays(date: string, days: number): string {
  return new Date(Date.parse(`${date}T00:00:00Z`) + days * DAY_MS).toISOString().slice(0, 10);
}

/** Days from one date to another (`to` minus `from`). */
export function daysBetween(from: string, to: string): number {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / DAY_MS);
}

/**
 * Meter-local time under one zone rule.
 *
 * @example A spring day of 23 hours
 * ```ts
 * import { MeterCalendar } from "./calendar.ts";
 * import assert from "node:assert/strict";
 * const calendar = new MeterCalendar({ summer: 120, winter: 60 });
 * const hours = (calendar.startOfDay("2025-03-31") - calendar.startOfDay("2025-03-30")) / 3_600_000;
 * assert.equal(hours, 23);
 * assert.equal(calendar.iso(calendar.startOfDay("2025-03-31")), "2025-03-31T00:00:00+02:00");
 * ```
 */
export class MeterCalendar {
  /** The offsets of the meter's flags. */
  readonly zone: TimeZoneRule;

  /** Makes the calendar of a zone rule. */
  constructor(zone: TimeZoneRule) {
    this.zone = zone;
  }

  /** The UTC offset in force at an instant, in minutes. */
  offsetMinutes(epochMs: number): number {
    return isEuSummerTime(epochMs) ? this.zone.summer : this.zone.winter;
  }

  /** The meter-local date of an instant, `YYYY-MM-DD`. */
  date(epochMs: number): string {
    return new Date(epochMs + this.offsetMinutes(epochMs) * 60_000).toISOString().slice(0, 10);
  }

  /** The meter-local day as a number, e.g. `20250330`. */
  dayKey(epochMs: number): number {
    return Number(this.date(epochMs).replaceAll("-", ""));
  }

  /** The meter-local month as a number, e.g. `202503`. */
  monthKey(epochMs: number): number {
    return Math.floor(this.dayKey(epochMs) / 100);
  }

  /**
   * When a meter-local day starts. Local midnight is never inside a change of offset (changes
   * happen at 01:00 UTC), so the winter guess tells which offset midnight has.
   *
   * @param date `YYYY-MM-DD`.
   * @returns Milliseconds since the epoch.
   */
  startOfDay(date: string): number {
    const utcMidnight = Date.parse(`${date}T00:00:00Z`);
    const winter = utcMidnight - this.zone.winter * 60_000;
    return isEuSummerTime(winter) ? utcMidnight - this.zone.summer * 60_000 : winter;
  }

  /** Hours in a meter-local day: 23, 24 or 25. */
  hoursIn(date: string): number {
    return (this.startOfDay(addDays(date, 1)) - this.startOfDay(date)) / HOUR_MS;
  }

  /** An instant as meter-local ISO 8601 with its offset, e.g. `2025-03-30T03:00:00+02:00`. */
  iso(epochMs: number): string {
    const offset = this.offsetMinutes(epochMs);
    const local = new Date(epochMs + offset * 60_000).toISOString().slice(0, 19);
    const sign = offset < 0 ? "-" : "+";
    const abs = Math.abs(offset);
    return `${local}${sign}${pad(Math.floor(abs / 60))}:${pad(abs % 60)}`;
  }
}

/**
 * The time now by the meter's clock while a meter is live (the receiver connected, its newest
 * telegram stamped by a clock that did not jump), else by the host's: what "today" is measured by.
 * A replay counts as the meter it recorded while it plays.
 *
 * @param receiver The receiver, when there is one.
 * @param hostNow The host's clock (ms since the epoch).
 * @returns Milliseconds since the epoch.
 */
export function meterNow(
  receiver: Pick<ReceiverView, "state" | "latest"> | undefined,
  hostNow: number,
): number {
  const latest = receiver?.state === "connected" ? receiver.latest : undefined;
  const trusted = latest && latest.implausible !== "clock jump";
  const stamped = trusted ? latest.telegram.timestamp?.epochMs : undefined;
  if (latest === undefined || stamped === undefined) return hostNow;
  return stamped + Math.max(0, hostNow - latest.receivedAt);
}
