/**
 * The history database: one SQLite file (WAL) through Deno's built-in `node:sqlite`.
 *
 * What it keeps: per minute, the electricity meter's last register values and the average,
 * minimum and maximum of each power value (`minutes`), and every M-Bus reading with its capture
 * time (`mbus_readings`), both for a number of days; per hour, meter-local day and month, the
 * usage of every register of every meter (`usage_hour`, `usage_day`, `usage_month`), forever;
 * the readings each register's usage continues from (`series`); and the periods without readings
 * or with a register that fell (`gaps`).
 *
 * Usage is the register's difference, never integrated power. Between two readings it is spread
 * evenly over the time between them, so a day's usage is the register at its end minus the
 * register at its start, each read off the straight line between the readings around it. Two
 * readings further apart than a meter ever sends them (the reader was down) make a gap: their
 * difference is kept with the gap and spread over it when asked for, and the steps it touches are
 * marked. A register that falls, or grows faster than a meter counts (`mostGrowth`), starts a new
 * segment (a replaced meter that kept its id; the receiver leaves out a glitch that does not last),
 * and a new equipment id is a new meter: the time between is a gap of unknown usage, never a
 * negative one nor one a meter could not have counted.
 *
 * Every batch is one transaction that continues each register from the database's own last
 * reading, so a batch that was already written (or readings an import already brought) is never
 * counted twice, and a crash loses only what was not yet written. Readings older than the first
 * kept end at it, and readings inside a gap split it (each gap keeps the readings at its ends), so
 * captures imported in any order give the same usage and gaps as the telegrams all at once.
 *
 * @module
 */

import { backup, DatabaseSync, type SQLInputValue, type StatementSync } from "node:sqlite";
import type { TimeZoneRule } from "../../dsmr/values.ts";
import { mostGrowth } from "../../meter_registers.ts";
import { MeterCalendar } from "./calendar.ts";
import type { MinuteRecord } from "./minute.ts";
import {
  ENERGY_REGISTERS,
  type MeterIdentity,
  meterKey,
  POWER_FIELDS,
  type Reading,
  type RegisterName,
} from "./readings.ts";

const MINUTE_MS = 60_000;
const HOUR_MS = 3_600_000;

/** `PRAGMA application_id` of a history database ("P1RH"). */
const APPLICATION_ID = 0x50315248;
/** The schema's version (`PRAGMA user_version`). */
const SCHEMA_VERSION = 3;

/**
 * Two readings of the electricity meter further apart than this are a gap: meters send every 1
 * to 10 s, so only a reader or cable that was down leaves one.
 */
export const ELECTRICITY_GAP_MS = 10 * MINUTE_MS;
/** The same for M-Bus devices, which send a reading every 5 minutes (DSMR 5) or every hour. */
export const MBUS_GAP_MS = 65 * MINUTE_MS;

/** Why part of the history has no usage of its own. */
export type GapReason = "no readings" | "register fell" | "register jumped" | "meter replaced";

const POWER_COLUMNS = POWER_FIELDS.flatMap((field) =>
  ["avg", "min", "max"].map((stat) => `${field}_w_${stat}`)
);

/**
 * Version 2 keeps the register's value at each end of a gap, so that readings an import brings
 * into the gap later can split it.
 */
const FROM_VERSION_1 = `
ALTER TABLE gaps ADD COLUMN start_value REAL;
ALTER TABLE gaps ADD COLUMN end_value REAL;
`;

/**
 * Version 3 fills in the ends of the gaps version 1 left (version 2 added the columns and left
 * them empty) from the readings the database still has: an M-Bus reading at either end, and the
 * electricity meter's minute row at the start (the last reading before a gap is the last of its
 * minute) plus the gap's usage. A gap whose ends cannot be found stays as it is, never split.
 */
