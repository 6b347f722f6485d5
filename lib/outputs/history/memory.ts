/**
 * A short history in memory for the dashboard: one point per telegram for the last hour and one
 * per minute (power averaged, registers at the minute's end) for the last 48 hours, bounded in
 * count whatever the uptime or the meter's rate. "Today" is counted from the last reading of the
 * previous meter-local day, so a 23- or 25-hour day around a DST change is still one day.
 *
 * Points follow the meter's clock. A telegram at which that clock jumped is left out (see
 * `MeterClock`); a clock that was really set back drops the points stamped after its new time,
 * so the history goes on from there instead of waiting for the old time to come back.
 *
 * @module
 */

import { energyTotal, gasDevice } from "../../dsmr/derive.ts";
import type { Telegram } from "../../dsmr/model.ts";
import type { Hono } from "hono";
import type { ReceivedTelegram } from "../../receiver.ts";
import type { Output, OutputContext, ReceiverView } from "../output.ts";
import { FORMATS } from "../../dsmr/formats.ts";
import { CENTRAL_EUROPEAN_TIME } from "../../dsmr/values.ts";
import { MeterCalendar, meterNow } from "./calendar.ts";
import { Ring } from "./ring.ts";
import { recentRoute } from "./routes.ts";

/** One point of the history. */
export interface HistoryPoint {
  /** The meter's time (ms since the epoch), or the receive time when the telegram has none. */
  time: number;
  /** The meter-local date, `YYYY-MM-DD`. */
  day: string;
  /** Power imported and exported (W); averages for minute points. */
  importW?: number;
  exportW?: number;
  /** Per-phase net power, import minus export (W), for L1, L2, L3. */
  phasesW?: (number | null)[];
  /** Energy registers summed over tariffs (kWh). */
  importKwh?: number;
  exportKwh?: number;
  /** The gas register (m3). */
  gasM3?: number;
}

/** Options for {@linkcode History}. */
export interface HistoryOptions {
  /** How long points per telegram are kept. @default {3600000} */
  recentMs?: number;
  /** Most points per telegram kept. @default {7200} */
  recentMax?: number;
  /** How long minute points are kept. @default {172800000} */
  minutesMs?: number;
}

/** What a history query returns. */
export interface HistoryAnswer {
  /** `telegram` (one point each) or `minute` (averages). */
  resolution: "telegram" | "minute";
  /** The points, oldest first. */
  points: HistoryPoint[];
  /**
   * Energy on the meter-local day of the newest point (`day`), counted from the start of that day
   * when the history reaches back to it. It is today's only when `day` is `currentDay`.
   */
  today:
    | { day: string; importKwh: number | null; exportKwh: number | null; gasM3: number | null }
    | null;
  /**
   * The meter-local date now, `YYYY-MM-DD`: by the meter's clock while a meter is live, else by
   * the host's (see {@linkcode meterNow}).
   */
  currentDay: string;
}

/**
 * The history point of a telegram.
 *
 * @param t The telegram.
 * @param receivedAt When it arrived.
 * @returns The point.
 */
export function pointOf(t: Telegram, receivedAt: number): HistoryPoint {
  const time = t.timestamp?.epochMs ?? receivedAt;
  const day = t.timestamp?.iso.slice(0, 10) ?? new Date(receivedAt).toISOString().slice(0, 10);
  const point: HistoryPoint = { time, day };
  const watts = (
    q: { value: number } | undefined,
  ) => (q === undefined ? undefined : Math.round(q.value * 1000));
  const imp = watts(t.power.import);
  const exp = watts(t.power.export);
  if (imp !== undefined) point.importW = imp;
  if (exp !== undefined) point.exportW = exp;
  const phases = (["l1", "l2", "l3"] as const).map((p) => {
    const r = t.phases[p];
    if (!r?.powerImport && !r?.powerExport) return null;
    return (watts(r.powerImport) ?? 0) - (watts(r.powerExport) ?? 0);
  });
  if (phases.some((p) => p !== null)) point.phasesW = phases;
  const importKwh = energyTotal(t.energy.import);
  const exportKwh = energyTotal(t.energy.export);
  if (importKwh !== undefined) point.importKwh = importKwh;
  if (exportKwh !== undefined) point.exportKwh = exportKwh;
  const gas = gasDevice(t)?.reading?.value.value;
  if (gas !== undefined) point.gasM3 = gas;
  return point;
}

