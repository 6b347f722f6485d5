import assert from "node:assert/strict";
import { FrameScanner } from "../../lib/dsmr/framer.ts";
import { resolveFormat } from "../../lib/dsmr/formats.ts";
import type { Telegram } from "../../lib/dsmr/model.ts";
import { parseTelegram } from "../../lib/dsmr/parse.ts";
import {
  MBUS_FAMILIES_KEPT_MS,
  MBUS_FAMILIES_MAX_DEVICES,
  MetricsRegistry,
} from "../../lib/metrics/registry.ts";
import { P1Receiver } from "../../lib/receiver.ts";
import { FileSource } from "../../lib/source/file.ts";
import { fixture, fixtureBytes } from "../support/paths.ts";
import { appFor, snapshotOf } from "../support/service.ts";
import { demoTelegrams, withLine } from "../support/telegrams.ts";

const parse = (bytes: Uint8Array) => parseTelegram(new FrameScanner().push(bytes)[0]!);
/** Text as the meter writes an equipment id: hex of its characters. */
const hex = (text: string) =>
  Array.from(text, (c) => c.charCodeAt(0).toString(16)).join("").toUpperCase();
const FOUR_DEVICES = "nl-dsmr50-3phase-4mbus.txt";

/** The per-device M-Bus family names of a scrape. */
function mbusFamilies(exposition: string): string[] {
  return [...exposition.matchAll(/^# TYPE (p1_mbus_(?!reading)\w+) /gm)].map((m) => m[1]!);
}

/** `/metrics` of a receiver configured with `format` that read the four-device fixture. */
async function scrapeWithFormat(format: string): Promise<string> {
  const receiver = new P1Receiver({
    source: new FileSource({ path: fixture(FOUR_DEVICES) }),
    format: resolveFormat(format),
  });
  receiver.start();
  await receiver.finished;
  return await (await appFor(receiver).request("/metrics")).text();
}

Deno.test("with XS210ESMR5 the gas meter's families are p1_mbus_1_*, as the original named them", async () => {
  const text = await scrapeWithFormat("XS210ESMR5");
  assert.deepEqual(mbusFamilies(text), [
    "p1_mbus_1_device_type",
    "p1_mbus_1_capture_time",
    "p1_mbus_1_value",
  ]);
  assert.match(text, /^p1_mbus_1_value 4321\.987$/m);
  assert.match(text, /^p1_mbus_1_device_type 3$/m);
});

Deno.test("with V502 every M-Bus device's families are named by its hex id, as the original did", async () => {
  const text = await scrapeWithFormat("v502");
  assert.equal(mbusFamilies(text).length, 12);
  assert.match(text, /^p1_mbus_4730303132333435363738393031323334_value 4321\.987$/m);
  assert.match(text, /^p1_mbus_5730303938373635343332313039383736_device_type 7$/m);
  assert.match(text, /^p1_mbus_4830303535353535353535353535353535_value 12\.34$/m);
});

/** A registry over whatever telegram `current` holds, on a clock the test moves. */
function registryOverTime() {
  const state = { telegram: undefined as Telegram | undefined, now: 0 };
  const registry = new MetricsRegistry(() => snapshotOf(state.telegram), {
    now: () => state.now,
  });
  const scrape = async () => (await registry.render(undefined)).body;
  return { state, scrape };
}

Deno.test("the families of an M-Bus device not seen for 10 minutes are dropped", async () => {
  const { state, scrape } = registryOverTime();
  state.telegram = parse(fixtureBytes(FOUR_DEVICES));
  assert.equal(mbusFamilies(await scrape()).length, 12);
  // The meter now reports only the demo's gas meter: the four others stay for a while, empty.
  state.telegram = parse(demoTelegrams(1)[0]!);
  state.now += MBUS_FAMILIES_KEPT_MS;
  assert.equal(mbusFamilies(await scrape()).length, 15);
  state.now += 1;
  const demoGas = hex("G0000000000000001");
  assert.deepEqual(mbusFamilies(await scrape()), [
    `p1_mbus_${demoGas}_device_type`,
    `p1_mbus_${demoGas}_capture_time`,
    `p1_mbus_${demoGas}_value`,
  ]);
});

Deno.test("M-Bus ids that change with every telegram cannot grow /metrics", async () => {
  const { state, scrape } = registryOverTime();
  const [template] = demoTelegrams(1);
  const sizes: number[] = [];
  for (let i = 0; i < 200; i++) {
    const id = hex(`G${String(i).padStart(16, "0")}`);
    state.telegram = parse(withLine(template!, /0-1:96\.1\.0\(\w+\)/, `0-1:96.1.0(${id})`));
    state.now += 1000;
    sizes.push((await scrape()).length);
  }
  const families = mbusFamilies(await scrape());
  assert.equal(families.length, 3 * MBUS_FAMILIES_MAX_DEVICES);
  assert.ok(families.includes(`p1_mbus_${hex("G0000000000000199")}_value`), "the newest is kept");
  // The first scrape has one device; every later one at most eight, whatever the uptime.
  const growth = sizes.at(-1)! - sizes[0]!;
  assert.ok(growth < 8 * 1024, `grew ${growth} bytes`);
  // Steady once eight devices are kept (the runtime's own figures vary by a few bytes).
  assert.ok(
    Math.abs(sizes.at(-1)! - sizes.at(-100)!) < 100,
    `${sizes.at(-100)} -> ${sizes.at(-1)}`,
  );
});

Deno.test("an empty M-Bus slot is no gas series and no capture time, while the gas meter beside it is", async () => {
  // Channel 1 holds no meter (0 m3, captured 1970); channel 2 the gas meter.
  const bytes = fixtureBytes(FOUR_DEVICES);
  const emptied = withLine(
    withLine(bytes, /0-1:24\.2\.1\([^)]*\)\([^)]*\)/, "0-1:24.2.1(700101010000W)(00000.000*m3)"),
    /0-2:24\.1\.0\(\d+\)/,
    "0-2:24.1.0(003)",
  );
  const registry = new MetricsRegistry(() => snapshotOf(parse(emptied)));
  const { body } = await registry.render(undefined);
  const gas = body.split("\n").filter((line) => line.startsWith("p1_gas_cubic_meters_total"));
  assert.deepEqual(gas, ['p1_gas_cubic_meters_total{channel="2"} 123.456']);
  assert.doesNotMatch(body, /^p1_mbus_reading_timestamp_seconds\{channel="1"/m);
  assert.match(body, /^p1_mbus_reading_timestamp_seconds\{channel="2"/m);
});
