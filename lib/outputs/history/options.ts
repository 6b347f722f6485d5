/**
 * The options of the energy history and its prices.
 *
 * @module
 */

import { optionGroup, setOnly } from "../../config/option.ts";
import { boolean, count, nonEmpty } from "../../config/readers.ts";
import { readCurrency, readPriceSchedule } from "./prices.ts";

/** The energy history and its prices; on unless `--history off`. */
export const HISTORY_OPTIONS = optionGroup({
  enabled: {
    name: "history",
    env: "P1READER_HISTORY",
    default: "on",
    value: "on|off",
    help:
      "keep the energy history (usage per hour, day, month and year, with costs) in an SQLite " +
      "file in --data-dir",
    read: boolean,
  },
  database: {
    name: "history-db",
    env: "P1READER_HISTORY_DB",
    value: "FILE",
    help: "the history's database file (default: history.sqlite in --data-dir)",
    read: nonEmpty,
  },
  minuteDays: {
    name: "history-minute-days",
    env: "P1READER_HISTORY_MINUTE_DAYS",
    default: "31",
    value: "DAYS",
    help: "days the per-minute history is kept (usage per hour, day and month is kept forever)",
    read: count("days"),
  },
  importAll: {
    name: "price-import",
    env: "P1READER_PRICE_IMPORT",
    value: "PRICES",
    help: "price per kWh imported, in every tariff: 0.28, or with the dates later prices take " +
      "effect: 0.28,2025-07-01=0.25",
    read: readPriceSchedule,
  },
  importT1: {
    name: "price-import-t1",
    env: "P1READER_PRICE_IMPORT_T1",
    value: "PRICES",
    help:
      "price per kWh imported in tariff 1 (Netherlands: low; Belgium: day), over --price-import",
    read: readPriceSchedule,
  },
  importT2: {
    name: "price-import-t2",
    env: "P1READER_PRICE_IMPORT_T2",
    value: "PRICES",
    help: "price per kWh imported in tariff 2 (Netherlands: normal; Belgium: night), over " +
      "--price-import",
    read: readPriceSchedule,
  },
  exportAll: {
    name: "price-export",
    env: "P1READER_PRICE_EXPORT",
    value: "PRICES",
    help: "paid back per kWh exported, in every tariff (negative: a fee per kWh)",
    read: readPriceSchedule,
  },
  exportT1: {
    name: "price-export-t1",
    env: "P1READER_PRICE_EXPORT_T1",
    value: "PRICES",
    help: "paid back per kWh exported in tariff 1, over --price-export",
    read: readPriceSchedule,
  },
  exportT2: {
    name: "price-export-t2",
    env: "P1READER_PRICE_EXPORT_T2",
    value: "PRICES",
    help: "paid back per kWh exported in tariff 2, over --price-export",
    read: readPriceSchedule,
  },
  gas: {
    name: "price-gas",
    env: "P1READER_PRICE_GAS",
    value: "PRICES",
    help: "price per m3 of gas",
    read: readPriceSchedule,
  },
  fixed: {
    name: "price-fixed",
    env: "P1READER_PRICE_FIXED",
    value: "PRICES",
    help: "fixed costs per day (standing charges, less any rebate per day)",
    read: readPriceSchedule,
  },
  currency: {
    name: "price-currency",
    env: "P1READER_PRICE_CURRENCY",
    default: "EUR",
    value: "CODE",
    help: "the currency of the prices (ISO 4217), for the dashboard and the usage answers",
    read: readCurrency,
  },
}, (values) => ({
  history: values.enabled
    ? {
      database: values.database,
      minuteDays: values.minuteDays,
      prices: {
        currency: values.currency,
        import: setOnly({ all: values.importAll, t1: values.importT1, t2: values.importT2 }),
        export: setOnly({ all: values.exportAll, t1: values.exportT1, t2: values.exportT2 }),
        ...setOnly({ gas: values.gas, fixed: values.fixed }),
      },
    }
    : undefined,
}));