function fillGapEnds(db: DatabaseSync): void {
  const gaps = db.prepare(
    `SELECT id, meter, register, start, end, amount FROM gaps
     WHERE register IS NOT NULL AND (start_value IS NULL OR end_value IS NULL)`,
  ).all();
  const mbus = db.prepare("SELECT value FROM mbus_readings WHERE meter = ? AND time = ?");
  const update = db.prepare("UPDATE gaps SET start_value = ?, end_value = ? WHERE id = ?");
  for (const gap of gaps) {
    const register = String(gap.register);
    const amount = gap.amount === null ? undefined : Number(gap.amount);
    let start: number | undefined;
    let end: number | undefined;
    if (register === "reading") {
      const at = (time: SQLInputValue) => mbus.get(gap.meter!, time)?.value;
      const [a, b] = [at(gap.start!), at(gap.end!)];
      start = a === undefined ? undefined : Number(a);
      end = b === undefined ? undefined : Number(b);
    } else if ((ENERGY_REGISTERS as readonly string[]).includes(register)) {
      // The minute row of the end holds that minute's last reading, not the first after the gap.
      const row = db.prepare(
        `SELECT ${register} AS value FROM minutes WHERE meter = ? AND minute = ?`,
      )
        .get(gap.meter!, Math.floor(Number(gap.start) / MINUTE_MS));
      start = row?.value === null || row?.value === undefined ? undefined : Number(row.value);
    }
    if (amount !== undefined) {
      start ??= end === undefined ? undefined : end - amount;
      end ??= start === undefined ? undefined : start + amount;
    }
    if (start !== undefined && end !== undefined) update.run(start, end, gap.id!);
  }
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS meters (
  id INTEGER PRIMARY KEY,
  kind TEXT NOT NULL,
  channel INTEGER NOT NULL,
  equipment_id TEXT NOT NULL,
  unit TEXT NOT NULL,
  first_seen INTEGER NOT NULL,
  last_seen INTEGER NOT NULL,
  UNIQUE (kind, channel, equipment_id)
);
CREATE TABLE IF NOT EXISTS minutes (
  minute INTEGER NOT NULL,
  meter INTEGER NOT NULL,
  telegrams INTEGER NOT NULL,
  ${ENERGY_REGISTERS.map((register) => `${register} REAL`).join(", ")},
  ${POWER_COLUMNS.map((column) => `${column} INTEGER`).join(", ")},
  PRIMARY KEY (minute, meter)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS mbus_readings (
  time INTEGER NOT NULL,
  meter INTEGER NOT NULL,
  value REAL NOT NULL,
  PRIMARY KEY (time, meter)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS series (
  meter INTEGER NOT NULL,
  register TEXT NOT NULL,
  first_time INTEGER NOT NULL,
  first_value REAL NOT NULL,
  last_time INTEGER NOT NULL,
  last_value REAL NOT NULL,
  PRIMARY KEY (meter, register)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS usage_hour (
  hour INTEGER NOT NULL, meter INTEGER NOT NULL, register TEXT NOT NULL, amount REAL NOT NULL,
  PRIMARY KEY (hour, meter, register)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS usage_day (
  day INTEGER NOT NULL, meter INTEGER NOT NULL, register TEXT NOT NULL, amount REAL NOT NULL,
  PRIMARY KEY (day, meter, register)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS usage_month (
  month INTEGER NOT NULL, meter INTEGER NOT NULL, register TEXT NOT NULL, amount REAL NOT NULL,
  PRIMARY KEY (month, meter, register)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS gaps (
  id INTEGER PRIMARY KEY,
  meter INTEGER NOT NULL,
  register TEXT,
  start INTEGER NOT NULL,
  end INTEGER NOT NULL,
  amount REAL,
  reason TEXT NOT NULL,
  start_value REAL,
  end_value REAL
);
CREATE INDEX IF NOT EXISTS gaps_by_start ON gaps (start);
`;

/** A meter as the database knows it. */
export interface MeterRow extends MeterIdentity {
  /** Its id in the database. */
  readonly id: number;
}

/** Usage of one register of one meter in one hour, day or month. */
export interface UsageRow {
  /** The epoch hour, or the day (`20250330`), or the month (`202503`). */
  readonly period: number;
  /** The meter's id. */
  readonly meter: number;
  /** The register. */
  readonly register: RegisterName;
  /** The usage in the register's unit. */
  readonly amount: number;
}

/** A period without usage of its own. */
export interface GapRow {
  /** The meter's id. */
  readonly meter: number;
  /** The register, or `null` for the whole meter (a replacement). */
  readonly register: RegisterName | null;
  /** The last reading before it (ms since the epoch). */
  readonly start: number;
  /** The first reading after it. */
  readonly end: number;
  /** The register's difference across it, or `null` when unknown. */
  readonly amount: number | null;
  /** Why. */
  readonly reason: GapReason;
}

/** One row of `minutes`. */
export interface MinuteRow {
  /** When the minute starts (ms since the epoch). */
  readonly minute: number;
  /** The electricity meter's id. */
  readonly meter: number;
  /** Telegrams in the minute. */
  readonly telegrams: number;
  /** The last value of each register present. */
  readonly registers: Partial<Record<(typeof ENERGY_REGISTERS)[number], number>>;
  /** Per {@linkcode POWER_FIELDS} entry, `[avg, min, max]` in W, or `undefined`. */
  readonly power: readonly ([number, number, number] | undefined)[];
}

/** What a batch did. */
export interface WriteResult {
  /** Minute rows written. */
  readonly minutes: number;
  /** Readings not used because the database already had them. */
  readonly skipped: number;
}

/** The database could not be used for a reason the user must fix (not corruption, not space). */
export class HistoryStoreError extends Error {
  /** Makes the error. */
  constructor(message: string) {
    super(message);
    this.name = "HistoryStoreError";
  }
}

/** Whether an SQLite error says the file is damaged or not a database. */
export function isCorruption(error: unknown): boolean {
  return /malformed|not a database|file is encrypted/i.test((error as Error)?.message ?? "");
}

/** Whether an SQLite error says the disk is full. */
export function isDiskFull(error: unknown): boolean {
  return /disk is full|disk full/i.test((error as Error)?.message ?? "");
}

/** The name a corrupt file is moved to: beside it, with the time, never over another file. */
function asideName(path: string, now: number): string {
  const stamp = new Date(now).toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
  for (let n = 0;; n++) {
    const candidate = `${path}.corrupt-${stamp}${n === 0 ? "" : `-${n}`}`;
    try {
      Deno.lstatSync(candidate);
    } catch {
      // No file by that name: it is free.
      return candidate;
    }
  }
}

function renameIfPresent(from: string, to: string): void {
  try {
    Deno.renameSync(from, to);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}

type Row = Record<string, SQLInputValue>;

/** A gap being written: with the register's readings at its ends, by which it can be split. */
type NewGap = GapRow & { readonly from?: Reading; readonly to?: Reading };

/** The hours an interval covers, with the share of the interval in each. */
function* hourShares(start: number, end: number): Generator<[hour: number, share: number]> {
  const length = end - start;
  for (let hour = Math.floor(start / HOUR_MS); hour * HOUR_MS < end; hour++) {
    const from = Math.max(start, hour * HOUR_MS);
    const to = Math.min(end, (hour + 1) * HOUR_MS);
    if (to > from) yield [hour, (to - from) / length];
  }
}

/** A history database, open. */
export class HistoryStore {
  readonly #db: DatabaseSync;
  readonly #path: string;
  readonly #statements = new Map<string, StatementSync>();
  #prunedHour = -1;

  private constructor(db: DatabaseSync, path: string) {
    this.#db = db;
    this.#path = path;
  }

  /**
   * Opens (or creates) the database at `path`. A file that is damaged or not a database is moved
   * aside, kept beside it with `.corrupt-TIME` appended, and a new one is started.
   *
   * @param path The file.
   * @param now The clock, for the name of a file moved aside.
   * @returns The store, and where a damaged file went.
   * @throws {HistoryStoreError} When the file belongs to something else or to a newer reader.
   * @throws {Error} When the file cannot be opened or created (permissions, a missing disk).
   */
  static open(path: string, now = Date.now()): { store: HistoryStore; movedAside?: string } {
    try {
      return { store: HistoryStore.#openChecked(path) };
    } catch (error) {
      if (!isCorruption(error)) throw error;
      const aside = asideName(path, now);
      Deno.renameSync(path, aside);
      renameIfPresent(`${path}-wal`, `${aside}-wal`);
      renameIfPresent(`${path}-shm`, `${aside}-shm`);
      return { store: HistoryStore.#openChecked(path), movedAside: aside };
    }
  }

  static #openChecked(path: string): HistoryStore {
    const db = new DatabaseSync(path);
    try {
      db.exec("PRAGMA busy_timeout = 10000");
      const check = db.prepare("PRAGMA quick_check").all()[0]?.quick_check;
      if (check !== "ok") throw new Error(`database disk image is malformed: ${String(check)}`);
      const id = Number(db.prepare("PRAGMA application_id").get()?.application_id);
      const version = Number(db.prepare("PRAGMA user_version").get()?.user_version);
      const tables = Number(
        db.prepare("SELECT count(*) AS n FROM sqlite_schema WHERE type = 'table'").get()?.n,
      );
      if (id !== APPLICATION_ID && (id !== 0 || tables > 0)) {
        throw new HistoryStoreError(`${path} is an SQLite database of another program`);
      }
      if (version > SCHEMA_VERSION) {
        throw new HistoryStoreError(
          `${path} was written by a newer p1reader (schema ${version}; this one knows ${SCHEMA_VERSION})`,
        );
      }
      db.exec("PRAGMA journal_mode = WAL");
      db.exec("PRAGMA synchronous = NORMAL");
      db.exec("BEGIN IMMEDIATE");
      try {
        // Read again inside the transaction: another process may have upgraded it meanwhile.
        const current = Number(db.prepare("PRAGMA user_version").get()?.user_version);
        if (current === 1) db.exec(FROM_VERSION_1);
        if (current === 1 || current === 2) fillGapEnds(db);
        db.exec(
          `${SCHEMA} PRAGMA application_id = ${APPLICATION_ID}; ` +
            `PRAGMA user_version = ${SCHEMA_VERSION}; COMMIT;`,
        );
      } catch (error) {
        if (db.isTransaction) db.exec("ROLLBACK");
        throw error;
      }
      return new HistoryStore(db, path);
    } catch (error) {
      db.close();
      throw error;
    }
  }

  /** The file. */
  get path(): string {
    return this.#path;
  }

  /** The size of the file and its write-ahead log, in bytes. */
  get sizeBytes(): number {
    let bytes = 0;
    for (const file of [this.#path, `${this.#path}-wal`]) {
      try {
        bytes += Deno.statSync(file).size;
      } catch {
        // No write-ahead log at the moment (after a checkpoint on close).
      }
    }
    return bytes;
  }

  #statement(sql: string): StatementSync {
    let statement = this.#statements.get(sql);
    if (!statement) this.#statements.set(sql, statement = this.#db.prepare(sql));
    return statement;
  }

  #run(sql: string, ...values: SQLInputValue[]): void {
    this.#statement(sql).run(...values);
  }

  #get(sql: string, ...values: SQLInputValue[]): Row | undefined {
    return this.#statement(sql).get(...values) as Row | undefined;
  }

  #all(sql: string, ...values: SQLInputValue[]): Row[] {
    return this.#statement(sql).all(...values) as Row[];
  }

  /** The zone rule of the meter last written, if any. */
  zone(): TimeZoneRule | undefined {
    const text = this.#get("SELECT value FROM meta WHERE key = 'zone'")?.value;
    return typeof text === "string" ? JSON.parse(text) as TimeZoneRule : undefined;
  }

  /**
   * Writes minutes in one transaction: their rows, their readings' usage, gaps and the registers'
   * new last readings.
   *
   * @param minutes The minutes, oldest first.
   * @param zone The meter's zone rule (which day and month an hour belongs to).
   * @param minuteDays How many days of minute rows and M-Bus readings to keep.
   * @returns What was written.
   */
  write(minutes: readonly MinuteRecord[], zone: TimeZoneRule, minuteDays: number): WriteResult {
    if (minutes.length === 0) return { minutes: 0, skipped: 0 };
    this.#db.exec("BEGIN IMMEDIATE");
    try {
      const newestKept = Number(
        this.#get("SELECT max(minute) AS minute FROM minutes")?.minute ?? 0,
      );
      const keptFrom = Math.max(newestKept * MINUTE_MS, minutes.at(-1)!.minute) -
        minuteDays * 86_400_000;
      const result = this.#writeBatch(minutes, zone, keptFrom);
      const newest = minutes.at(-1)!.minute;
      // Once an hour is plenty: the minute leads the key, so the oldest rows go in one sweep.
      if (Math.floor(newest / HOUR_MS) !== this.#prunedHour) {
        this.#prune(newest, minuteDays);
        this.#prunedHour = Math.floor(newest / HOUR_MS);
      }
      this.#db.exec("COMMIT");
      return result;
    } catch (error) {
      if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
      throw error;
    }
  }

  /** Writes a batch; minute rows and M-Bus readings before `keptFrom` are not kept. */
  #writeBatch(
    minutes: readonly MinuteRecord[],
    zone: TimeZoneRule,
    keptFrom: number,
  ): WriteResult {
    const calendar = new MeterCalendar(zone);
    this.#run("INSERT OR REPLACE INTO meta (key, value) VALUES ('zone', ?)", JSON.stringify(zone));
    const gaps: NewGap[] = [];

    // The meters of the batch with the time each was first and last seen in it, and every
    // register's readings across the batch.
    const seen = new Map<string, { meter: MeterIdentity; first: number; last: number }>();
    const see = (meter: MeterIdentity, time: number) => {
      const key = meterKey(meter);
      const span = seen.get(key);
      if (!span) seen.set(key, { meter, first: time, last: time });
      else {
        span.first = Math.min(span.first, time);
        span.last = Math.max(span.last, time);
      }
      return key;
    };
    const gathered = new Map<
      string,
      { meter: string; unit: string; register: RegisterName; readings: Reading[] }
    >();
    for (const record of minutes) {
      // The record's meter is its last telegram's: seen from its own first reading in the minute,
      // so that a meter replaced within the minute follows its predecessor's last reading.
      const own = record.series.find((s) => meterKey(s.meter) === meterKey(record.meter));
      see(record.meter, own?.readings[0]?.time ?? record.firstTime);
      for (const series of record.series) {
        let meter = "";
        for (const reading of series.readings) meter = see(series.meter, reading.time);
        const key = `${meter}\u0000${series.register}`;
        let all = gathered.get(key);
        if (!all) {
          const { register } = series;
          gathered.set(key, all = { meter, unit: series.meter.unit, register, readings: [] });
        }
        for (const reading of series.readings) {
          if (reading.time > (all.readings.at(-1)?.time ?? -Infinity)) all.readings.push(reading);
        }
      }
    }
    const ids = new Map<string, number>();
    const kinds = new Map<string, MeterIdentity>();
    for (const [key, span] of seen) {
      const id = this.#meterId(span.meter, span.first);
      this.#run(
        "UPDATE meters SET first_seen = min(first_seen, ?), last_seen = max(last_seen, ?) WHERE id = ?",
        span.first,
        span.last,
        id,
      );
      ids.set(key, id);
      kinds.set(`${span.meter.kind}\u0000${span.meter.channel}`, span.meter);
    }
    for (const { kind, channel } of kinds.values()) this.#markReplacements(kind, channel);

    let written = 0;
    const columns = ["minute", "meter", "telegrams", ...ENERGY_REGISTERS, ...POWER_COLUMNS];
    const insertMinute = this.#statement(
      `INSERT OR IGNORE INTO minutes (${columns.join(", ")}) VALUES (${
        columns.map(() => "?").join(", ")
      })`,
    );
    for (const record of minutes) {
      if (record.minute < keptFrom) continue;
      const values = ENERGY_REGISTERS.map((register) => record.registers.get(register) ?? null);
      const power = record.power.flatMap((stats) =>
        stats ? [stats.avg, stats.min, stats.max] : [null, null, null]
      );
      const meter = ids.get(meterKey(record.meter))!;
      const inserted = insertMinute.run(
        record.minute / MINUTE_MS,
        meter,
        record.telegrams,
        ...values,
        ...power,
      );
      written += Number(inserted.changes);
    }
    const usage = new Map<
      string,
      { hour: number; meter: number; register: string; amount: number }
    >();

    let skipped = 0;
    for (const { meter: key, unit, register, readings: list } of gathered.values()) {
      const meter = ids.get(key)!;
      if (register === "reading") {
        for (const reading of list.filter((r) => r.time >= keptFrom)) {
          this.#run(
            "INSERT OR IGNORE INTO mbus_readings (time, meter, value) VALUES (?, ?, ?)",
            reading.time,
            meter,
            reading.value,
          );
        }
      }
      const gapMs = register === "reading" ? MBUS_GAP_MS : ELECTRICITY_GAP_MS;
      const spread = (a: Reading, b: Reading) => {
        const rose = b.value - a.value;
        if (rose < 0 || rose > mostGrowth(unit, b.time - a.time)) {
          gaps.push({
            meter,
            register,
            start: a.time,
            end: b.time,
            amount: null,
            reason: rose < 0 ? "register fell" : "register jumped",
            from: a,
            to: b,
          });
        } else if (b.time - a.time > gapMs) {
          gaps.push({
            meter,
            register,
            start: a.time,
            end: b.time,
            amount: b.value - a.value,
            reason: "no readings",
            from: a,
            to: b,
          });
        } else {
          for (const [hour, share] of hourShares(a.time, b.time)) {
            const key = `${hour}\u0000${meter}\u0000${register}`;
            const entry = usage.get(key);
            const amount = (b.value - a.value) * share;
            if (entry) entry.amount += amount;
            else usage.set(key, { hour, meter, register, amount });
          }
        }
      };
      const chain = (points: readonly Reading[]) => {
        for (let i = 1; i < points.length; i++) spread(points[i - 1]!, points[i]!);
      };
      const state = this.#get(
        "SELECT first_time, first_value, last_time, last_value FROM series WHERE meter = ? AND register = ?",
        meter,
        register,
      );
      const first = state && { time: Number(state.first_time), value: Number(state.first_value) };
      const last = state && { time: Number(state.last_time), value: Number(state.last_value) };
      const before = first ? list.filter((r) => r.time < first.time) : [];
      const after = last ? list.filter((r) => r.time > last.time) : list;
      const within = first && last
        ? list.filter((r) => r.time > first.time && r.time < last.time)
        : [];
      const filled = this.#fillGaps(meter, register, within, chain);
      skipped += list.length - before.length - after.length - filled;
      // An older capture ends at the first reading kept: usage, or a gap its next batches split.
      if (before.length > 0) chain([...before, first!]);
      if (after.length > 0) chain(last ? [last, ...after] : after);
      const newFirst = before[0] ?? first ?? after[0];
      const newLast = after.at(-1) ?? last;
      if (newFirst && newLast) {
        this.#run(
          `INSERT OR REPLACE INTO series (meter, register, first_time, first_value, last_time, last_value)
           VALUES (?, ?, ?, ?, ?, ?)`,
          meter,
          register,
          newFirst.time,
          newFirst.value,
          newLast.time,
          newLast.value,
        );
      }
    }

    const days = new Map<
      string,
      { day: number; month: number; meter: number; register: string; amount: number }
    >();
    for (const { hour, meter, register, amount } of usage.values()) {
      this.#addUsage("usage_hour", "hour", hour, meter, register, amount);
      const day = calendar.dayKey(hour * HOUR_MS);
      const key = `${day}\u0000${meter}\u0000${register}`;
      const entry = days.get(key);
      if (entry) entry.amount += amount;
      else days.set(key, { day, month: Math.floor(day / 100), meter, register, amount });
    }
    const months = new Map<
      string,
      { month: number; meter: number; register: string; amount: number }
    >();
    for (const { day, month, meter, register, amount } of days.values()) {
      this.#addUsage("usage_day", "day", day, meter, register, amount);
      const key = `${month}\u0000${meter}\u0000${register}`;
      const entry = months.get(key);
      if (entry) entry.amount += amount;
      else months.set(key, { month, meter, register, amount });
    }
    for (const { month, meter, register, amount } of months.values()) {
      this.#addUsage("usage_month", "month", month, meter, register, amount);
    }
    for (const gap of gaps) {
      this.#run(
        `INSERT INTO gaps (meter, register, start, end, amount, reason, start_value, end_value)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
        gap.meter,
        gap.register,
        gap.start,
        gap.end,
        gap.amount,
        gap.reason,
        gap.from?.value ?? null,
        gap.to?.value ?? null,
      );
    }
    return { minutes: written, skipped };
  }

  /**
   * Readings that fall inside a gap of their register (an older capture imported after a newer
   * one, or a capture of a time the reader was down) split it: the readings at its ends are
   * chained through them, as if they had been there all along. Readings elsewhere between the
   * register's first and last are already counted.
   *
   * @returns How many readings were used.
   */
  #fillGaps(
    meter: number,
    register: RegisterName,
    readings: readonly Reading[],
    chain: (points: readonly Reading[]) => void,
  ): number {
    if (readings.length === 0) return 0;
    const gaps = this.#all(
      `SELECT id, start, start_value, end, end_value FROM gaps
       WHERE meter = ? AND register = ? AND start < ? AND end > ?
         AND start_value IS NOT NULL AND end_value IS NOT NULL
       ORDER BY start`,
      meter,
      register,
      readings.at(-1)!.time,
      readings[0]!.time,
    );
    let used = 0;
    let next = 0;
    for (const gap of gaps) {
      const from = { time: Number(gap.start), value: Number(gap.start_value) };
      const to = { time: Number(gap.end), value: Number(gap.end_value) };
      while (next < readings.length && readings[next]!.time <= from.time) next++;
      const inside: Reading[] = [];
      while (next < readings.length && readings[next]!.time < to.time) {
        inside.push(readings[next++]!);
      }
      if (inside.length === 0) continue;
      this.#run("DELETE FROM gaps WHERE id = ?", gap.id!);
      chain([from, ...inside, to]);
      used += inside.length;
    }
    return used;
  }

  #addUsage(
    table: string,
    column: string,
    period: number,
    meter: number,
    register: string,
    amount: number,
  ): void {
    this.#run(
      `INSERT INTO ${table} (${column}, meter, register, amount) VALUES (?, ?, ?, ?)
       ON CONFLICT DO UPDATE SET amount = amount + excluded.amount`,
      period,
      meter,
      register,
      amount,
    );
  }

  /** The id of a meter, added when new. */
  #meterId(meter: MeterIdentity, time: number): number {
    const found = this.#get(
      "SELECT id FROM meters WHERE kind = ? AND channel = ? AND equipment_id = ?",
      meter.kind,
      meter.channel,
      meter.equipmentId,
    );
    if (found) return Number(found.id);
    return Number(
      this.#statement(
        `INSERT INTO meters (kind, channel, equipment_id, unit, first_seen, last_seen)
         VALUES (?, ?, ?, ?, ?, ?)`,
      ).run(meter.kind, meter.channel, meter.equipmentId, meter.unit, time, time).lastInsertRowid,
    );
  }

  /**
   * Marks each change of meter in one place (kind and channel): a gap from one meter's last
   * reading to the next one's first. Worked out again from the meters' times after every batch,
   * because an import of an older capture may bring a meter in before one already kept, and
   * move its last reading later batch by batch.
   */
  #markReplacements(kind: string, channel: number): void {
    const meters = this.#all(
      "SELECT id, first_seen, last_seen FROM meters WHERE kind = ? AND channel = ? ORDER BY first_seen",
      kind,
      channel,
    );
    if (meters.length < 2) return;
    const wanted: string[] = [];
    for (let i = 1; i < meters.length; i++) {
      const [before, meter] = [meters[i - 1]!, meters[i]!];
      if (Number(before.last_seen) < Number(meter.first_seen)) {
        wanted.push(`${meter.id} ${before.last_seen} ${meter.first_seen}`);
      }
    }
    const ids = meters.map((meter) => Number(meter.id)).join(", ");
    const kept = this.#db.prepare(
      `SELECT meter, start, end FROM gaps WHERE reason = 'meter replaced' AND meter IN (${ids})
       ORDER BY start`,
    ).all().map((gap) => `${gap.meter} ${gap.start} ${gap.end}`);
    if (kept.join() === wanted.join()) return;
    this.#db.exec(`DELETE FROM gaps WHERE reason = 'meter replaced' AND meter IN (${ids})`);
    for (const gap of wanted) {
      const [meter, start, end] = gap.split(" ").map(Number);
      this.#run(
        "INSERT INTO gaps (meter, register, start, end, amount, reason) VALUES (?, NULL, ?, ?, NULL, 'meter replaced')",
        meter!,
        start!,
        end!,
      );
    }
  }

  #prune(newestMinute: number, minuteDays: number): void {
    const cutoff = newestMinute - minuteDays * 86_400_000;
    this.#run("DELETE FROM minutes WHERE minute < ?", cutoff / MINUTE_MS);
    this.#run("DELETE FROM mbus_readings WHERE time < ?", cutoff);
  }

  /** Every meter. */
  meters(): MeterRow[] {
    return this.#all("SELECT id, kind, channel, equipment_id, unit FROM meters ORDER BY id").map((
      row,
    ) => ({
      id: Number(row.id),
      kind: String(row.kind) as MeterRow["kind"],
      channel: Number(row.channel),
      equipmentId: String(row.equipment_id),
      unit: String(row.unit),
    }));
  }

  /**
   * Usage rows of hours (epoch hours `from` to `to`, exclusive) or days (`20250301` to
   * `20250331`, inclusive).
   */
  usage(table: "hour" | "day", from: number, to: number): UsageRow[] {
    const sql = table === "hour"
      ? "SELECT hour AS period, meter, register, amount FROM usage_hour WHERE hour >= ? AND hour < ?"
      : "SELECT day AS period, meter, register, amount FROM usage_day WHERE day >= ? AND day <= ?";
    return this.#all(sql, from, to).map((row) => ({
      period: Number(row.period),
      meter: Number(row.meter),
      register: String(row.register) as RegisterName,
      amount: Number(row.amount),
    }));
  }

  /** The gaps that overlap the time from `start` to `end`. */
  gaps(start: number, end: number): GapRow[] {
    return this.#all(
      "SELECT meter, register, start, end, amount, reason FROM gaps WHERE start < ? AND end > ? ORDER BY start",
      end,
      start,
    ).map((row) => ({
      meter: Number(row.meter),
      register: row.register === null ? null : String(row.register) as RegisterName,
      start: Number(row.start),
      end: Number(row.end),
      amount: row.amount === null ? null : Number(row.amount),
      reason: String(row.reason) as GapReason,
    }));
  }

  /** Minute rows from `from` to `to` (ms, inclusive), oldest first. */
  minutes(from: number, to: number): MinuteRow[] {
    const rows = this.#all(
      "SELECT * FROM minutes WHERE minute >= ? AND minute <= ? ORDER BY minute",
      Math.ceil(from / MINUTE_MS),
      Math.floor(to / MINUTE_MS),
    );
    return rows.map((row) => ({
      minute: Number(row.minute) * MINUTE_MS,
      meter: Number(row.meter),
      telegrams: Number(row.telegrams),
      registers: Object.fromEntries(
        ENERGY_REGISTERS.flatMap((register) =>
          row[register] === null ? [] : [[register, Number(row[register])]]
        ),
      ),
      power: POWER_FIELDS.map((field) => {
        const avg = row[`${field}_w_avg`];
        return avg === null
          ? undefined
          : [Number(avg), Number(row[`${field}_w_min`]), Number(row[`${field}_w_max`])];
      }),
    }));
  }

  /** M-Bus readings of meters of `kind` from `from` to `to` (ms, inclusive), oldest first. */
  mbusReadings(kind: string, from: number, to: number): (Reading & { meter: number })[] {
    return this.#all(
      `SELECT r.time, r.meter, r.value FROM mbus_readings r JOIN meters m ON m.id = r.meter
       WHERE m.kind = ? AND r.time >= ? AND r.time <= ? ORDER BY r.time`,
      kind,
      from,
      to,
    ).map((row) => ({
      time: Number(row.time),
      meter: Number(row.meter),
      value: Number(row.value),
    }));
  }

  /** The time of the oldest reading of any meter, if any. */
  oldestReading(): number | undefined {
    const row = this.#get("SELECT min(first_time) AS time FROM series");
    return row?.time === null || row?.time === undefined ? undefined : Number(row.time);
  }

  /** The time of the newest reading of the electricity meter, if any. */
  newestReading(): number | undefined {
    const row = this.#get(
      `SELECT max(s.last_time) AS time FROM series s JOIN meters m ON m.id = s.meter
       WHERE m.kind = 'electricity'`,
    );
    return row?.time === null || row?.time === undefined ? undefined : Number(row.time);
  }

  /** Closes the database (the write-ahead log is checkpointed into the file). */
  close(): void {
    if (this.#db.isOpen) this.#db.close();
  }
}

/**
 * Writes a consistent copy of a history database to `target`, while other connections go on
 * writing: SQLite's online backup copies every page in one step, inside one read transaction, to
 * a file beside the target, which is then renamed over it (a copy that fails halfway leaves an
 * earlier one intact). `VACUUM INTO` would attach a database, which Deno allows only with
 * `--allow-all`.
 *
 * @param source The database.
 * @param target The copy.
 * @returns The size of the copy in bytes.
 * @throws {Error} When the database cannot be read or the copy not written.
 */
export async function copyDatabase(source: string, target: string): Promise<number> {
  Deno.statSync(source); // a missing database is an error, never a new empty one
  const partial = `${target}.partial-${Deno.pid}`;
  const db = new DatabaseSync(source, { readOnly: true });
  try {
    db.exec("PRAGMA busy_timeout = 10000");
    await backup(db, partial, { rate: -1 });
    Deno.renameSync(partial, target);
    return Deno.statSync(target).size;
  } catch (error) {
    try {
      Deno.removeSync(partial);
    } catch {
      // Never created, or already gone: the error above is the one to report.
    }
    throw error;
  } finally {
    db.close();
  }
}
