/**
 * The history as it fails at home, on the real service: killed with SIGKILL mid-write, started on
 * a damaged database file, writing to a full disk (a real tmpfs), copied by `p1reader backup`
 * while it writes, and backfilled by `p1reader import`.
 */
import assert from "node:assert/strict";
import { DatabaseSync } from "node:sqlite";
import { runMain } from "../../support/run.ts";
import { type RunningServer, SERVE_PERMISSIONS, startServer } from "../../support/server.ts";
import { generateStates } from "../../support/history_capture.ts";
import { type MeterState, telegramText } from "../../support/meter_telegrams.ts";

const T0 = Date.UTC(2025, 0, 10, 10, 0, 5);
const encoder = new TextEncoder();

/** Six telegrams a minute (every 10 s) for the given minutes after T0; 0.01 kWh per telegram. */
function minutesOf(first: number, last: number, equipmentId = "E0000000000000001"): MeterState[] {
  const states: MeterState[] = [];
  for (let minute = first; minute <= last; minute++) {
    for (let k = 0; k < 6; k++) {
      const n = minute * 6 + k;
      states.push({
        time: T0 + minute * 60_000 + k * 10_000,
        equipmentId,
        importT1: Math.round((1000 + n * 0.01) * 1000) / 1000,
        importT2: 2000,
        exportT1: 10,
        exportT2: 20,
        tariff: 1,
        powerImport: 3.6,
        powerExport: 0,
      });
    }
  }
  return states;
}

/** A TCP peer the service reads telegrams from, as from ser2net. */
class Meter {
  readonly #listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  #conn: Deno.Conn | undefined;

  get source(): string {
    return `tcp://127.0.0.1:${this.#listener.addr.port}`;
  }

  /** Waits for the service to connect (again), then sends the telegrams. */
  async send(states: MeterState[]): Promise<void> {
    this.#conn ??= await this.#listener.accept();
    await this.#conn.write(encoder.encode(states.map(telegramText).join("")));
  }

  /** Forgets the connection of a service that went away. */
  disconnect(): void {
    try {
      this.#conn?.close();
    } catch {
      // The service closed it first.
    }
    this.#conn = undefined;
  }

  close(): void {
    this.disconnect();
    this.#listener.close();
  }
}

/** The parts of `/api/v1/status` these tests read. */
interface Status {
  state: string;
  history: {
    telegrams: number;
    minutesWritten: number;
    pendingMinutes: number;
    diskFullErrors: number;
    movedAside: string[];
    lastError: unknown;
  };
}

async function status(service: RunningServer): Promise<Status> {
  return await (await fetch(`${service.url}/api/v1/status`)).json();
}

