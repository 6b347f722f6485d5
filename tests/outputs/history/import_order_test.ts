import assert from "node:assert/strict";
import { HistoryStore } from "../../../lib/outputs/history/store.ts";
import { generateStates } from "../../support/history_capture.ts";
import { contents, importInto, telegramOf } from "../../support/history_db.ts";
import type { MeterState } from "../../support/meter_telegrams.ts";
import { runMain } from "../../support/run.ts";
import { SERVE_PERMISSIONS } from "../../support/server.ts";

// Ten days of a meter sending every minute, through the autumn DST change (25 October), a day and a
// half of downtime and a meter replacement: what a user might import from two captures.
const DOWN: [number, number] = [Date.UTC(2026, 9, 27, 10), Date.UTC(2026, 9, 28, 14)];
const REPLACED = Date.UTC(2026, 9, 29, 12);
const STATES = generateStates({
  start: Date.UTC(2026, 9, 20),
  end: Date.UTC(2026, 9, 30),
  stepMs: 60_000,
  downtime: [DOWN],
  replacement: { at: REPLACED, equipmentId: "E0000000000000002" },
});

async function databaseOf(...captures: (readonly MeterState[])[]): Promise<string[]> {
  const dir = await Deno.makeTempDir({ prefix: "history-order-" });
  try {
    const { store } = HistoryStore.open(`${dir}/history.sqlite`);
    try {
      for (const capture of captures) importInto(store, capture);
    } finally {
      store.close();
    }
    return contents(`${dir}/history.sqlite`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

function splitAt(time: number): [MeterState[], MeterState[]] {
  const cut = STATES.findIndex((state) => state.time >= time);
  return [STATES.slice(0, cut), STATES.slice(cut)];
}

Deno.test("importing the later capture first gives the same usage and gaps as importing both at once", async () => {
  const whole = await databaseOf(STATES);
  assert.ok(whole.some((row) => row.includes("no readings")), "the downtime is a gap");
  assert.ok(whole.some((row) => row.includes("meter replaced")), "the replacement is a gap");
  const cuts = {
    "in the middle of a day": Date.UTC(2026, 9, 22, 13, 17, 20),
    "in the DST change's repeated hour": Date.UTC(2026, 9, 25, 0, 30),
    "where the downtime ends": DOWN[1],
    "a minute after the downtime": DOWN[1] + 60_000,
    "at the meter replacement": REPLACED,
  };
  for (const [where, time] of Object.entries(cuts)) {
    const [older, newer] = splitAt(time);
    assert.deepEqual(await databaseOf(newer, older), whole, `later first, cut ${where}`);
    assert.deepEqual(await databaseOf(older, newer), whole, `earlier first, cut ${where}`);
  }
});

Deno.test("importing captures that share a day, and importing them again, counts every reading once", async () => {
  const whole = await databaseOf(STATES);
  const [older] = splitAt(Date.UTC(2026, 9, 26, 12));
  const [, newer] = splitAt(Date.UTC(2026, 9, 25, 6));
  assert.deepEqual(await databaseOf(newer, older), whole, "later first");
  assert.deepEqual(await databaseOf(older, newer), whole, "earlier first");
  assert.deepEqual(await databaseOf(newer, older, STATES, newer, older), whole, "again");
});

/** The database `p1reader import` makes of one capture file holding `states` in that order. */
async function importedFile(states: readonly MeterState[]): Promise<string[]> {
  const dir = await Deno.makeTempDir({ prefix: "history-order-file-" });
  try {
    await Deno.writeTextFile(`${dir}/capture.txt`, states.map(telegramOf).join(""));
    const result = await runMain(["import", "--data-dir", dir, `${dir}/capture.txt`], {
      permissions: SERVE_PERMISSIONS,
    });
    assert.equal(result.code, 0, result.stderr);
    assert.doesNotMatch(result.stderr, /out of time order/);
    return contents(`${dir}/history.sqlite`, true);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("p1reader import of one file whose captures were joined out of time order keeps every telegram", async () => {
  const ordered = await importedFile(STATES);
  const [a, rest] = splitAt(Date.UTC(2026, 9, 22, 13, 17));
  const cut = rest.findIndex((state) => state.time >= Date.UTC(2026, 9, 26, 7, 45));
  const [b, c] = [rest.slice(0, cut), rest.slice(cut)];
  // cat march.txt january.txt february.txt > all.txt, and the order where every join goes back.
  assert.deepEqual(await importedFile([...c, ...a, ...b]), ordered, "C A B");
  assert.deepEqual(await importedFile([...c, ...b, ...a]), ordered, "C B A");
});
