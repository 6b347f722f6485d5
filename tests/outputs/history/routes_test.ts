import assert from "node:assert/strict";
import { type Config, parseConfig } from "../../../lib/config.ts";
import { P1Receiver } from "../../../lib/receiver.ts";
import { createService } from "../../../lib/service.ts";
import { FileSource } from "../../../lib/source/file.ts";
import { captureOf, generateStates } from "../../support/history_capture.ts";
import { startServer } from "../../support/server.ts";

/** The service over a history that has read three days of a generated meter. */
async function appWithHistory() {
  const dir = await Deno.makeTempDir({ prefix: "history-routes-" });
  const capture = `${dir}/capture.txt`;
  await Deno.writeTextFile(
    capture,
    captureOf(generateStates({
      start: Date.UTC(2025, 4, 1, 22, 0, 30),
      end: Date.UTC(2025, 4, 4, 22),
      stepMs: 60_000,
    })),
  );
  const config = parseConfig({
    args: ["--source", `file:${capture}`, "--data-dir", dir, "--price-import", "0.3"],
    env: {},
  }) as Config;
  const service = createService(config);
  await service.start();
  await service.receiver.finished;
  return {
    app: service.app,
    dir,
    async [Symbol.asyncDispose]() {
      await service.stop();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

Deno.test("GET /api/v1/usage without parameters answers the meter's month so far, by day", async () => {
  await using service = await appWithHistory();
  const answer = await (await service.app.request("/api/v1/usage")).json();
  assert.equal(answer.from, "2025-05-01");
  assert.equal(answer.to, "2025-05-04", "the meter's today: its last telegram's day");
  assert.equal(answer.steps.length, 4);
  assert.equal(answer.currency, "EUR");
  assert.deepEqual(Object.keys(answer.steps[2]), [
    "start",
    "end",
    "import",
    "export",
    "gas",
    "water",
    "heat",
    "cost",
    "gap",
  ]);
  assert.equal(answer.steps[0].import, null, "no readings on May 1st");
  assert.equal(answer.steps[0].cost, null);
  assert.equal(
    answer.steps[2].cost.import,
    Math.round(answer.steps[2].import.total * 0.3 * 1e4) / 1e4,
  );
});

Deno.test("GET /api/v1/usage refuses bad parameters with 400 and the reason", async () => {
  await using service = await appWithHistory();
  const cases: [string, RegExp][] = [
    ["step=week", /step must be one of hour, day, month, year, not "week"/],
    ["from=2025-02-30", /from must be a date like 2025-03-30.*not "2025-02-30"/],
    ["from=yesterday", /from must be a date/],
    ["to=2025-13", /to must be a date/],
    ["from=2025-05-04&to=2025-05-01", /from \(2025-05-04\) is after to \(2025-05-01\)/],
    [
      "from=2024-01-01&to=2025-01-01&step=hour",
      /a range by hour may cover at most 366 days, not 367/,
    ],
    ["from=2000-01-01&to=2025-01-01&step=day", /at most 3660 days/],
    ["from=1969-12-31&to=1970-01-02&step=year", /from must lie from 1970 to 2099/],
    ["form=2025-05-01", /unknown parameter "form": the parameters are from, to, step/],
    ["step=day&step=hour", /parameter "step" is given 2 times: give it once/],
  ];
  for (const [query, reason] of cases) {
    for (const path of ["/api/v1/usage", "/api/v1/usage.csv"]) {
      const response = await service.app.request(`${path}?${query}`);
      assert.equal(response.status, 400, `${path}?${query}`);
      const body = await response.json();
      assert.equal(body.error, "bad request");
      assert.match(body.reason, reason, query);
    }
  }
  const year = await service.app.request("/api/v1/usage?from=2024-05-01&to=2025-04-30&step=hour");
  assert.equal(year.status, 200, "366 days by hour is allowed");
  assert.equal((await year.json()).steps.length, 365 * 24);
});

Deno.test("GET /api/v1/usage.csv is a spreadsheet of the same steps", async () => {
  await using service = await appWithHistory();
  const response = await service.app.request(
    "/api/v1/usage.csv?from=2025-05&to=2025-05&step=month",
  );
  assert.equal(response.headers.get("content-type"), "text/csv; charset=utf-8");
  assert.equal(
    response.headers.get("content-disposition"),
    'attachment; filename="usage-2025-05-01-2025-05-31-month.csv"',
  );
  const json = await (await service.app.request("/api/v1/usage?from=2025-05&to=2025-05&step=month"))
    .json();
  const [header, line, end] = (await response.text()).split("\r\n");
  assert.equal(
    header,
    "start,end,import_t1_kwh,import_t2_kwh,import_kwh,export_t1_kwh,export_t2_kwh,export_kwh,gas_m3," +
      "cost_import_eur,cost_total_eur,gap",
  );
  const step = json.steps[0];
  assert.equal(
    line,
    [
      "2025-05-01T00:00:00+02:00",
      "2025-06-01T00:00:00+02:00",
      step.import.t1,
      step.import.t2,
      step.import.total,
      step.export.t1,
      step.export.t2,
      step.export.total,
      step.gas,
      step.cost.import,
      step.cost.total,
      0,
    ].join(","),
  );
  assert.equal(end, "");
});

Deno.test("GET /api/v1/history answers per minute from the database, with today's usage", async () => {
  await using service = await appWithHistory();
  assert.equal((await service.app.request("/api/v1/history?minutes=0")).status, 400);
  assert.equal((await service.app.request("/api/v1/history?minutes=2881")).status, 400);
  assert.equal((await service.app.request("/api/v1/history?minutes=5&minutes=60")).status, 400);
  const answer = await (await service.app.request("/api/v1/history?minutes=60")).json();
  assert.equal(answer.resolution, "minute");
  assert.equal(answer.points.length, 60, "one telegram a minute");
  assert.equal(answer.today.day, "2025-05-04");
  const usage = await (await service.app.request("/api/v1/usage?from=2025-05-04&to=2025-05-04"))
    .json();
  assert.equal(answer.today.importKwh, usage.total.import.total);
  assert.equal(answer.today.gasM3, usage.total.gas);
});

/** The bytes of the database and its write-ahead log on disk. */
function bytesOnDisk(database: string): number {
  return [database, `${database}-wal`].reduce((sum, file) => {
    try {
      return sum + Deno.statSync(file).size;
    } catch {
      return sum; // no write-ahead log at the moment
    }
  }, 0);
}

Deno.test("the history's status and /metrics give the database's size as written last", async () => {
  await using service = await appWithHistory();
  const status = (await (await service.app.request("/api/v1/status")).json()).history;
  assert.equal(status.pendingMinutes, 0);
  assert.ok(status.minutesWritten > 4000, `${status.minutesWritten} minutes written`);
  assert.equal(status.databaseBytes, bytesOnDisk(`${service.dir}/history.sqlite`));
  const metrics = await (await service.app.request("/metrics")).text();
  assert.match(metrics, new RegExp(`^p1_history_database_bytes ${status.databaseBytes}$`, "m"));
});

Deno.test("the history's routes answer 503 while its database is not open", async () => {
  const receiver = new P1Receiver({ source: new FileSource({ path: "/nonexistent" }) });
  const app = createService(parseConfig({ args: [], env: {} }) as Config, { receiver }).app;
  for (const path of ["/api/v1/usage", "/api/v1/usage.csv", "/api/v1/history"]) {
    const response = await app.request(path);
    assert.equal(response.status, 503, path);
    assert.deepEqual(await response.json(), {
      error: "history unavailable",
      reason: "the history database is not open",
    });
  }
});

Deno.test({
  name: "with --history off the service keeps no database and the dashboard's history is in memory",
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const dir = await Deno.makeTempDir({ prefix: "history-off-" });
  try {
    const service = await startServer(["--source", "demo", "--history", "off", "--data-dir", dir]);
    const usage = await fetch(`${service.url}/api/v1/usage`);
    const history = await fetch(`${service.url}/api/v1/history?minutes=5`);
    const status = await (await fetch(`${service.url}/api/v1/status`)).json();
    await service.stop();
    assert.equal(usage.status, 404);
    await usage.body?.cancel();
    assert.equal(history.status, 200);
    assert.equal((await history.json()).resolution, "telegram");
    assert.equal("history" in status, false);
    assert.deepEqual([...Deno.readDirSync(dir)], []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
