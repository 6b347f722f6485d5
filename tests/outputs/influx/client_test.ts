import assert from "node:assert/strict";
import {
  classifyWrite,
  type InfluxTarget,
  retryAfterMs,
  writeRequest,
} from "../../../lib/outputs/influx/client.ts";
import { formatLine, type Point } from "../../../lib/outputs/influx/line_protocol.ts";
import {
  haveTimeSeriesDbs,
  type Influxd,
  startInfluxd,
  startVictoriaMetrics,
  type VictoriaMetrics,
} from "../../support/timeseries_db.ts";

const ignore = !haveTimeSeriesDbs();
let influxd: Influxd;
let victoria: VictoriaMetrics;

async function write(target: InfluxTarget, body: string) {
  const { url, init } = writeRequest(target, body);
  const response = await fetch(url, init);
  return { status: response.status, body: await response.text() };
}

function v1(db = "p1", password?: string): InfluxTarget {
  return {
    api: "v1",
    url: influxd.url,
    db,
    username: influxd.user,
    password: password ?? influxd.password,
  };
}

/** Equipment ids and texts an attacker could put on the wire (all printable ASCII or hex). */
const HOSTILE = [
  { id: "E00 44,7=x", text: 'say "hi", \\ then\r\nnew line\tand tab' },
  { id: "quote\"d'", text: "ümlaut é ✓ 🌞" },
  { id: "#comment", text: "" },
  { id: "trailing\\", text: "\\" },
];

function hostilePoint(index: number): Point {
  const { id, text } = HOSTILE[index]!;
  return {
    measurement: "electricity",
    tags: { equipment_id: id },
    fields: {
      power_import_kw: { kind: "float", value: index + 0.5 },
      text_message: { kind: "string", value: text },
    },
    seconds: 1_700_000_000 + index,
  };
}

/** The tag as stored: as sent, or the hex of one with a backslash. */
function storedId(id: string): string {
  return id.includes("\\") ? [...id].map((c) => c.charCodeAt(0).toString(16)).join("") : id;
}

Deno.test({
  name: "real databases start once for this file",
  ignore,
  async fn() {
    [influxd, victoria] = await Promise.all([
      startInfluxd({ databases: ["p1", "hostile"], maxBodySize: 100_000 }),
      startVictoriaMetrics(),
    ]);
  },
});

Deno.test({
  name: "hostile equipment ids and texts arrive in InfluxDB 1.6 exactly as written",
  ignore,
  async fn() {
    const body = HOSTILE.map((_, i) => formatLine(hostilePoint(i))).join("\n");
    assert.deepEqual(await write(v1("hostile"), body), { status: 204, body: "" });
    const rows = await influxd.select(
      'SELECT power_import_kw, text_message FROM electricity GROUP BY "equipment_id"',
      "hostile",
    );
    assert.deepEqual(
      rows.sort((a, b) => Number(a.time) - Number(b.time)),
      HOSTILE.map(({ id, text }, i) => ({
        equipment_id: storedId(id),
        time: 1_700_000_000 + i,
        power_import_kw: i + 0.5,
        // InfluxDB 1.x keeps the escapes of line ends and tabs as written (see line_protocol.ts).
        text_message: text.replace("\r", "\\r").replace("\n", "\\n").replace("\t", "\\t"),
      })),
    );
  },
});

Deno.test({
  name: "hostile equipment ids arrive in VictoriaMetrics as labels, through both APIs",
  ignore,
  async fn() {
    const body = HOSTILE.map((_, i) => formatLine(hostilePoint(i))).join("\n");
    const v1Write = await write({ api: "v1", url: victoria.url, db: "hostile" }, body);
    assert.equal(v1Write.status, 204);
    const v2Write = await write(
      { api: "v2", url: victoria.url, org: "home", bucket: "b" },
      body.replaceAll("electricity", "electricity_v2"),
    );
    assert.equal(v2Write.status, 204);
    for (const name of ["electricity_power_import_kw", "electricity_v2_power_import_kw"]) {
      const series = await victoria.exportSeries(name);
      assert.deepEqual(
        series.map((s) => [s.metric.equipment_id, s.values, s.timestamps]).sort(),
        HOSTILE.map(({ id }, i) => [storedId(id), [i + 0.5], [(1_700_000_000 + i) * 1000]])
          .sort(),
        name,
      );
    }
  },
});

Deno.test({
  name: "InfluxDB's answers: written, wrong password, no such database, bad line, too large",
  ignore,
  async fn() {
    const line = "electricity power_import_kw=1 1700000000";
    const answers = [
      await write(v1(), line),
      await write(v1("p1", "wrong"), line),
      await write(v1("nope"), line),
      await write(v1(), `${line}\nelectricity garbage`),
      await write(v1(), `${line}\n`.repeat(5000)),
    ];
    assert.deepEqual(answers.map((a) => [a.status, classifyWrite(a.status)]), [
      [204, "written"],
      [401, "paused"],
      [404, "paused"],
      [400, "refused"],
      [413, "refused"],
    ]);
    assert.match(answers[2]!.body, /database not found/);
    // The password is never part of an answer.
    for (const answer of answers) assert.doesNotMatch(answer.body, /wrong|odd/);
  },
});

Deno.test({
  name: "a field of another type than before is refused for good (400)",
  ignore,
  async fn() {
    const answer = await write(v1(), "electricity power_import_kw=1i 1700000000");
    assert.equal(answer.status, 400);
    assert.match(answer.body, /field type conflict/);
  },
});

Deno.test("a Retry-After header is read in seconds or as a date", () => {
  assert.equal(retryAfterMs("30"), 30_000);
  assert.equal(retryAfterMs("Thu, 01 Jan 1970 00:01:00 GMT", 30_000), 30_000);
  assert.equal(retryAfterMs("soon"), undefined);
  assert.equal(retryAfterMs(null), undefined);
});

Deno.test("credentials go in headers, never in the URL", () => {
  const { url, init } = writeRequest(
    { api: "v1", url: "https://me:s%40cret@example.org/influx/", db: "p 1" },
    "",
  );
  assert.equal(url, "https://example.org/influx/write?db=p+1&precision=s");
  assert.equal(
    (init.headers as Record<string, string>).Authorization,
    `Basic ${btoa("me:s@cret")}`,
  );
});

Deno.test({
  name: "real databases stop",
  ignore,
  async fn() {
    await Promise.all([influxd.dispose(), victoria.dispose()]);
  },
});
