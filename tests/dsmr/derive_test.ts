import assert from "node:assert/strict";
import {
  countedRegisters,
  energyTotal,
  gasDevice,
  meterReading,
  rawMbusId,
  twoTariffs,
} from "../../lib/dsmr/derive.ts";
import { FrameScanner } from "../../lib/dsmr/framer.ts";
import type { Telegram } from "../../lib/dsmr/model.ts";
import { parseTelegram } from "../../lib/dsmr/parse.ts";
import { v2Fields } from "../../lib/outputs/dsmr_reader/api.ts";
import { originalFlat } from "../../lib/views/original.ts";
import { CORPUS, fixture } from "../support/paths.ts";
import { appFor, receiverOf } from "../support/service.ts";

function telegramOf(path: string): Telegram {
  return parseTelegram(new FrameScanner().push(Deno.readFileSync(path))[0]!);
}

const TWO_MBUS = CORPUS && `${CORPUS}telegrams/nl-dsmr50-iskra-am550-two-mbus.txt`;

Deno.test({
  name: "the gas meter is the one on channel 2 when channel 1 is an empty slot at 0 m3",
  ignore: !TWO_MBUS,
  fn() {
    const t = telegramOf(TWO_MBUS!);
    assert.equal(t.mbus[0]!.kind, "gas", "the empty slot says gas too");
    assert.equal(meterReading(t.mbus[0]!), undefined);
    assert.equal(gasDevice(t)?.channel, 2);
    assert.equal(originalFlat(t).gasUsage, 246.138);
    assert.equal(v2Fields(t)?.extra_device_delivered, "246.138");
  },
});

Deno.test("a water meter is not taken for gas when there is no gas meter", async () => {
  const t = telegramOf(fixture("nl-dsmr50-1phase-water.txt"));
  assert.equal(t.mbus[0]!.kind, "water");
  assert.equal(gasDevice(t), undefined);
  assert.equal(originalFlat(t).gasUsage, null);
  assert.equal(v2Fields(t)?.extra_device_delivered, undefined);
  const metrics = await (await appFor(await receiverOf("nl-dsmr50-1phase-water.txt"))
    .request("/metrics")).text();
  assert.doesNotMatch(metrics, /^p1_usage_gas /m);
  assert.match(metrics, /^p1_water_cubic_meters_total\{channel="1"\} 318\.204$/m);
});

Deno.test("a reading stamped 1 January 2000 or never captured at 0 is an empty slot", () => {
  const at = (epochMs: number) => ({ iso: "", epochMs, raw: "" });
  const m3 = (value: number) => ({ value, unit: "m3" });
  const device = (reading: NonNullable<Parameters<typeof meterReading>[0]["reading"]>) =>
    meterReading({ channel: 1, kind: "gas", reading });
  assert.equal(device({ time: at(Date.UTC(2000, 0, 1)), value: m3(12) }), undefined);
  assert.equal(device({ value: m3(0) }), undefined);
  assert.ok(device({ value: m3(1.5) }), "a reading without time is still a reading");
  assert.ok(device({ time: at(Date.UTC(2024, 0, 1)), value: m3(0) }), "a new meter at 0");
});

Deno.test("a single-register total counts as tariff 1 with 0 in tariff 2, and as the total", () => {
  const total = { total: { value: 1234.5, unit: "kWh" } };
  assert.deepEqual(twoTariffs(total), {
    t1: { value: 1234.5, unit: "kWh" },
    t2: { value: 0, unit: "kWh" },
  });
  assert.deepEqual(countedRegisters(total), [["total", { value: 1234.5, unit: "kWh" }]]);
  assert.equal(energyTotal(total), 1234.5);
  const tariffs = {
    t1: { value: 1.1, unit: "kWh" },
    t2: { value: 2.2, unit: "kWh" },
    total: { value: 3.3, unit: "kWh" },
  };
  assert.deepEqual(countedRegisters(tariffs).map(([name]) => name), ["t1", "t2"]);
  assert.equal(energyTotal(tariffs), 3.3);
  assert.equal(twoTariffs({}), undefined);
});

Deno.test("an M-Bus id is read as the meter wrote it, from DSMR's line or e-MUCS's", () => {
  const dsmr = telegramOf(fixture("nl-dsmr50-3phase-4mbus.txt"));
  assert.equal(rawMbusId(dsmr, 1), "4730303132333435363738393031323334");
  assert.equal(rawMbusId(dsmr, 9), undefined);
  const belgian = telegramOf(fixture("be-emucs-peak.txt"));
  const channel = belgian.mbus[0]!.channel;
  assert.equal(rawMbusId(belgian, channel), "3353414734343230313132333435");
});
