import assert from "node:assert/strict";
import { appFor, havePromtool, promtoolCheck, receiverOf } from "../support/service.ts";
import { fixtureBytes } from "../support/paths.ts";

const ORIGINAL_EXAMPLE = "nl-original-readme-example.txt";
const decode = (bytes: Uint8Array) => new TextDecoder("latin1").decode(bytes);

Deno.test("GET / gives the original's first-generation JSON, keys and order exact, gas without the m3 digit", async () => {
  const app = appFor(await receiverOf(ORIGINAL_EXAMPLE));
  const response = await app.request("/");
  assert.equal(response.status, 200);
  assert.match(response.headers.get("content-type")!, /^application\/json/);
  const text = await response.text();
  assert.equal(
    text,
    JSON.stringify({
      timestamp: "2023-02-05T16:50:05",
      rawTimestamp: 230205165005,
      electricityUsageLow: 11080.001,
      electricityUsageHigh: 11931.124,
      electricityReturnedLow: 914.942,
      electricityReturnedHigh: 1837.962,
      activeTariff: 1,
      powerFailuresShort: 7,
      powerFailuresLong: 9,
      actualElectricityDelivered: 0.404,
      actualElectricityRetreived: 0,
      gasUsage: 6919.956,
    }),
  );
});

Deno.test("GET /api gives the original's second-generation JSON", async () => {
  const app = appFor(await receiverOf(ORIGINAL_EXAMPLE));
  const text = await (await app.request("/api")).text();
  assert.equal(
    text,
    JSON.stringify({
      versionInformation: 50,
      equipmentIdentifier: "4530303435303033383039333631343137",
      timestamp: "2023-02-05T16:50:05",
      rawTimestamp: "230205165005W",
      tariffIndicator: 1,
      electricityUsageLow: 11080.001,
      electricityUsageHigh: 11931.124,
      electricityReturnedLow: 914.942,
      electricityReturnedHigh: 1837.962,
      actualElectricityDelivered: 0.404,
      actualElectricityRetrieved: 0,
      powerFailuresShort: 7,
      powerFailuresLong: 9,
      powerFailureEventLog: null,
      phaseL1: {
        voltage: 229,
        current: 3,
        powerDelivered: 0.404,
        powerReceived: 0,
        voltageSags: 46,
        voltageSwells: 14,
      },
      phaseL2: null,
      phaseL3: null,
      textMessage: "",
      modBusClients: [{
        deviceIdentifier: "4730303332353635353433363436313137",
        deviceType: 3,
        captureTime: "2023-02-05T16:45:05",
        rawCaptureTime: 230205164505,
        value: 6919.956,
      }],
    }),
  );
});

Deno.test("GET /api/raw gives the telegram as a JSON string, CR LF kept", async () => {
  const app = appFor(await receiverOf(ORIGINAL_EXAMPLE));
  const raw = await (await app.request("/api/raw")).json();
  assert.equal(raw, decode(fixtureBytes(ORIGINAL_EXAMPLE)));
  assert.ok(raw.includes("\r\n"));
});

Deno.test("before the first telegram the original routes answer as the original did, the new ones 503", async () => {
  const app = appFor(await receiverOf());
  assert.equal((await app.request("/")).status, 204);
  assert.equal((await app.request("/api/raw")).status, 204);
  const api = await app.request("/api");
  assert.equal(api.status, 200);
  const body = await api.json();
  assert.equal(Object.keys(body).length, 19);
  assert.ok(Object.values(body).every((value) => value === null));
  for (const path of ["/api/v1/telegram", "/api/v1/telegram/raw", "/healthz"]) {
    const response = await app.request(path);
    assert.equal(response.status, 503, path);
    assert.ok((await response.json()).reason, path);
  }
});

Deno.test("routes match regardless of case and a trailing slash, like the original", async () => {
  const app = appFor(await receiverOf(ORIGINAL_EXAMPLE));
  assert.equal((await app.request("/API/")).status, 200);
  assert.equal((await app.request("/Api/Raw")).status, 200);
});

