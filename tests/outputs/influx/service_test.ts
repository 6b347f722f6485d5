import assert from "node:assert/strict";
import { isDeepStrictEqual } from "node:util";
import { havePromtool, promtoolCheck } from "../../support/service.ts";
import { type RunningServer, startServer } from "../../support/server.ts";
import {
  haveTimeSeriesDbs,
  type Influxd,
  startInfluxd,
  startVictoriaMetrics,
  type VictoriaMetrics,
} from "../../support/timeseries_db.ts";
import {
  captureOf,
  exportedSamples,
  type InfluxCapture,
  influxRows,
  victoriaSamples,
} from "./influx_support.ts";

const ignore = !haveTimeSeriesDbs();
let influxd: Influxd;
let victoria: VictoriaMetrics;
let dir: string;
let capture: InfluxCapture;

async function status(server: RunningServer) {
  return await (await fetch(`${server.url}/api/v1/status`)).json();
}

/** Waits until the service's InfluxDB output reports what `done` looks for. */
async function waitForInflux(
  server: RunningServer,
  done: (influx: Record<string, unknown>) => boolean,
  what: string,
  timeoutMs = 30_000,
): Promise<Record<string, unknown>> {
  let influx: Record<string, unknown> = {};
  const deadline = Date.now() + timeoutMs;
  while (!done(influx)) {
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}: ${JSON.stringify(influx)}\n${server.log()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
    influx = (await status(server)).influx ?? {};
  }
  return influx;
}

/** The service replaying the capture, with these options. */
function replay(options: string[]): Promise<RunningServer> {
  return startServer(["--source", `file:${capture.path}`, "--format", "auto", ...options]);
}

function v1Flags(db: string, dataDir: string, password = influxd.password): string[] {
  return [
    "--influx-url",
    influxd.url,
    "--influx-db",
    db,
    "--influx-username",
    influxd.user,
    "--influx-password",
    password,
    "--data-dir",
    dataDir,
  ];
}

Deno.test({
  name: "real databases and a capture are made once for this file",
  ignore,
  async fn() {
    dir = await Deno.makeTempDir({ prefix: "p1-influx-service-" });
    [influxd, victoria, capture] = await Promise.all([
      startInfluxd({ databases: ["replay", "outage", "restart", "inflight", "refused"] }),
      startVictoriaMetrics(),
      captureOf(dir),
    ]);
    // The capture holds every kind of point.
    const measurements = new Set([...capture.rows.values()].map((row) => row.measurement));
    for (
      const kind of [
        "electricity",
        "electricity_phase",
        "gas",
        "water",
        "heat",
        "electricity_mbus",
        "power_failure",
        "demand_peak",
      ]
    ) {
      assert.ok(measurements.has(kind), kind);
    }
  },
});

Deno.test({
  name: "every value of a replayed capture arrives in InfluxDB 1.6 with its time, tags and units",
  ignore,
  async fn() {
    const server = await replay([
      ...v1Flags("replay", `${dir}/replay`),
    ]);
    try {
      const expected = [...capture.rows.values()].sort(byKey);
      let stored: unknown[] = [];
      await waitUntil(async () => {
        stored = [...(await influxRows(influxd, "replay")).values()].sort(byKey);
        return isDeepStrictEqual(stored, expected);
      }, "every point in InfluxDB");
      assert.deepEqual(stored, expected);
      const influx = await waitForInflux(server, (s) => s.state === "idle", "the output to idle");
      assert.equal(influx.state, "idle");
      assert.equal(influx.api, "v1");
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      assert.match(metrics, /^p1_influx_writes_total\{result="written"\} [1-9]\d*$/m);
      assert.match(metrics, /^p1_influx_queued_telegrams 0$/m);
      assert.match(
        metrics,
        new RegExp(`^p1_influx_points_written_total ${influx.pointsWritten}$`, "m"),
      );
      if (havePromtool()) {
        const { code, output } = await promtoolCheck(metrics);
        assert.equal(code, 0, output);
      }
      // The password is in no log line and no status.
      const everything = server.log() + JSON.stringify(await status(server));
      assert.ok(!everything.includes(influxd.password));
    } finally {
      await server.stop();
    }
  },
});

