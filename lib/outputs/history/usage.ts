/**
 * Usage per hour, day, month or year, with costs: read from the rollups of the history database,
 * plus each gap's usage spread over the steps it covers (which are marked). Costs are worked out
 * per meter-local day (per hour for hourly steps) with that day's prices, then added up.
 *
 * @module
 */

import { addDays, daysBetween, isDate, type MeterCalendar } from "./calendar.ts";
import { energyPriceOn, hasPrices, priceOn, type Prices, type Tariff } from "./prices.ts";
import type { RegisterName } from "./readings.ts";
import type { GapReason, GapRow, HistoryStore, MeterRow } from "./store.ts";

/** How long each step of a usage answer is. */
export type Step = "hour" | "day" | "month" | "year";

/** The steps, as the `step` parameter names them. */
export const STEPS: readonly Step[] = ["hour", "day", "month", "year"];

/** A usage question: meter-local days from `from` to `to`, both included. */
export interface UsageQuery {
  /** The first day, `YYYY-MM-DD`. */
  readonly from: string;
  /** The last day, `YYYY-MM-DD`. */
  readonly to: string;
  /** The step. */
  readonly step: Step;
}

/** The longest range per step, in days: a leap year of hours, ten years of days, a century. */
export const MAX_DAYS: Readonly<Record<Step, number>> = {
  hour: 366,
  day: 3660,
  month: 36_525,
  year: 36_525,
};

/** Usage per direction and tariff (kWh): `t1`... for the tariffs the meter has, and `total`. */
export type EnergyUsage = Partial<Record<Tariff | "total", number>>;

/** The costs of a step; a part without a price is absent. */
export interface Cost {
  /** Electricity imported. */
  import?: number;
  /** Electricity exported: negative when it is paid back. */
  export?: number;
  /** Gas. */
  gas?: number;
  /** Fixed costs of the days. */
  fixed?: number;
  /** The sum of the parts present. */
  total: number;
}

/** One step of a usage answer. */
export interface UsageStep {
  /** Where it starts, meter-local ISO 8601 with offset. */
  readonly start: string;
  /** Where it ends (the next step's start). */
  readonly end: string;
  /** Electricity imported (kWh), `null` without readings. */
  import: EnergyUsage | null;
  /** Electricity exported (kWh), `null` without readings. */
  export: EnergyUsage | null;
  /** Gas (m3) of every gas meter, `null` without readings. */
  gas: number | null;
  /** Water (m3), `null` without readings. */
  water: number | null;
  /** Heat (in the meter's unit, usually GJ), `null` without readings. */
  heat: number | null;
  /** Costs, `null` without prices or readings. */
  cost: Cost | null;
  /** Whether part of the step lies in a gap (its usage there is the gap's, spread evenly). */
  gap: boolean;
}

/** A gap in a usage answer. */
export interface UsageGap {
  /** The last reading before it. */
  readonly from: string;
  /** The first reading after it. */
  readonly to: string;
  /** The meter: `electricity`, `gas`, `water`, ... */
  readonly meter: string;
  /** The meter's equipment id. */
  readonly equipmentId: string;
  /**
   * Why: `no readings` (usage spread over it), `register fell`, `register jumped` or
   * `meter replaced` (unknown).
   */
  readonly reason: GapReason;
}

/** The answer to a usage question. */
export interface UsageAnswer {
  /** The first day. */
  readonly from: string;
  /** The last day. */
  readonly to: string;
  /** The step. */
  readonly step: Step;
  /** The currency of the costs, `null` without prices. */
  readonly currency: string | null;
  /** Units of the amounts. */
  readonly units: { electricity: "kWh"; gas: "m3"; water: "m3"; heat: string };
  /** The steps, oldest first. */
  readonly steps: UsageStep[];
  /** The steps added up. */
  readonly total: Omit<UsageStep, "start" | "end">;
  /** The gaps that touch the range. */
  readonly gaps: UsageGap[];
}

/** A query parameter that is wrong, with why. */
export class UsageQueryError extends Error {
  /** Makes the error. */
  constructor(message: string) {
    super(message);
    this.name = "UsageQueryError";
  }
}

/** `YYYY-MM-DD`, or `YYYY-MM` and `YYYY` (their first day, or their last day for `to`). */
function readDay(name: string, text: string, last: boolean): string {
  let date = text;
  const month = /^(\d{4})-(\d{2})$/.exec(text);
  if (month) {
    const [year, number] = [Number(month[1]), Number(month[2])];
    date = last ? new Date(Date.UTC(year, number, 0)).toISOString().slice(0, 10) : `${text}-01`;
    if (number < 1 || number > 12) date = text;
  } else if (/^\d{4}$/.test(text)) {
    date = `${text}-${last ? "12-31" : "01-01"}`;
  }
  if (!isDate(date)) {
    throw new UsageQueryError(
      `${name} must be a date like 2025-03-30 (or a month, 2025-03, or a year, 2025), not "${text}"`,
    );
  }
  if (date < "1970-01-01" || date > "2099-12-31") {
    throw new UsageQueryError(`${name} must lie from 1970 to 2099, not "${text}"`);
  }
  return date;
}