Deno.test("GET /api/v1/telegram gives the complete model with ISO timestamps", async () => {
  const app = appFor(await receiverOf("nl-dsmr50-3phase-4mbus.txt"));
  const body = await (await app.request("/api/v1/telegram")).json();
  assert.equal(body.timestamp.iso, "2024-06-30T23:59:59+02:00");
  assert.match(body.receivedAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.deepEqual(body.phases.l2.voltage, { value: 229.8, unit: "V" });
  assert.equal(body.mbus.length, 4);
  assert.equal(body.powerFailures.log[0].end.iso, "2023-10-29T02:55:12+01:00");
  assert.ok(body.obis.length > 40);
  assert.equal(body.raw, undefined);
});

Deno.test("GET /api/v1/telegram/raw gives the meter's bytes as text/plain", async () => {
  const app = appFor(await receiverOf("be-emucs-peak.txt"));
  const response = await app.request("/api/v1/telegram/raw");
  assert.match(response.headers.get("content-type")!, /^text\/plain/);
  assert.deepEqual(new Uint8Array(await response.arrayBuffer()), fixtureBytes("be-emucs-peak.txt"));
});

Deno.test("GET /api/v1/status reports source, state, format, counters and version", async () => {
  const receiver = await receiverOf("nl-dsmr50-3phase-4mbus.txt");
  const body = await (await appFor(receiver).request("/api/v1/status")).json();
  assert.equal(body.state, "ended");
  assert.match(body.source, /^file .*capture\.txt/);
  assert.deepEqual(body.format, { configured: "auto", detected: "dsmr50" });
  assert.equal(body.counters.telegramsOk, 1);
  assert.equal(body.counters.crcErrors, 0);
  // One telegram shows no interval yet: 10 s is assumed until the second one arrives.
  assert.equal(body.staleAfterSeconds, 30);
  assert.match(body.version, /^\d+\.\d+\.\d+/);
  assert.equal(typeof body.uptimeSeconds, "number");
});

Deno.test("GET /healthz is 200 while telegrams are fresh and 503 once they are stale", async () => {
  const receiver = await receiverOf("nl-dsmr50-3phase-4mbus.txt");
  const at = receiver.latest!.receivedAt;
  const fresh = await appFor(receiver, () => at + 1000).request("/healthz");
  assert.equal(fresh.status, 200);
  assert.equal((await fresh.json()).status, "ok");
  const stale = await appFor(receiver, () => at + 40_000).request("/healthz");
  assert.equal(stale.status, 503);
  assert.match((await stale.json()).reason, /no valid telegram for 40 s \(stale after 30 s\)/);
});

Deno.test("unknown routes answer 404 JSON", async () => {
  const response = await appFor(await receiverOf()).request("/nope");
  assert.equal(response.status, 404);
  assert.deepEqual(await response.json(), { error: "not found", path: "/nope" });
});

Deno.test("GET /metrics serves the original names with the original's bugs fixed", async () => {
  const app = appFor(await receiverOf("nl-dsmr50-3phase-4mbus.txt", ORIGINAL_EXAMPLE));
  const response = await app.request("/metrics");
  assert.equal(response.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  const text = await response.text();
  const sample = (line: string) => assert.ok(text.split("\n").includes(line), `missing: ${line}`);
  sample("p1_usage_gas 6919.956");
  sample("p1_usage_electricity_low 11080.001");
  sample("p1_actual_electricity_retreived 0");
  sample("p1_actual_electricity_retrieved 0");
  sample("p1_active_tariff 1");
  sample("p1_tariff_indicator 1");
  sample("p1_voltage_l1 229");
  sample("p1_timestamp_seconds 1675612205");
  // FILETIME of the real instant (the original read meter-local time as UTC: an hour off).
  sample(`p1_timestamp ${(Date.UTC(2023, 1, 5, 15, 50, 5) + 11_644_473_600_000) * 10_000}`);
  sample("p1_mbus_4730303332353635353433363436313137_value 6919.956");
  sample("p1_mbus_4730303332353635353433363436313137_device_type 3");
  sample("# HELP p1_power_failures_short Number of power failures in any phase");
  // Still the first meter's register: one telegram of another meter is no reset (yet).
  sample('p1_energy_imported_joules_total{tariff="1"} 44444440800');
  sample('p1_telegrams_total{result="ok"} 2');
  assert.ok(!/^nodejs_eventloop_lag/m.test(text), "no event-loop-lag metrics");
  assert.ok(!/^p1_voltage_l2 /m.test(text), "a phase the meter does not send has no sample");
});

Deno.test("GET /metrics reads L2's voltage from L2, not L1", async () => {
  const text =
    await (await appFor(await receiverOf("nl-dsmr50-3phase-4mbus.txt")).request("/metrics")).text();
  assert.match(text, /^p1_voltage_l2 229\.8$/m);
  assert.match(text, /^p1_voltage_volts\{phase="l2"\} 229\.8$/m);
  assert.match(text, /^p1_water_cubic_meters_total\{channel="2"\} 123\.456$/m);
  assert.match(
    text,
    /^p1_meter_info\{header="ISK5\\\\2M550T-1013",version="50",equipment_id="E0043007052870318",format="dsmr50"\} 1$/m,
  );
});

Deno.test("GET /metrics speaks OpenMetrics when the scraper asks for it", async () => {
  const app = appFor(await receiverOf("nl-dsmr50-3phase-4mbus.txt"));
  const response = await app.request("/metrics", {
    headers: { accept: "application/openmetrics-text; version=1.0.0" },
  });
  assert.match(
    response.headers.get("content-type")!,
    /^application\/openmetrics-text; version=1\.0\.0/,
  );
  const text = await response.text();
  assert.ok(text.endsWith("# EOF\n"));
  assert.match(text, /^# TYPE p1_energy_imported_joules counter$/m);
  assert.match(text, /^p1_energy_imported_joules_total\{tariff="1"\} /m);
  const plain = await (await app.request("/metrics")).text();
  assert.match(
    plain,
    /^# TYPE p1_energy_imported_joules_total counter$/m,
    "the text registry is untouched",
  );
});

Deno.test({
  name: "promtool check metrics passes on a scrape",
  ignore: !havePromtool() && Deno.env.get("CI") === undefined,
  async fn() {
    const app = appFor(await receiverOf("nl-dsmr50-3phase-4mbus.txt", "be-emucs-peak.txt"));
    const { code, output } = await promtoolCheck(await (await app.request("/metrics")).text());
    assert.equal(code, 0, output);
  },
});

Deno.test("GET /metrics carries no family of an output that is off", async () => {
  const text =
    await (await appFor(await receiverOf("nl-dsmr50-3phase-4mbus.txt")).request("/metrics")).text();
  assert.ok(!/p1_dsmr_reader_|p1_share_|p1_mqtt_/.test(text));
});

Deno.test("HEAD works wherever GET does: GET's status and headers, no body", async () => {
  const receiver = await receiverOf("nl-dsmr50-3phase-4mbus.txt");
  const at = receiver.latest!.receivedAt + 500;
  const app = appFor(receiver, () => at);
  const paths = app.routes.filter((route) => route.method === "GET").map((route) => route.path);
  assert.ok(paths.length >= 12, paths.join(" "));
  for (const path of paths) {
    const get = await app.request(path);
    const head = await app.request(path, { method: "HEAD" });
    assert.equal(head.status, get.status, path);
    assert.equal(head.headers.get("content-type"), get.headers.get("content-type"), path);
    assert.equal(await head.text(), "", path);
    if (path === "/api/v1/stream") {
      await get.body!.cancel();
      continue;
    }
    const length = (await get.arrayBuffer()).byteLength;
    // /metrics reports the process's memory, which may change between the two requests.
    if (path !== "/metrics") assert.equal(head.headers.get("content-length"), String(length), path);
  }
});

Deno.test("another method on a known route answers 405 with Allow; OPTIONS lists the methods", async () => {
  const app = appFor(await receiverOf("nl-dsmr50-3phase-4mbus.txt"));
  for (const method of ["POST", "PUT", "DELETE", "PATCH"]) {
    const response = await app.request("/API/v1/Status/", { method });
    assert.equal(response.status, 405, method);
    assert.equal(response.headers.get("allow"), "GET, HEAD");
    assert.deepEqual(await response.json(), {
      error: "method not allowed",
      reason: `${method} is not allowed on /API/v1/Status/: use GET, HEAD`,
    });
  }
  const options = await app.request("/metrics", { method: "OPTIONS" });
  assert.equal(options.status, 204);
  assert.equal(options.headers.get("allow"), "GET, HEAD");
  assert.equal((await app.request("/nope", { method: "POST" })).status, 404);
});

Deno.test("every answer forbids inline script, other origins, framing and MIME sniffing", async () => {
  const app = appFor(await receiverOf("nl-dsmr50-3phase-4mbus.txt"));
  for (const path of ["/ui", "/ui/app.js", "/api/v1/telegram", "/nope"]) {
    const response = await app.request(path);
    const policy = response.headers.get("content-security-policy") ?? "";
    assert.match(policy, /(^|; )default-src 'none'(;|$)/, path);
    assert.match(policy, /(^|; )script-src 'self'(;|$)/, path);
    assert.match(policy, /(^|; )frame-ancestors 'self'(;|$)/, path);
    assert.ok(!/unsafe-inline|unsafe-eval|\*/.test(policy), `${path}: ${policy}`);
    assert.equal(response.headers.get("x-content-type-options"), "nosniff", path);
    assert.equal(response.headers.get("x-frame-options"), "SAMEORIGIN", path);
    await response.body?.cancel();
  }
});
