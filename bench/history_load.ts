/**
 * `deno task bench:history` (a run, not a `Deno.bench` file): what the energy history costs.
 *
 * 1. CPU per telegram spent on the history at 1 telegram/s: two hours of a 1-second meter, parsed
 *    beforehand, handed to the history output as the receiver hands them, each minute written as
 *    it closes (as it is live).
 * 2. The database's size after a simulated year: `p1reader import` of a generated capture of a
 *    year with one telegram a minute. The database holds one row per minute whatever the meter's
 *    rate, so a 1-second meter's year gives the same size; the capture is 60 times smaller.
 * 3. `GET /api/v1/usage` on that year: by day for the year (and a few other shapes).
 *
 * A benchmark, not a test: it prints figures and asserts nothing.
 */
import process from "node:process";
import { DatabaseSync } from "node:sqlite";
import { runImport } from "../lib/commands/import_command.ts";
import { parseTelegram } from "../lib/dsmr/parse.ts";
import { createApp } from "../lib/http/app.ts";
import { SILENT } from "../lib/log.ts";
import { MetricsRegistry } from "../lib/metrics/registry.ts";
import { receiverSnapshot } from "../lib/metrics/table.ts";
import { HistoryOutput } from "../lib/outputs/history/history_output.ts";
import type { ReceiverView } from "../lib/outputs/output.ts";
import type { ReceivedTelegram, ReceiverState } from "../lib/receiver.ts";
import { generateStates } from "../tests/support/history_capture.ts";
import { telegramText } from "../tests/support/meter_telegrams.ts";

const encoder = new TextEncoder();
const NO_PRICES = { currency: "EUR", import: {}, export: {} };
const PRICES = {
  currency: "EUR",
  import: { t1: [{ price: 0.25 }], t2: [{ price: 0.3 }] },
  export: { all: [{ price: 0.07 }] },
  gas: [{ price: 1.3 }],
  fixed: [{ price: 0.9 }],
};

/** Hands telegrams to subscribers as the receiver does (the history needs nothing else). */
class Hub {
  readonly listeners: ((received: ReceivedTelegram) => void)[] = [];
  readonly states: ((state: ReceiverState) => void)[] = [];
  view(): ReceiverView {
    return {
      latest: undefined,
      state: "connected",
      source: "bench",
      counters: {} as ReceiverView["counters"],
      staleAfterMs: 3000,
      subscribe: (listener) => {
        this.listeners.push(listener);
        return () => {};
      },
      onStateChange: (listener) => {
        this.states.push(listener);
        return () => {};
      },
    };
  }
}

/** Prints a figure (the bench's output). */
function print(line: string): void {
  // deno-lint-ignore no-console
  console.log(line);
}