/**
 * Reads the parameters of `/api/v1/usage`. Without `to`, the meter's today; without `from`, the
 * start of `to`'s day (hours), month (days), year (months) or the first reading's year (years).
 *
 * @param params The query parameters.
 * @param today The meter-local date of the newest reading.
 * @param firstYear The year of the oldest reading.
 * @returns The question.
 * @throws {UsageQueryError} Naming the parameter that is wrong.
 */
export function readUsageQuery(
  params: { from?: string | undefined; to?: string | undefined; step?: string | undefined },
  today: string,
  firstYear: string,
): UsageQuery {
  const step = (params.step ?? "day") as Step;
  if (!STEPS.includes(step)) {
    throw new UsageQueryError(`step must be one of ${STEPS.join(", ")}, not "${params.step}"`);
  }
  const to = params.to === undefined ? today : readDay("to", params.to, true);
  const from = params.from === undefined
    ? {
      hour: to,
      day: `${to.slice(0, 7)}-01`,
      month: `${to.slice(0, 4)}-01-01`,
      year: `${firstYear < to.slice(0, 4) ? firstYear : to.slice(0, 4)}-01-01`,
    }[step]
    : readDay("from", params.from, false);
  if (from > to) throw new UsageQueryError(`from (${from}) is after to (${to})`);
  const days = daysBetween(from, to) + 1;
  if (days > MAX_DAYS[step]) {
    throw new UsageQueryError(
      `a range by ${step} may cover at most ${MAX_DAYS[step]} days, not ${days}: ask for a ` +
        `shorter range or a longer step`,
    );
  }
  return { from, to, step };
}

/** A base unit of computation: one hour (for hourly steps) or one meter-local day. */
interface Unit {
  readonly start: number;
  readonly end: number;
  readonly date: string;
  /** The share of the day's fixed costs: 1 for a day, 1/23 to 1/25 for an hour. */
  readonly dayShare: number;
  readonly amounts: Map<string, number>;
  gap: boolean;
}

const HOUR_MS = 3_600_000;

function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale + 0; // + 0 turns -0 into 0
}

/** The units of a question, and how to find a row's unit. */
function unitsOf(store: HistoryStore, calendar: MeterCalendar, query: UsageQuery): Unit[] {
  const units: Unit[] = [];
  const days = daysBetween(query.from, query.to) + 1;
  const rowsAt = new Map<number, Unit>();
  for (let i = 0; i < days; i++) {
    const date = addDays(query.from, i);
    const start = calendar.startOfDay(date);
    const end = calendar.startOfDay(addDays(date, 1));
    if (query.step === "hour") {
      const hours = (end - start) / HOUR_MS;
      for (let hour = start; hour < end; hour += HOUR_MS) {
        const unit = {
          start: hour,
          end: hour + HOUR_MS,
          date,
          dayShare: 1 / hours,
          amounts: new Map(),
          gap: false,
        };
        units.push(unit);
        rowsAt.set(hour / HOUR_MS, unit);
      }
    } else {
      const unit = { start, end, date, dayShare: 1, amounts: new Map(), gap: false };
      units.push(unit);
      rowsAt.set(Number(date.replaceAll("-", "")), unit);
    }
  }
  const rows = query.step === "hour"
    ? store.usage("hour", units[0]!.start / HOUR_MS, units.at(-1)!.end / HOUR_MS)
    : store.usage(
      "day",
      Number(query.from.replaceAll("-", "")),
      Number(query.to.replaceAll("-", "")),
    );
  for (const row of rows) {
    const unit = rowsAt.get(row.period);
    if (!unit) continue;
    const key = `${row.meter}\u0000${row.register}`;
    unit.amounts.set(key, (unit.amounts.get(key) ?? 0) + row.amount);
  }
  return units;
}

/** The index of the first unit that ends after `time`. */
function firstEndingAfter(units: readonly Unit[], time: number): number {
  let low = 0;
  let high = units.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (units[middle]!.end <= time) low = middle + 1;
    else high = middle;
  }
  return low;
}