interface Minute {
  start: number;
  count: number;
  importSum: number;
  exportSum: number;
  phaseSums: number[];
  phaseCounts: number[];
  last: HistoryPoint;
}

/** The ring buffers; see the module documentation. */
export class History {
  readonly #recentMs: number;
  readonly #minutesMs: number;
  readonly #recent: Ring<HistoryPoint>;
  readonly #minutes: Ring<HistoryPoint>;
  #open: Minute | undefined;

  /** Makes an empty history. */
  constructor(options: HistoryOptions = {}) {
    this.#recentMs = options.recentMs ?? 3_600_000;
    this.#minutesMs = options.minutesMs ?? 48 * 3_600_000;
    this.#recent = new Ring(options.recentMax ?? 7200);
    this.#minutes = new Ring(Math.ceil(this.#minutesMs / 60_000) + 1);
  }

  /** Points kept per telegram and per minute (for bounds checks). */
  get sizes(): { recent: number; minutes: number } {
    return { recent: this.#recent.length, minutes: this.#minutes.length };
  }

  /**
   * Adds a received telegram's point, unless it does not follow the ones before (`implausible`).
   *
   * @param received The telegram.
   */
  record(received: ReceivedTelegram): void {
    if (!received.implausible) this.add(pointOf(received.telegram, received.receivedAt));
  }

  /**
   * Adds a point. A point older than the newest one means the meter's clock was set back: the
   * points after it go, so that the history stays in time order.
   *
   * @param point The point.
   */
  add(point: HistoryPoint): void {
    const newest = this.#recent.at(-1);
    if (newest && point.time < newest.time) this.#rewind(point.time);
    this.#recent.push(point);
    const cutoff = point.time - this.#recentMs;
    this.#recent.dropOldestWhile((oldest) => oldest.time < cutoff);

    const start = Math.floor(point.time / 60_000) * 60_000;
    if (this.#open && this.#open.start !== start) this.#close();
    this.#open ??= {
      start,
      count: 0,
      importSum: 0,
      exportSum: 0,
      phaseSums: [0, 0, 0],
      phaseCounts: [0, 0, 0],
      last: point,
    };
    const m = this.#open;
    m.count++;
    m.importSum += point.importW ?? 0;
    m.exportSum += point.exportW ?? 0;
    point.phasesW?.forEach((w, i) => {
      if (w !== null) {
        m.phaseSums[i]! += w;
        m.phaseCounts[i]!++;
      }
    });
    m.last = point;
  }

  /** Drops the points from `time` on, and the minutes after the one it falls in. */
  #rewind(time: number): void {
    const minute = Math.floor(time / 60_000) * 60_000;
    this.#recent.dropNewestWhile((newest) => newest.time >= time);
    this.#minutes.dropNewestWhile((newest) => newest.time >= minute);
    if (this.#open && this.#open.start > minute) this.#open = undefined;
  }

  /** Closes the open minute into a minute point. */
  #close(): void {
    const m = this.#open!;
    this.#open = undefined;
    const { last } = m;
    const point: HistoryPoint = { time: m.start, day: last.day };
    if (last.importW !== undefined) point.importW = Math.round(m.importSum / m.count);
    if (last.exportW !== undefined) point.exportW = Math.round(m.exportSum / m.count);
    if (last.phasesW) {
      point.phasesW = m.phaseSums.map((
        s,
        i,
      ) => (m.phaseCounts[i] ? Math.round(s / m.phaseCounts[i]!) : null));
    }
    if (last.importKwh !== undefined) point.importKwh = last.importKwh;
    if (last.exportKwh !== undefined) point.exportKwh = last.exportKwh;
    if (last.gasM3 !== undefined) point.gasM3 = last.gasM3;
    this.#minutes.push(point);
    const cutoff = m.start - this.#minutesMs;
    this.#minutes.dropOldestWhile((oldest) => oldest.time < cutoff);
  }