Deno.test({
  name: "every value arrives in VictoriaMetrics through the 1.x and the 2.x API",
  ignore,
  async fn() {
    const token = "victoria-token-not-to-be-printed";
    const runs = [
      { flags: ["--influx-db", "p1"], labels: { db: "p1" } },
      {
        flags: ["--influx-org", "home", "--influx-bucket", "p1", "--influx-token", token],
        labels: {},
      },
    ];
    for (const [i, run] of runs.entries()) {
      const server = await replay([
        "--influx-url",
        victoria.url,
        ...run.flags,
        "--data-dir",
        `${dir}/victoria-${i}`,
      ]);
      try {
        const expected = victoriaSamples(capture.points, run.labels);
        // VictoriaMetrics keeps numbers only: a string field becomes a series of zeros.
        const selector = `{__name__!~".*_text_(message|code)", db="${run.labels.db ?? ""}"}`;
        let exported = new Set<string>();
        await waitUntil(async () => {
          exported = exportedSamples(await victoria.exportSeries(selector));
          return [...expected].every((sample) => exported.has(sample));
        }, `every sample through API ${i + 1}`);
        assert.deepEqual([...exported].sort(), [...expected].sort());
        const influx = (await status(server)).influx;
        assert.equal(influx.api, `v${i + 1}`);
        assert.ok(!(server.log() + JSON.stringify(influx)).includes(token));
      } finally {
        await server.stop();
      }
    }
  },
});

Deno.test({
  name: "the Grafana queries of docs/influxdb.md answer on the written data",
  ignore,
  async fn() {
    const page = await Deno.readTextFile(new URL("../../../docs/influxdb.md", import.meta.url));
    const block = (lang: string) =>
      new RegExp("```" + lang + "\\n([\\s\\S]*?)```").exec(page)![1]!.split("\n\n").map((q) =>
        q.trim()
      );
    for (const query of block("sql")) {
      // The demo meter's half minute in the capture, as Grafana would ask for it.
      const q = query
        .replaceAll(
          "$timeFilter",
          "time >= '2024-03-01T11:00:00Z' AND time < '2024-03-02T00:00:00Z'",
        )
        .replaceAll("$__interval", "1m");
      const rows = await influxd.select(q, "replay");
      assert.ok(rows.length > 0, q);
    }
    const demoEnd = Date.UTC(2024, 2, 1, 12, 0, 30) / 1000;
    for (const query of block("promql")[0]!.split("\n")) {
      const answer = await (await fetch(`${victoria.url}/api/v1/query`, {
        method: "POST",
        body: new URLSearchParams({ query: query.replace("[1h]", "[1d]"), time: String(demoEnd) }),
      })).json();
      assert.equal(answer.status, "success", query);
      assert.ok(answer.data.result.length > 0, query);
    }
  },
});

Deno.test({
  name: "InfluxDB stopped and started again loses nothing; the reader retries meanwhile",
  ignore,
  async fn() {
    await influxd.stop();
    const server = await replay([
      ...v1Flags("outage", `${dir}/outage`),
    ]);
    try {
      const waiting = await waitForInflux(
        server,
        (s) => (s.writes as { retry: number } | undefined)?.retry! >= 3,
        "three retries",
      );
      assert.equal(waiting.state, "retrying");
      assert.ok((waiting.queueLength as number) > 0);
      assert.match(
        server.log(),
        /InfluxDB write failed .*retrying with backoff, points stay queued/,
      );
      await waitForInflux(
        server,
        (s) => s.queueLength === capture.telegrams,
        "every telegram queued",
      );
      await influxd.start();
      await waitUntil(
        async () =>
          isDeepStrictEqual(
            [...(await influxRows(influxd, "outage")).values()].sort(byKey),
            [...capture.rows.values()].sort(byKey),
          ),
        "the queued points after the outage",
      );
      assert.deepEqual(
        [...(await influxRows(influxd, "outage")).values()].sort(byKey),
        [...capture.rows.values()].sort(byKey),
      );
      await waitForInflux(
        server,
        (s) => s.queueLength === 0 && s.state === "idle",
        "an empty queue, counted",
      );
      // One write takes the whole backlog: the line says how much it was.
      assert.match(
        server.log(),
        new RegExp(
          `InfluxDB accepts points again: ${capture.telegrams} queued telegram\\(s\\) delivered, 0 still queued`,
        ),
      );
    } finally {
      await server.stop();
      await influxd.start(); // up again unless the test failed early
    }
  },
});

