/**
 * Prices, each with the meter-local date it takes effect: per kWh imported and exported (for all
 * tariffs, or one), per m3 of gas, and fixed per day. A price change keeps earlier days at their
 * earlier price; a day before a schedule's first date has no price, and then no cost.
 *
 * @module
 */

import { ConfigError } from "../../config/option.ts";
import { isDate } from "./calendar.ts";

/** A price from a date on (from the beginning, without one). */
export interface PricePeriod {
  /** The first meter-local day it applies to, `YYYY-MM-DD`; absent: every day before the next. */
  readonly from?: string;
  /** The price per unit (per day for fixed costs), in the currency of the prices. */
  readonly price: number;
}

/** A price's periods, oldest first. */
export type PriceSchedule = readonly PricePeriod[];

/** The tariffs a meter counts energy in. */
export type Tariff = "t1" | "t2" | "t3" | "t4";

/** Prices per tariff, and for every tariff without its own. */
export type EnergyPrices = { readonly [T in Tariff | "all"]?: PriceSchedule };

/** Every price the costs are computed from. */
export interface Prices {
  /** ISO 4217 code of the currency, e.g. `EUR`. */
  readonly currency: string;
  /** Per kWh imported. */
  readonly import: EnergyPrices;
  /** Per kWh exported (paid back; a negative price is a fee). */
  readonly export: EnergyPrices;
  /** Per m3 of gas. */
  readonly gas?: PriceSchedule;
  /** Fixed costs per meter-local day (standing charges, minus a tax rebate). */
  readonly fixed?: PriceSchedule;
}

const PRICE = /^-?\d+(\.\d+)?$/;

/**
 * Reads a price option: `0.28`, or `0.28,2025-07-01=0.25` (0.28 until 1 July 2025, then 0.25), or
 * only dated prices. Dates are meter-local days, in increasing order.
 *
 * @param text The option's text.
 * @returns The schedule.
 * @throws {ConfigError} Naming the entry that is wrong.
 *
 * @example
 * ```ts
 * import { readPriceSchedule } from "./prices.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(readPriceSchedule("0.28, 2025-07-01=0.25"), [
 *   { price: 0.28 },
 *   { from: "2025-07-01", price: 0.25 },
 * ]);
 * ```
 */
export function readPriceSchedule(text: string): PriceSchedule {
  const periods: PricePeriod[] = [];
  for (const [index, entry] of text.split(",").map((part) => part.trim()).entries()) {
    const equals = entry.indexOf("=");
    const date = equals < 0 ? undefined : entry.slice(0, equals).trim();
    const price = (equals < 0 ? entry : entry.slice(equals + 1)).trim();
    if (!PRICE.test(price)) {
      throw new ConfigError(
        `"${entry}" is not a price: expected a number like 0.28 (a dot for decimals), or ` +
          `DATE=PRICE like 2025-07-01=0.25, separated by commas`,
      );
    }
    if (date === undefined) {
      if (index > 0) {
        throw new ConfigError(
          `"${entry}": every price after the first needs the date it takes effect, as ` +
            `DATE=PRICE (and a dot for decimals: 0.28, not 0,28)`,
        );
      }
      periods.push({ price: Number(price) });
      continue;
    }
    if (!isDate(date)) {
      throw new ConfigError(`"${entry}": "${date}" is not a date like 2025-07-01`);
    }
    const previous = periods.at(-1)?.from;
    if (previous !== undefined && date <= previous) {
      throw new ConfigError(`"${entry}": dates must increase (${date} is not after ${previous})`);
    }
    periods.push({ from: date, price: Number(price) });
  }
  return periods;
}

/**
 * The price on a meter-local day, if the schedule has one then.
 *
 * @param schedule The schedule (absent: no price).
 * @param date `YYYY-MM-DD`.
 * @returns The price, or `undefined`.
 */
export function priceOn(schedule: PriceSchedule | undefined, date: string): number | undefined {
  let price: number | undefined;
  for (const period of schedule ?? []) {
    if (period.from !== undefined && period.from > date) break;
    price = period.price;
  }
  return price;
}

/**
 * The price of a kWh in a tariff on a day: the tariff's own price, else the one for all tariffs.
 *
 * @param prices The import or export prices.
 * @param tariff The tariff.
 * @param date `YYYY-MM-DD`.
 * @returns The price, or `undefined`.
 */
export function energyPriceOn(
  prices: EnergyPrices,
  tariff: Tariff,
  date: string,
): number | undefined {
  return priceOn(prices[tariff], date) ?? priceOn(prices.all, date);
}

/** Whether any price is set (without one, usage answers carry no costs). */
export function hasPrices(prices: Prices): boolean {
  return Object.keys(prices.import).length > 0 || Object.keys(prices.export).length > 0 ||
    prices.gas !== undefined || prices.fixed !== undefined;
}

/** Reads a currency code such as `EUR`. */
export function readCurrency(text: string): string {
  const code = text.trim().toUpperCase();
  if (!/^[A-Z]{3}$/.test(code)) throw new ConfigError("expected a currency code like EUR");
  return code;
}