  /**
   * The points of the last `minutes` minutes: per telegram up to an hour, per minute beyond.
   *
   * @param minutes How far back.
   * @returns The points and the energy of the newest point's day.
   */
  query(minutes: number): Omit<HistoryAnswer, "currentDay"> {
    const newest = this.#recent.at(-1);
    const today = this.#today();
    if (!newest) return { resolution: "telegram", points: [], today };
    const from = newest.time - minutes * 60_000;
    if (minutes * 60_000 <= this.#recentMs) {
      return { resolution: "telegram", points: this.#recent.filter((p) => p.time >= from), today };
    }
    return { resolution: "minute", points: this.#minutes.filter((p) => p.time >= from), today };
  }

  /** Energy since the last reading of the previous meter-local day (or the day's first). */
  #today(): HistoryAnswer["today"] {
    const newest = this.#recent.at(-1);
    if (!newest) return null;
    const all = [...this.#minutes, ...this.#recent];
    const firstToday = all.findIndex((p) => p.day === newest.day);
    const base = all[firstToday - 1] ?? all[firstToday]!;
    const diff = (key: "importKwh" | "exportKwh" | "gasM3") => {
      const a = base[key];
      const b = newest[key];
      return a === undefined || b === undefined ? null : Math.round((b - a) * 1000) / 1000;
    };
    return {
      day: newest.day,
      importKwh: diff("importKwh"),
      exportKwh: diff("exportKwh"),
      gasM3: diff("gasM3"),
    };
  }
}

/**
 * The history in memory as an output, for a service without the history database
 * (`--history off`): it serves the dashboard's charts and shows nothing in `/api/v1/status`.
 */
export class MemoryHistoryOutput implements Output<{ recent: number; minutes: number }> {
  /** Its name, like the database's history, whose place it takes. */
  readonly name = "history";
  readonly #history: History;
  #receiver: ReceiverView | undefined;
  #unsubscribe: (() => void) | undefined;

  /**
   * Makes the output.
   *
   * @param options How much it keeps.
   */
  constructor(options: HistoryOptions = {}) {
    this.#history = new History(options);
  }

  /** Records every telegram the receiver accepts. */
  start(context: OutputContext): Promise<void> {
    this.#receiver = context.receiver;
    this.#unsubscribe = context.receiver.subscribe((received) => this.#history.record(received));
    return Promise.resolve();
  }

  /** Stops recording; what it kept goes with the process. */
  stop(): Promise<void> {
    this.#unsubscribe?.();
    return Promise.resolve();
  }

  /** Points kept per telegram and per minute. */
  stats(): { recent: number; minutes: number } {
    return this.#history.sizes;
  }

  /** Nothing in `/api/v1/status`: a service without the history database shows no `history`. */
  status(): undefined {
    return undefined;
  }

  /** Adds `GET /api/v1/history`. */
  routes(app: Hono): void {
    recentRoute(app, {
      history: (minutes) => ({ ...this.#history.query(minutes), currentDay: this.#currentDay() }),
    });
  }

  /** Today's meter-local date, in the zone of the newest telegram's format. */
  #currentDay(): string {
    const format = this.#receiver?.latest?.telegram.format;
    const calendar = new MeterCalendar(format ? FORMATS[format].zone : CENTRAL_EUROPEAN_TIME);
    return calendar.date(meterNow(this.#receiver, Date.now()));
  }
}
