/**
 * A database written by the first schema, with a gap the service left while it was down, opened by
 * this reader and then given the readings of that time by `p1reader import`.
 */
import assert from "node:assert/strict";
import { DatabaseSync, type SQLInputValue } from "node:sqlite";
import { HistoryStore } from "../../../lib/outputs/history/store.ts";
import { ENERGY_REGISTERS, POWER_FIELDS } from "../../../lib/outputs/history/readings.ts";
import { generateStates } from "../../support/history_capture.ts";
import { contents, importInto } from "../../support/history_db.ts";

/**
 * Schema 1, as `lib/outputs/history/store.ts` created it before version 2 (`git show
 * 487b6a2^:lib/outputs/history/store.ts`): the gaps have no readings at their ends.
 */
const SCHEMA_1 = `
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
  ${
  POWER_FIELDS.flatMap((field) => ["avg", "min", "max"].map((stat) => `${field}_w_${stat} INTEGER`))
    .join(", ")
},
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
  reason TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS gaps_by_start ON gaps (start);
PRAGMA application_id = ${0x50315248};
PRAGMA user_version = 1;
`;

/** Copies what a version-1 reader would have written: every row of `from` that schema 1 holds. */
function writeSchema1(from: string, to: string): void {
  const source = new DatabaseSync(from, { readOnly: true });
  const target = new DatabaseSync(to);
  try {
    target.exec(`BEGIN; ${SCHEMA_1}`);
    const tables = target.prepare("SELECT name FROM sqlite_schema WHERE type = 'table'").all();
    for (const { name } of tables) {
      const columns = target.prepare(`PRAGMA table_info(${name})`).all().map((c) => c.name);
      const insert = target.prepare(
        `INSERT INTO ${name} (${columns.join(", ")}) VALUES (${columns.map(() => "?").join(", ")})`,
      );
      for (const row of source.prepare(`SELECT ${columns.join(", ")} FROM ${name}`).all()) {
        insert.run(...columns.map((column) => row[String(column)] as SQLInputValue));
      }
    }
    target.exec("COMMIT");
  } finally {
    source.close();
    target.close();
  }
}

// Two days of a meter (and its gas meter) sending every minute; the service was down for three
// hours, and another logger kept those telegrams.
const STATES = generateStates({
  start: Date.UTC(2025, 2, 10),
  end: Date.UTC(2025, 2, 12),
  stepMs: 60_000,
});
const DOWN = [Date.UTC(2025, 2, 10, 15, 0, 30), Date.UTC(2025, 2, 10, 18)];
const READ = STATES.filter((state) => state.time < DOWN[0]! || state.time >= DOWN[1]!);
const LOGGED = STATES.filter((state) => state.time >= DOWN[0]! && state.time < DOWN[1]!);

/** A database at `dir/name` that imported the captures, one after another. */
function databaseOf(
  dir: string,
  name: string,
  ...captures: (typeof STATES)[]
): string {
  const path = `${dir}/${name}`;
  const { store } = HistoryStore.open(path);
  try {
    for (const capture of captures) importInto(store, capture);
  } finally {
    store.close();
  }
  return path;
}

/** Runs SQL on a database file. */
function exec(path: string, sql: string): void {
  const db = new DatabaseSync(path);
  try {
    db.exec(sql);
  } finally {
    db.close();
  }
}

/**
 * What the reader before this one made of a schema 1 file when it opened it: schema 2, with the
 * new columns of the gaps left empty.
 */
const UPGRADED_EMPTY = `
ALTER TABLE gaps ADD COLUMN start_value REAL;
ALTER TABLE gaps ADD COLUMN end_value REAL;
PRAGMA user_version = 2;
`;

Deno.test("a schema 1 database's gap is split by the readings an import brings into it, as if they had always been there", async () => {
  const dir = await Deno.makeTempDir({ prefix: "history-schema-1-" });
  try {
    const whole = contents(databaseOf(dir, "whole.sqlite", STATES));
    const service = databaseOf(dir, "service.sqlite", READ);
    for (const upgraded of ["", UPGRADED_EMPTY]) {
      const v1 = `${dir}/v1${upgraded ? "-upgraded" : ""}.sqlite`;
      writeSchema1(service, v1);
      if (upgraded) exec(v1, upgraded);
      assert.equal(
        contents(v1).filter((row) => row.includes("no readings")).length,
        5,
        "the downtime is a gap of each register: 4 of electricity, the gas meter's",
      );
      databaseOf(dir, v1.slice(dir.length + 1), LOGGED); // opened by this reader, then the import
      assert.deepEqual(contents(v1), whole, upgraded ? "upgraded by the reader before" : "v1");
      // The usage of the day is the registers' differences.
      const db = new DatabaseSync(v1, { readOnly: true });
      try {
        const day = (register: string) =>
          Number(
            db.prepare("SELECT amount FROM usage_day WHERE day = 20250310 AND register = ?")
              .get(register)?.amount,
          );
        const first = STATES[0]!;
        const last = STATES.find((state) => state.time === Date.UTC(2025, 2, 10, 23))!;
        for (const key of ["importT1", "importT2", "exportT1", "exportT2"] as const) {
          const register = `${key.slice(0, 6)}_t${key.at(-1)}`;
          assert.ok(Math.abs(day(register) - (last[key] - first[key])) < 1e-9, register);
        }
      } finally {
        db.close();
      }
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("a schema 1 gap whose end readings are gone is never split: its usage stays whole, never zero", async () => {
  const dir = await Deno.makeTempDir({ prefix: "history-schema-1-" });
  try {
    const v1 = `${dir}/v1.sqlite`;
    writeSchema1(databaseOf(dir, "service.sqlite", READ), v1);
    // Minute rows and M-Bus readings older than --history-minute-days are pruned.
    exec(v1, "DELETE FROM minutes; DELETE FROM mbus_readings");
    const before = contents(v1);
    databaseOf(dir, "v1.sqlite", LOGGED);
    assert.deepEqual(contents(v1), before, "the readings inside the gap are left out");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