function cpuMicroseconds(): number {
  const { user, system } = process.cpuUsage();
  return user + system;
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

async function cpuPerTelegram(dir: string): Promise<void> {
  const start = Date.UTC(2025, 0, 15, 8, 0, 0);
  const states = generateStates({ start, end: start + 2 * 3_600_000, stepMs: 1000 });
  const telegrams: ReceivedTelegram[] = states.map((state) => {
    const text = telegramText(state);
    return { telegram: parseTelegram(text), bytes: encoder.encode(text), receivedAt: state.time };
  });
  const hub = new Hub();
  const history = new HistoryOutput(
    { database: `${dir}/cpu.sqlite`, minuteDays: 31, prices: NO_PRICES },
    { writeSpacingMs: 0 },
  );
  await history.start({
    receiver: hub.view(),
    logger: SILENT,
    version: "bench",
    dataDir: dir,
    claimDataDir: () => Deno.mkdir(dir, { recursive: true }),
    queue: { maxRecords: 1, maxBytes: 1 },
    closing: new AbortController().signal,
  });
  const warm = 600;
  for (const received of telegrams.slice(0, warm)) hub.listeners[0]!(received);
  const cpuBefore = cpuMicroseconds();
  const wallBefore = performance.now();
  for (const received of telegrams.slice(warm)) hub.listeners[0]!(received);
  const cpu = cpuMicroseconds() - cpuBefore;
  const wall = performance.now() - wallBefore;
  const count = telegrams.length - warm;
  await history.stop();
  const perTelegram = cpu / count;
  print(
    `history at 1 telegram/s: ${perTelegram.toFixed(1)} µs CPU per telegram ` +
      `(${(wall * 1000 / count).toFixed(1)} µs wall; ${count} telegrams, ${count / 60} minute ` +
      `writes included), ${(perTelegram / 10_000).toFixed(3)} % of a core`,
  );
}

async function simulatedYear(dir: string, minuteDays: number): Promise<string> {
  const capture = `${dir}/year.txt`;
  try {
    await Deno.stat(capture);
  } catch {
    // Not written yet: the first run writes it.
    const file = await Deno.open(capture, { write: true, create: true });
    const begin = performance.now();
    const states = generateStates({
      start: Date.UTC(2024, 11, 31, 23, 0, 30),
      end: Date.UTC(2025, 11, 31, 23, 0, 0),
      stepMs: 60_000,
    });
    for (let i = 0; i < states.length; i += 10_000) {
      await file.write(encoder.encode(states.slice(i, i + 10_000).map(telegramText).join("")));
    }
    file.close();
    const size = (await Deno.stat(capture)).size;
    print(
      `generated a year of telegrams, one a minute: ${(size / 1e6).toFixed(0)} MB in ` +
        `${((performance.now() - begin) / 1000).toFixed(1)} s`,
    );
  }
  const data = `${dir}/data-${minuteDays}`;
  let report = "";
  const begin = performance.now();
  const cpuBefore = cpuMicroseconds();
  const code = await runImport(
    ["--data-dir", data, "--history-minute-days", String(minuteDays), capture],
    { stdin: new ReadableStream(), stdout: () => {}, stderr: (text) => (report += text) },
    {},
  );
  const seconds = (performance.now() - begin) / 1000;
  const cpu = (cpuMicroseconds() - cpuBefore) / 1e6;
  const size = (await Deno.stat(`${data}/history.sqlite`)).size;
  print(
    `import of the year (exit ${code}, ${seconds.toFixed(1)} s, ${cpu.toFixed(1)} s CPU): ` +
      `${report.trim()}\n  database after a year with --history-minute-days ${minuteDays}: ` +
      `${(size / 1e6).toFixed(1)} MB`,
  );
  if (minuteDays === 31) {
    // What stays forever: the pages still used once the minutes are gone (VACUUM needs ATTACH,
    // which Deno allows only with --allow-all).
    await Deno.copyFile(`${data}/history.sqlite`, `${dir}/rollups.sqlite`);
    const db = new DatabaseSync(`${dir}/rollups.sqlite`);
    db.exec("DELETE FROM minutes; DELETE FROM mbus_readings;");
    const pragma = (name: string) => Number(Object.values(db.prepare(`PRAGMA ${name}`).get()!)[0]);
    const rollups = (pragma("page_count") - pragma("freelist_count")) * pragma("page_size");
    db.close();
    print(
      `  of which a year of usage per hour, day and month (kept forever, the growth per year ` +
        `once the minutes have reached their ${minuteDays} days): ${(rollups / 1e6).toFixed(2)} MB`,
    );
  }
  return data;
}

async function usageRequests(data: string): Promise<void> {
  const history = new HistoryOutput({ database: undefined, minuteDays: 31, prices: PRICES });
  const hub = new Hub();
  await history.start({
    receiver: hub.view(),
    logger: SILENT,
    version: "bench",
    dataDir: data,
    claimDataDir: () => Deno.mkdir(data, { recursive: true }),
    queue: { maxRecords: 1, maxBytes: 1 },
    closing: new AbortController().signal,
  });
  const receiver = hub.view() as Parameters<typeof receiverSnapshot>[0] & ReceiverView;
  const app = createApp({
    receiver: { ...receiver, source: "bench", format: "auto" },
    metrics: new MetricsRegistry(() => receiverSnapshot(receiver, "bench")),
    version: "bench",
    startedAt: 0,
    outputs: [history],
  });
  for (
    const query of [
      "/api/v1/usage?from=2025-01-01&to=2025-12-31&step=day",
      "/api/v1/usage.csv?from=2025-01-01&to=2025-12-31&step=day",
      "/api/v1/usage?from=2025-01-01&to=2025-12-31&step=month",
      "/api/v1/usage?from=2025-03-01&to=2025-03-31&step=hour",
      "/api/v1/usage?from=2025-01-01&to=2025-12-31&step=hour",
      "/api/v1/history?minutes=2880",
    ]
  ) {
    const times: number[] = [];
    let bytes = 0;
    for (let i = 0; i < 30; i++) {
      const begin = performance.now();
      const response = await app.request(query);
      bytes = (await response.arrayBuffer()).byteLength;
      times.push(performance.now() - begin);
    }
    print(
      `GET ${query}: median ${percentile(times, 0.5).toFixed(1)} ms, ` +
        `p95 ${percentile(times, 0.95).toFixed(1)} ms, ${
          (bytes / 1000).toFixed(0)
        } kB (with prices)`,
    );
  }
  await history.stop();
}

const dir = await Deno.makeTempDir({ prefix: "history-bench-" });
try {
  await cpuPerTelegram(dir);
  const data = await simulatedYear(dir, 31);
  await simulatedYear(dir, 366);
  await usageRequests(data);
} finally {
  await Deno.remove(dir, { recursive: true });
}