/** Polls the status until `ready` says yes (the service's own counters, never a fixed sleep). */
async function until(
  service: RunningServer,
  ready: (status: Status) => boolean,
  what: string,
) {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const current = await status(service);
    if (ready(current)) return current;
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}: ${JSON.stringify(current)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

async function json(url: string) {
  const response = await fetch(url);
  assert.equal(response.status, 200, url);
  return await response.json();
}

function silentSource(): string {
  const refused = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  refused.close();
  return `tcp://127.0.0.1:${refused.addr.port}`;
}

const RESOURCES = { sanitizeResources: false, sanitizeOps: false };

Deno.test({
  name: "a service killed with SIGKILL loses only the minute it was gathering, and no usage",
  ...RESOURCES,
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "history-kill-" });
  const meter = new Meter();
  const args = ["--source", meter.source, "--data-dir", dir];
  try {
    let service = await startServer(args);
    await meter.send(minutesOf(0, 9));
    await until(
      service,
      (s) => s.history.minutesWritten === 9 && s.history.pendingMinutes === 0,
      "9 minutes written",
    );
    service.child.kill("SIGKILL");
    assert.equal((await service.stop()).signal, "SIGKILL");
    meter.disconnect();

    service = await startServer(args);
    await meter.send(minutesOf(12, 14));
    await until(service, (s) => s.history.telegrams === 18, "the telegrams after the restart");
    assert.equal((await service.stop()).code, 0);
    meter.disconnect();

    service = await startServer(["--source", silentSource(), "--data-dir", dir]);
    const history = await json(`${service.url}/api/v1/history?minutes=60`);
    const usage = await json(`${service.url}/api/v1/usage?from=2025-01-10&to=2025-01-10`);
    await service.stop();
    const minutes = history.points.map((p: { time: number }) => (p.time - (T0 - 5000)) / 60_000);
    assert.deepEqual(minutes, [0, 1, 2, 3, 4, 5, 6, 7, 8, 12, 13, 14], "minute 9 was lost");
    const all = [...minutesOf(0, 9), ...minutesOf(12, 14)];
    assert.equal(
      usage.total.import.t1,
      Math.round((all.at(-1)!.importT1 - all[0]!.importT1) * 1000) / 1000,
    );
  } finally {
    meter.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "a telegram whose meter clock jumped to 2069 is left out of the history",
  ...RESOURCES,
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "history-clock-" });
  const meter = new Meter();
  try {
    const service = await startServer(["--source", meter.source, "--data-dir", dir]);
    const states = minutesOf(0, 3);
    states[8] = { ...states[8]!, time: Date.UTC(2069, 11, 31, 22, 59, 59), importT1: 1000.08 };
    await meter.send(states);
    const current = await until(service, (s) => s.history.minutesWritten === 3, "3 minutes");
    const history = await json(`${service.url}/api/v1/history?minutes=60`);
    const usage = await json(`${service.url}/api/v1/usage?from=2025-01-10&to=2025-01-10`);
    const counters = (await json(`${service.url}/api/v1/status`)).counters;
    await service.stop();
    assert.equal(current.history.telegrams, 23, "every telegram but the one stamped 2069");
    assert.equal(counters.clockJumps, 1);
    assert.deepEqual(
      history.points.map((p: { time: number }) => (p.time - (T0 - 5000)) / 60_000),
      [0, 1, 2],
    );
    assert.equal(usage.total.import.t1, 0.17, "minutes 0 to 2: 18 telegrams of 0.01 kWh");
  } finally {
    meter.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "a damaged database file is moved aside, kept and logged, and a new one started",
  ...RESOURCES,
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "history-corrupt-" });
  const meter = new Meter();
  try {
    let service = await startServer(["--source", meter.source, "--data-dir", dir]);
    await meter.send(minutesOf(0, 200));
    await until(
      service,
      (s) => s.history.minutesWritten === 200 && s.history.pendingMinutes === 0,
      "200 minutes",
    );
    await service.stop();
    meter.disconnect();
    // Overwrite the middle of the file, as a failing SD card does.
    const path = `${dir}/history.sqlite`;
    const bytes = await Deno.readFile(path);
    bytes.fill(0xa5, bytes.length >> 1, (bytes.length >> 1) + 8192);
    await Deno.writeFile(path, bytes);

    service = await startServer(["--source", meter.source, "--data-dir", dir]);
    await meter.send(minutesOf(300, 305));
    const current = await until(
      service,
      (s) => s.history.minutesWritten === 5,
      "writes to the new file",
    );
    const usage = await json(`${service.url}/api/v1/usage?from=2025-01-10&to=2025-01-10`);
    const log = service.log();
    await service.stop();
    const [aside] = current.history.movedAside;
    assert.match(aside!, /history\.sqlite\.corrupt-\d{8}T\d{6}Z$/);
    assert.deepEqual(await Deno.readFile(aside!), bytes, "the damaged file is kept as it was");
    assert.match(log, /ERROR.*history database was damaged: moved it aside.*movedTo=/);
    assert.equal(usage.total.import.t1, 0.29, "the new file counts from its first reading");
  } finally {
    meter.close();
    await Deno.remove(dir, { recursive: true });
  }
});

/** Mounts a small tmpfs (as root), or says why not. */
async function tmpfs(size: string): Promise<{ dir: string; unmount(): Promise<void> } | string> {
  if (Deno.uid() !== 0) return "not root: cannot mount a tmpfs for a real full disk";
  const dir = await Deno.makeTempDir({ prefix: "history-full-" });
  const mount = await new Deno.Command("mount", {
    args: ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir],
    stderr: "piped",
  }).output();
  if (!mount.success) {
    await Deno.remove(dir);
    return `mount refused: ${new TextDecoder().decode(mount.stderr).trim()}`;
  }
  return {
    dir,
    async unmount() {
      await new Deno.Command("umount", { args: [dir] }).output();
      await Deno.remove(dir);
    },
  };
}

