/**
 * Writing generated telegrams into a history database as `p1reader import` does, and reading a
 * database back as sorted text rows that compare whatever order the meters were first seen in.
 *
 * @module
 */

import { DatabaseSync } from "node:sqlite";
import { parseTelegram } from "../../lib/dsmr/parse.ts";
import { CENTRAL_EUROPEAN_TIME } from "../../lib/dsmr/values.ts";
import { MinuteBuilder, type MinuteRecord } from "../../lib/outputs/history/minute.ts";
import { factsOf } from "../../lib/outputs/history/readings.ts";
import type { HistoryStore } from "../../lib/outputs/history/store.ts";
import { type MeterState, telegramText } from "./meter_telegrams.ts";

/** The minute records of some telegrams, written as `p1reader import` writes them: a day a time. */
export function importInto(store: HistoryStore, states: readonly MeterState[]): void {
  const builder = new MinuteBuilder();
  let batch: MinuteRecord[] = [];
  for (const state of states) {
    const closed = builder.add(factsOf(parseTelegram(telegramOf(state)), state.time));
    if (closed) batch.push(closed);
    if (batch.length === 1440) {
      store.write(batch, CENTRAL_EUROPEAN_TIME, 31);
      batch = [];
    }
  }
  const last = builder.close();
  if (last) batch.push(last);
  store.write(batch, CENTRAL_EUROPEAN_TIME, 31);
}

// Tests import the same telegrams many times over: each is written out once.
const TELEGRAMS = new Map<MeterState, string>();

/** The telegram of a state, written out once. */
export function telegramOf(state: MeterState): string {
  let text = TELEGRAMS.get(state);
  if (text === undefined) TELEGRAMS.set(state, text = telegramText(state));
  return text;
}

/**
 * Every usage row of every hour, day and month, and every gap (and, asked for, every minute row)
 * of a database, with meters named by equipment id (their ids depend on the order they were first
 * seen).
 */
export function contents(path: string, withMinutes = false): string[] {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    const meter = (id: unknown) =>
      String(
        db.prepare("SELECT equipment_id FROM meters WHERE id = ?").get(Number(id))!.equipment_id,
      );
    const round = (value: unknown) => value === null ? "null" : Number(value).toFixed(6);
    const rows: string[] = [];
    for (
      const [table, column] of [["usage_hour", "hour"], ["usage_day", "day"], [
        "usage_month",
        "month",
      ]]
    ) {
      for (
        const row of db.prepare(`SELECT ${column} AS period, meter, register, amount FROM ${table}`)
          .all()
      ) {
        rows.push(
          `${table} ${row.period} ${meter(row.meter)} ${row.register} ${round(row.amount)}`,
        );
      }
    }
    for (
      const row of db.prepare("SELECT meter, register, start, end, amount, reason FROM gaps").all()
    ) {
      rows.push(
        `gap ${meter(row.meter)} ${row.register} ${row.start} ${row.end} ${
          round(row.amount)
        } ${row.reason}`,
      );
    }
    if (withMinutes) {
      for (const row of db.prepare("SELECT * FROM minutes").all()) {
        rows.push(`minute ${JSON.stringify({ ...row, meter: meter(row.meter) })}`);
      }
    }
    return rows.sort();
  } finally {
    db.close();
  }
}