Deno.test({
  name: "a reader killed with points queued writes each of them once after a restart",
  ignore,
  async fn() {
    await influxd.stop();
    const flags = v1Flags("restart", `${dir}/restart`);
    const first = await replay([
      ...flags,
    ]);
    const queued = await waitForInflux(
      first,
      (s) => s.queueLength === capture.telegrams,
      "every telegram queued",
    );
    first.child.kill("SIGKILL");
    await first.stop();
    await influxd.start();
    const before = await influxd.pointsWritten();
    await Deno.writeFile(`${dir}/empty.txt`, new Uint8Array());
    const second = await startServer(["--source", `file:${dir}/empty.txt`, ...flags]);
    try {
      const done = await waitForInflux(
        second,
        (s) => s.queueLength === 0 && s.state === "idle",
        "the queue to empty, counted",
      );
      assert.match(
        second.log(),
        new RegExp(`"queued":${queued.queueLength}|queued=${queued.queueLength}`),
      );
      assert.deepEqual(
        [...(await influxRows(influxd, "restart")).values()].sort(byKey),
        [...capture.rows.values()].sort(byKey),
      );
      // One batch, sent once: the database counted exactly the points the reader sent.
      assert.deepEqual(done.writes, { written: 1, refused: 0, paused: 0, retry: 0 });
      assert.equal((await influxd.pointsWritten()) - before, done.pointsWritten);
    } finally {
      await second.stop();
    }
  },
});

Deno.test({
  name:
    "a reader killed while a write is in flight sends that batch again after a restart, and no other",
  ignore,
  async fn() {
    // In front of influxd: passes writes on, but from `hold` on withholds the answer to the next one,
    // so that the reader is killed with that write in flight (stored, never acknowledged).
    let hold = false;
    let killed = false;
    const held: string[] = [];
    const after: string[] = [];
    let acked = 0;
    let answer = (_: Response) => {};
    const proxy = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (request) => {
      const url = new URL(request.url);
      const body = await request.text();
      const upstream = await fetch(`${influxd.url}${url.pathname}${url.search}`, {
        method: request.method,
        headers: request.headers,
        body: request.method === "POST" ? body : null,
      });
      const bytes = await upstream.arrayBuffer();
      const reply = new Response(upstream.status === 204 ? null : bytes, upstream);
      if (url.pathname !== "/write") return reply;
      const lines = body.split("\n").filter((line) => line !== "");
      if (killed) after.push(...lines);
      else if (hold && held.length === 0) {
        held.push(...lines);
        return new Promise<Response>((resolve) => answer = resolve);
      } else acked++;
      return reply;
    });
    const flags = v1Flags("inflight", `${dir}/inflight`).map((flag) =>
      flag === influxd.url ? `http://127.0.0.1:${proxy.addr.port}` : flag
    );
    const first = await replay([...flags, "--replay-interval", "0.02"]);
    try {
      await waitUntil(() => Promise.resolve(acked >= 2), "two writes answered");
      hold = true;
      await waitUntil(() => Promise.resolve(held.length > 0), "a write in flight");
      first.child.kill("SIGKILL");
      await first.stop();
      killed = true;
      answer(new Response(null, { status: 204 })); // to no one: the reader is gone
    } finally {
      await first.stop();
    }
    await Deno.writeFile(`${dir}/empty.txt`, new Uint8Array());
    const second = await startServer([
      "--source",
      `file:${dir}/empty.txt`,
      ...flags,
    ]);
    try {
      await waitForInflux(
        second,
        (s) => s.queueLength === 0 && s.state === "idle",
        "an empty queue",
      );
      // The queue is first in, first out: sending the batch in flight first, and nothing before it,
      // is re-sending no batch that was answered.
      assert.deepEqual(after.slice(0, held.length), held);
      // What arrived is what the capture holds, at the capture's times (the rest of the capture
      // never reached the killed reader).
      const stored = await influxRows(influxd, "inflight");
      assert.ok(stored.size > 0);
      for (const [key, row] of stored) {
        const expected = capture.rows.get(key);
        assert.ok(expected, key);
        for (const [field, value] of Object.entries(row.fields)) {
          assert.equal(value, expected.fields[field], `${key} ${field}`);
        }
      }
    } finally {
      await second.stop();
      await proxy.shutdown();
    }
  },
});