Deno.test({
  name:
    "a full disk is counted in status and metrics, the service goes on, and nothing is lost once there is room",
  ...RESOURCES,
}, async (t) => {
  const disk = await tmpfs("2m");
  if (typeof disk === "string") {
    await t.step({ name: `skipped: ${disk}`, ignore: true, fn: () => {} });
    return;
  }
  const meter = new Meter();
  const filler = `${disk.dir}/filler`;
  try {
    const service = await startServer(["--source", meter.source, "--data-dir", disk.dir]);
    await meter.send(minutesOf(0, 3));
    await until(service, (s) => s.history.minutesWritten === 3, "the first minutes");
    // Fill every byte left.
    const file = await Deno.open(filler, { write: true, create: true });
    const block = new Uint8Array(4096);
    try {
      for (;;) await file.write(block);
    } catch (error) {
      assert.match((error as Error).message, /No space left/);
    } finally {
      file.close();
    }
    await meter.send(minutesOf(4, 30));
    const full = await until(
      service,
      (s) => s.history.diskFullErrors > 0 && s.history.telegrams === 6 * 31,
      "a disk-full error",
    );
    assert.ok(full.history.pendingMinutes > 0);
    assert.equal(full.state, "connected", "the meter is still read");
    const metrics = await (await fetch(`${service.url}/metrics`)).text();
    assert.match(metrics, /p1_history_write_errors_total\{reason="disk_full"\} [1-9]/);
    assert.match(metrics, /p1_history_pending_records [1-9]/);
    assert.equal((await fetch(`${service.url}/healthz`)).status, 200);

    await Deno.remove(filler);
    await meter.send(minutesOf(31, 32));
    const recovered = await until(
      service,
      (s) => s.history.pendingMinutes === 0 && s.history.minutesWritten === 32,
      "the writes after the disk has room",
    );
    assert.equal(recovered.history.lastError, null);
    const usage = await json(`${service.url}/api/v1/usage?from=2025-01-10&to=2025-01-10`);
    await service.stop();
    // Minutes 0 to 31 are written (32 is still being gathered): 32 * 6 telegrams of 0.01 kWh,
    // from the first reading to minute 31's last.
    assert.equal(usage.total.import.t1, 1.91);
  } finally {
    meter.close();
    await disk.unmount();
  }
});

/**
 * The invariants of a consistent copy: every register's hourly usage and gaps add up to its span,
 * and the daily and monthly rollups to the hourly ones.
 */
function assertConsistent(path: string): number {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    assert.equal(db.prepare("PRAGMA integrity_check").get()?.integrity_check, "ok");
    const rows = db.prepare(
      `SELECT s.meter, s.register, s.last_value - s.first_value AS span,
         (SELECT coalesce(sum(amount), 0) FROM usage_hour u WHERE u.meter = s.meter AND u.register = s.register) +
         (SELECT coalesce(sum(amount), 0) FROM gaps g WHERE g.meter = s.meter AND g.register = s.register) AS counted
       FROM series s`,
    ).all();
    for (const row of rows) {
      assert.ok(Math.abs(Number(row.span) - Number(row.counted)) < 1e-6, JSON.stringify(row));
    }
    // Each month's rollup is its days', and the days' together are the hours'.
    const rollups = db.prepare(
      `SELECT m.amount AS month,
         (SELECT sum(amount) FROM usage_day d
          WHERE d.meter = m.meter AND d.register = m.register AND d.day / 100 = m.month) AS days
       FROM usage_month m
       UNION ALL
       SELECT (SELECT coalesce(sum(amount), 0) FROM usage_hour), (SELECT coalesce(sum(amount), 0) FROM usage_day)`,
    ).all();
    for (const row of rollups) {
      assert.ok(Math.abs(Number(row.month) - Number(row.days)) < 1e-6, JSON.stringify(row));
    }
    return Number(db.prepare("SELECT count(*) AS n FROM minutes").get()?.n);
  } finally {
    db.close();
  }
}