/** Spreads each gap's usage over the units it covers, evenly in time, and marks them. */
function spreadGaps(units: Unit[], gaps: readonly GapRow[]): void {
  for (const gap of gaps) {
    for (let i = firstEndingAfter(units, gap.start); i < units.length; i++) {
      const unit = units[i]!;
      if (unit.start >= gap.end) break;
      const overlap = Math.min(unit.end, gap.end) - Math.max(unit.start, gap.start);
      if (overlap <= 0) continue;
      unit.gap = true;
      if (gap.amount === null || gap.register === null) continue;
      const key = `${gap.meter}\u0000${gap.register}`;
      unit.amounts.set(
        key,
        (unit.amounts.get(key) ?? 0) + gap.amount * overlap / (gap.end - gap.start),
      );
    }
  }
}

/** A step being added up. */
interface Sum {
  start: number;
  end: number;
  import: Map<Tariff | "total", number> | null;
  export: Map<Tariff | "total", number> | null;
  gas: number | null;
  water: number | null;
  heat: number | null;
  cost: Map<keyof Cost, number> | null;
  gap: boolean;
}

function emptySum(start: number, end: number): Sum {
  return {
    start,
    end,
    import: null,
    export: null,
    gas: null,
    water: null,
    heat: null,
    cost: null,
    gap: false,
  };
}

function addTo<K>(map: Map<K, number>, key: K, amount: number): void {
  map.set(key, (map.get(key) ?? 0) + amount);
}

/** Adds a unit's usage and costs to a step. */
function addUnit(
  sum: Sum,
  unit: Unit,
  meters: ReadonlyMap<number, MeterRow>,
  prices: Prices | undefined,
) {
  sum.end = unit.end;
  sum.gap ||= unit.gap;
  const cost = (part: keyof Cost, amount: number) => {
    sum.cost ??= new Map();
    addTo(sum.cost, part, amount);
  };
  for (const [key, amount] of unit.amounts) {
    const [meterId, register] = key.split("\u0000") as [string, RegisterName];
    const meter = meters.get(Number(meterId));
    if (!meter) continue;
    if (meter.kind === "electricity" && register !== "reading") {
      const [direction, tariff] = register.split("_") as ["import" | "export", Tariff | "total"];
      const usage = sum[direction] ??= new Map();
      addTo(usage, tariff, amount);
      const price = prices &&
        energyPriceOn(prices[direction], tariff === "total" ? "t1" : tariff, unit.date);
      if (price !== undefined) cost(direction, (direction === "import" ? 1 : -1) * amount * price);
    } else if (meter.kind === "gas" || meter.kind === "water" || meter.kind === "heat") {
      sum[meter.kind] = (sum[meter.kind] ?? 0) + amount;
      const price = meter.kind === "gas" && prices ? priceOn(prices.gas, unit.date) : undefined;
      if (price !== undefined) cost("gas", amount * price);
    }
  }
  const fixed = prices && (unit.amounts.size > 0 || unit.gap)
    ? priceOn(prices.fixed, unit.date)
    : undefined;
  if (fixed !== undefined) cost("fixed", fixed * unit.dayShare);
}

function energyOf(
  map: Map<Tariff | "total", number> | null,
  tariffs: readonly string[],
): EnergyUsage | null {
  if (!map) return null;
  const usage: EnergyUsage = {};
  let total = 0;
  for (const tariff of tariffs) {
    const amount = map.get(tariff as Tariff) ?? 0;
    total += amount;
    if (tariff !== "total") usage[tariff as Tariff] = round(amount, 3);
  }
  usage.total = round(total, 3);
  return usage;
}

const COST_PARTS = ["import", "export", "gas", "fixed"] as const;

function shape(
  sum: Sum,
  tariffs: { import: string[]; export: string[] },
): Omit<UsageStep, "start" | "end"> {
  let cost: Cost | null = null;
  if (sum.cost) {
    const parts: Omit<Cost, "total"> = {};
    let total = 0;
    for (const part of COST_PARTS) {
      const amount = sum.cost.get(part);
      if (amount === undefined) continue;
      parts[part] = round(amount, 4);
      total += amount;
    }
    cost = { ...parts, total: round(total, 4) };
  }
  const amount = (value: number | null) => (value === null ? null : round(value, 3));
  return {
    import: energyOf(sum.import, tariffs.import),
    export: energyOf(sum.export, tariffs.export),
    gas: amount(sum.gas),
    water: amount(sum.water),
    heat: amount(sum.heat),
    cost,
    gap: sum.gap,
  };
}

/**
 * Answers a usage question from the database.
 *
 * @param store The database.
 * @param calendar The meter's calendar.
 * @param prices The prices, when any are set.
 * @param query The question.
 * @returns The steps, their total and the gaps.
 */