Deno.test({
  name: "a telegram the database refuses for good is dead-lettered and counted; the rest arrive",
  ignore,
  async fn() {
    // An integer power in the shard of the Belgian fixture's week: its float power conflicts.
    const week = [...capture.rows.values()].find((row) =>
      row.measurement === "electricity" && row.tags.equipment_id === "1SAG1100042181"
    )!;
    const seed = await fetch(`${influxd.url}/write?db=refused&precision=s`, {
      method: "POST",
      headers: { Authorization: `Basic ${btoa(`${influxd.user}:${influxd.password}`)}` },
      body: `electricity,equipment_id=seed power_import_kw=1i ${week.time - 60}`,
    });
    assert.equal(seed.status, 204);
    const dataDir = `${dir}/refused`;
    // Queued while the database is down, the capture goes out as one batch, which is split.
    await influxd.stop();
    const server = await replay([
      ...v1Flags("refused", dataDir),
    ]);
    try {
      await waitForInflux(server, (s) => s.queueLength === capture.telegrams, "the whole capture");
      await influxd.start();
      const influx = await waitForInflux(
        server,
        (s) => s.queueLength === 0 && (s.pointsDeadLettered as number) > 0 && s.state === "idle",
        "the refused telegram dead-lettered",
      );
      const letters = (await Deno.readTextFile(`${dataDir}/influx.dead-letter.jsonl`))
        .trim().split("\n").map((line) => JSON.parse(line));
      // Only that telegram: its first copy is a clock jump from the Dutch meter, not written; its
      // valid CRC makes the second a new meter, and the third and fourth follow it (without the
      // gas reading and demand peaks the second already wrote).
      assert.equal(letters.length, 3);
      const electricity = letters[0].item.lines.split("\n")[0];
      assert.match(electricity, /^electricity,equipment_id=1SAG1100042181 .* 1734260400$/);
      for (const letter of letters) {
        assert.match(letter.reason, /^400 .*field type conflict/);
        assert.equal(letter.item.lines.split("\n")[0], electricity);
      }
      assert.equal(
        influx.pointsDeadLettered,
        letters.reduce(
          (sum: number, letter: { item: { points: number } }) => sum + letter.item.points,
          0,
        ),
      );
      assert.ok((influx.writes as { refused: number }).refused >= 2, "split at least once");
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      assert.match(
        metrics,
        new RegExp(`^p1_influx_points_dead_lettered_total ${influx.pointsDeadLettered}$`, "m"),
      );
      // Every other electricity point arrived.
      const stored = await influxRows(influxd, "refused");
      for (const row of capture.rows.values()) {
        if (row.measurement === "electricity" && row !== week) {
          assert.ok(
            stored.has(`electricity|equipment_id=${row.tags.equipment_id}|${row.time}`) ||
              !row.tags.equipment_id,
            JSON.stringify(row),
          );
        }
      }
    } finally {
      await server.stop();
    }
  },
});

Deno.test({
  name: "a wrong password pauses the writes, says so, and never prints the password",
  ignore,
  async fn() {
    const wrong = "wrong password 4711";
    const server = await replay([
      ...v1Flags("replay", `${dir}/wrong`, wrong),
    ]);
    try {
      const influx = await waitForInflux(server, (s) => s.state === "paused", "a pause");
      assert.equal((influx.writes as { paused: number }).paused, 1);
      assert.match(server.log(), /InfluxDB refused the write \(401 .*check --influx-url/);
      assert.ok(!(server.log() + JSON.stringify(influx)).includes(wrong));
    } finally {
      await server.stop();
    }
  },
});

Deno.test({
  name: "real databases stop",
  ignore,
  async fn() {
    await Promise.all([influxd.dispose(), victoria.dispose()]);
    await Deno.remove(dir, { recursive: true });
  },
});

/** Polls an asynchronous condition every 100 ms until it holds. */
async function waitUntil(condition: () => Promise<boolean>, what: string, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function byKey(a: { measurement: string; time: number }, b: { measurement: string; time: number }) {
  return JSON.stringify(a) < JSON.stringify(b) ? -1 : 1;
}