Deno.test({
  name: "p1reader backup writes a consistent copy while the service writes",
  ...RESOURCES,
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "history-backup-" });
  const meter = new Meter();
  let sending = true;
  try {
    const service = await startServer(["--source", meter.source, "--data-dir", `${dir}/data`]);
    await meter.send(minutesOf(0, 0));
    const feeding = (async () => {
      for (let minute = 1; sending; minute++) {
        await meter.send(minutesOf(minute, minute));
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    })();
    let copied = 0;
    for (let i = 0; i < 3; i++) {
      const written = (await until(
        service,
        (s) => s.history.minutesWritten > copied,
        "minutes the last copy does not have",
      )).history.minutesWritten;
      const copy = `${dir}/copy-${i}.sqlite`;
      const result = await runMain(["backup", "--data-dir", `${dir}/data`, copy], {
        permissions: SERVE_PERMISSIONS,
      });
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stderr, /copied .*history\.sqlite to .*copy-\d\.sqlite \(\d+ bytes\)/);
      copied = assertConsistent(copy);
      assert.ok(
        copied >= written,
        `copy ${i} has ${copied} minutes; ${written} were written before`,
      );
    }
    sending = false;
    await feeding;
    await service.stop();

    const missing = await runMain(["backup", "--data-dir", `${dir}/nowhere`, `${dir}/x.sqlite`], {
      permissions: SERVE_PERMISSIONS,
    });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /cannot copy .*nowhere\/history\.sqlite/);
  } finally {
    sending = false;
    meter.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "p1reader import backfills from captures in any order and never counts a reading twice",
  ...RESOURCES,
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "history-import-" });
  const older = `${dir}/older.txt`;
  const newer = `${dir}/newer.txt`;
  await Deno.writeTextFile(older, minutesOf(0, 59).map(telegramText).join(""));
  await Deno.writeTextFile(newer, minutesOf(60, 119).map(telegramText).join(""));
  const run = (file: string) =>
    runMain(["import", "--data-dir", `${dir}/data`, file], { permissions: SERVE_PERMISSIONS });
  try {
    const first = await run(newer);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stderr, /^360 telegrams loaded into .*history\.sqlite \(60 new minutes;/);
    assert.equal((await run(older)).code, 0);
    const again = await run(newer);
    assert.match(again.stderr, /\(0 new minutes;/);

    const service = await startServer(["--source", silentSource(), "--data-dir", `${dir}/data`]);
    const usage = await json(`${service.url}/api/v1/usage?from=2025-01-10&to=2025-01-10&step=hour`);
    await service.stop();
    const hours = usage.steps.filter((s: { import: unknown }) => s.import !== null)
      .map((s: { start: string; import: { t1: number } }) => [s.start.slice(11, 16), s.import.t1]);
    // 0.01 kWh per 10 s from 11:00:05 to 12:59:55 local: 359 steps before noon, 360 after.
    assert.deepEqual(hours, [["11:00", 3.595], ["12:00", 3.595]]);
    assert.equal(usage.total.import.t1, 7.19);

    const bad = await runMain(["import", "--data-dir", `${dir}/data`, `${dir}/none.txt`], {
      permissions: SERVE_PERMISSIONS,
    });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /cannot read ".*none\.txt"/);
    const typo = await runMain(["import", "--data-dri", dir, older], {
      permissions: SERVE_PERMISSIONS,
    });
    assert.equal(typo.code, 2);
    assert.match(typo.stderr, /Unknown option '--data-dri'.*did you mean --data-dir/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name:
    "p1reader import takes a capture thinned to one telegram every 5 minutes whole, but no time ahead of now",
  ...RESOURCES,
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "history-import-" });
  const states = generateStates({
    start: Date.UTC(2025, 5, 1, 22, 0, 30),
    end: Date.UTC(2025, 5, 2, 22, 0),
    stepMs: 300_000,
  });
  const future = { ...states.at(-1)!, time: Date.now() + 86_400_000, importT1: 99_999 };
  await Deno.writeTextFile(`${dir}/thinned.txt`, [...states, future].map(telegramText).join(""));
  try {
    const result = await runMain(
      ["import", "--data-dir", `${dir}/data`, `${dir}/thinned.txt`],
      { permissions: SERVE_PERMISSIONS },
    );
    assert.equal(result.code, 0, result.stderr);
    assert.match(
      result.stderr,
      /^289 telegrams loaded .*\(288 new minutes;.*; 1 ahead of now\)/,
    );
    const service = await startServer(["--source", silentSource(), "--data-dir", `${dir}/data`]);
    const usage = await json(`${service.url}/api/v1/usage?from=2025-06-02&to=2025-06-02`);
    await service.stop();
    const [first, last] = [states[0]!, states.at(-1)!];
    const round = (value: number) => Math.round(value * 1000) / 1000;
    assert.equal(
      usage.total.import.total,
      round(last.importT1 + last.importT2 - first.importT1 - first.importT2),
    );
    assert.equal(usage.total.gas, round(last.gas!.m3 - first.gas!.m3));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name: "p1reader import onto a full disk stops at the first failed write, with exit status 1",
  ...RESOURCES,
}, async (t) => {
  const disk = await tmpfs("1m");
  if (typeof disk === "string") {
    await t.step({ name: `skipped: ${disk}`, ignore: true, fn: () => {} });
    return;
  }
  const dir = await Deno.makeTempDir({ prefix: "history-import-full-" });
  // Twenty days of a telegram a minute: far more than 1 MB of history and its write-ahead log.
  const states = generateStates({
    start: Date.UTC(2025, 0, 1),
    end: Date.UTC(2025, 0, 21),
    stepMs: 60_000,
  });
  await Deno.writeTextFile(`${dir}/capture.txt`, states.map(telegramText).join(""));
  try {
    const result = await runMain(["import", "--data-dir", disk.dir, `${dir}/capture.txt`], {
      permissions: SERVE_PERMISSIONS,
    });
    assert.equal(result.code, 1, result.stderr);
    const stopped = result.stderr.match(
      /^p1reader import: stopped: cannot write to .*history\.sqlite: .*disk is full; (\d+) telegrams read, (\d+) new minutes written before it\n.*import the capture again/s,
    );
    assert.ok(stopped, result.stderr);
    assert.ok(Number(stopped[1]) < states.length / 2, "it stopped, not read on to the end");
    assert.doesNotMatch(result.stderr, /retrying|telegrams loaded/);
  } finally {
    await disk.unmount();
    await Deno.remove(dir, { recursive: true });
  }
});