export function usageOf(
  store: HistoryStore,
  calendar: MeterCalendar,
  prices: Prices | undefined,
  query: UsageQuery,
): UsageAnswer {
  const priced = prices && hasPrices(prices) ? prices : undefined;
  const units = unitsOf(store, calendar, query);
  const rangeStart = units[0]!.start;
  const rangeEnd = units.at(-1)!.end;
  const gaps = store.gaps(rangeStart, rangeEnd);
  spreadGaps(units, gaps);
  const meters = new Map(store.meters().map((meter) => [meter.id, meter]));

  const stepOf = (unit: Unit, index: number) =>
    query.step === "month"
      ? unit.date.slice(0, 7)
      : query.step === "year"
      ? unit.date.slice(0, 4)
      : String(index);
  const sums = new Map<string, Sum>();
  const total = emptySum(rangeStart, rangeEnd);
  units.forEach((unit, index) => {
    const key = stepOf(unit, index);
    let sum = sums.get(key);
    if (!sum) sums.set(key, sum = emptySum(unit.start, unit.end));
    addUnit(sum, unit, meters, priced);
    addUnit(total, unit, meters, priced);
  });
  // The tariffs the meter has in this range; `total` only for a meter that sends nothing else.
  const tariffs = { import: [] as string[], export: [] as string[] };
  for (const direction of ["import", "export"] as const) {
    const present = [...total[direction]?.keys() ?? []].sort();
    tariffs[direction] = present;
  }
  const heatUnit = [...meters.values()].find((meter) => meter.kind === "heat")?.unit ?? "GJ";
  const listed = new Map<string, UsageGap>();
  for (const gap of gaps) {
    const meter = meters.get(gap.meter);
    const key = `${gap.meter} ${gap.start} ${gap.end} ${gap.reason}`;
    if (listed.has(key)) continue;
    listed.set(key, {
      from: calendar.iso(gap.start),
      to: calendar.iso(gap.end),
      meter: meter?.kind ?? "unknown",
      equipmentId: meter?.equipmentId ?? "",
      reason: gap.reason,
    });
  }
  return {
    from: query.from,
    to: query.to,
    step: query.step,
    currency: priced ? priced.currency : null,
    units: { electricity: "kWh", gas: "m3", water: "m3", heat: heatUnit },
    steps: [...sums.values()].map((sum) => ({
      start: calendar.iso(sum.start),
      end: calendar.iso(sum.end),
      ...shape(sum, tariffs),
    })),
    total: shape(total, tariffs),
    gaps: [...listed.values()],
  };
}

/** The columns of the CSV of a usage answer, and the value of each in a step. */
function csvColumns(answer: UsageAnswer): [string, (step: UsageStep) => unknown][] {
  const columns: [string, (step: UsageStep) => unknown][] = [
    ["start", (step) => step.start],
    ["end", (step) => step.end],
  ];
  for (const direction of ["import", "export"] as const) {
    const keys = Object.keys(answer.total[direction] ?? {});
    for (const key of keys) {
      const name = key === "total" ? `${direction}_kwh` : `${direction}_${key}_kwh`;
      columns.push([name, (step) => step[direction]?.[key as Tariff | "total"]]);
    }
  }
  if (answer.total.gas !== null) columns.push(["gas_m3", (step) => step.gas]);
  if (answer.total.water !== null) columns.push(["water_m3", (step) => step.water]);
  if (answer.total.heat !== null) {
    // The unit is the meter's text: only letters and digits go into the header.
    const unit = /^[A-Za-z0-9]{1,8}$/.test(answer.units.heat) ? answer.units.heat : "unit";
    columns.push([`heat_${unit.toLowerCase()}`, (step) => step.heat]);
  }
  if (answer.currency !== null) {
    const currency = answer.currency.toLowerCase();
    for (const part of ["import", "export", "gas", "fixed", "total"] as const) {
      if (answer.total.cost?.[part] !== undefined) {
        columns.push([`cost_${part}_${currency}`, (step) => step.cost?.[part]]);
      }
    }
  }
  columns.push(["gap", (step) => (step.gap ? 1 : 0)]);
  return columns;
}

/**
 * A usage answer as CSV: one header line, one line per step; an empty field where a step has no
 * readings. Dates are meter-local with their offset; decimals use a dot.
 *
 * @param answer The answer.
 * @returns The CSV text, lines ending in CR LF (RFC 4180).
 */
export function usageCsv(answer: UsageAnswer): string {
  const columns = csvColumns(answer);
  const lines = [columns.map(([name]) => name).join(",")];
  for (const step of answer.steps) {
    lines.push(
      columns.map(([, value]) => {
        const v = value(step);
        return v === null || v === undefined ? "" : String(v);
      }).join(","),
    );
  }
  return `${lines.join("\r\n")}\r\n`;
}
