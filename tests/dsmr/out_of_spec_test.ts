/**
 * Values a meter's specification does not allow: a negative register or power, the same OBIS
 * reference twice in one telegram, an M-Bus reading in a unit its device type cannot count. Each is a problem of the telegram, kept raw in its `obis` view
 * and never in the named field (nor in `/metrics`); the EasyMeter Q3D, whose power is signed, keeps
 * its sign.
 */
import assert from "node:assert/strict";
import { latin1Bytes } from "../../lib/bytes.ts";
import { crc16, formatCrc } from "../../lib/dsmr/crc16.ts";
import { parseTelegram } from "../../lib/dsmr/parse.ts";
import { createLogger } from "../../lib/log.ts";
import { P1Receiver } from "../../lib/receiver.ts";
import { FileSource } from "../../lib/source/file.ts";
import { appFor } from "../support/service.ts";

/** A DSMR 5 telegram with these data lines and a valid CRC. */
function dsmr5(...lines: string[]): string {
  const body = ["/ISK5\\2M550T-1012", "", "1-3:0.2.8(50)", ...lines, "!"].join("\r\n");
  return `${body}${formatCrc(crc16(latin1Bytes(body)))}\r\n`;
}

Deno.test("a negative energy register is a problem, kept raw and out of the named field", () => {
  const telegram = parseTelegram(
    dsmr5("1-0:1.8.1(-00001.000*kWh)", "1-0:1.8.2(000002.000*kWh)"),
    { format: "dsmr50" },
  );
  assert.deepEqual(telegram.energy.import, { t2: { value: 2, unit: "kWh" } });
  assert.deepEqual(telegram.problems, [{
    reference: "1-0:1.8.1",
    reason: 'Cannot read a number of format F9(3) kWh, not negative from "-00001.000*kWh"',
  }]);
  assert.deepEqual(telegram.obis[1]?.values, [{ kind: "number", value: -1, unit: "kWh" }]);
});

Deno.test("a negative power or count of a DSMR meter is a problem", () => {
  const telegram = parseTelegram(
    dsmr5("1-0:1.7.0(-01.000*kW)", "1-0:21.7.0(-00.500*kW)", "0-0:96.7.21(-0001)"),
    { format: "dsmr50" },
  );
  assert.deepEqual(telegram.power, {});
  assert.deepEqual(telegram.phases, {});
  assert.deepEqual(telegram.powerFailures, {});
  assert.deepEqual(telegram.problems.map((p) => p.reference), [
    "1-0:1.7.0",
    "1-0:21.7.0",
    "0-0:96.7.21",
  ]);
});

Deno.test("an EasyMeter Q3D's power is signed, negative while the home exports", () => {
  const telegram = parseTelegram(
    [
      "/ESY5Q3DA1024 V3.04",
      "",
      "1-0:0.0.0*255(60328160)",
      "1-0:1.8.0*255(00000001.3800000*kWh)",
      "1-0:2.8.0*255(00000001.1400000*kWh)",
      "1-0:21.7.0*255(-001000.00*W)",
      "1-0:41.7.0*255(000002.00*W)",
      "1-0:61.7.0*255(000000.10*W)",
      "1-0:1.7.0*255(-000997.90*W)",
      "1-0:96.5.5*255(00)",
      "0-0:96.1.255*255(1ESY1160328160)",
      "!",
      "",
    ].join("\r\n"),
  );
  assert.equal(telegram.format, "q3d");
  assert.deepEqual(telegram.problems, []);
  assert.deepEqual(telegram.power.import, { value: -0.9979, unit: "kW" });
  assert.deepEqual(telegram.phases.l1?.powerImport, { value: -1, unit: "kW" });
  assert.deepEqual(telegram.phases.l2?.powerImport, { value: 0.002, unit: "kW" });
});

Deno.test("the same reference twice in one telegram keeps the first value; the second is a problem", () => {
  const telegram = parseTelegram(
    dsmr5("1-0:1.8.1(000010.000*kWh)", "1-0:1.8.2(000020.000*kWh)", "1-0:1.8.1(000099.000*kWh)"),
    { format: "dsmr50" },
  );
  assert.deepEqual(telegram.energy.import.t1, { value: 10, unit: "kWh" });
  assert.deepEqual(telegram.problems, [{
    reference: "1-0:1.8.1",
    reason: "Sent twice in one telegram: the first value is kept",
  }]);
  assert.deepEqual(telegram.obis.map((line) => line.raw[0]), [
    "50",
    "000010.000*kWh",
    "000020.000*kWh",
    "000099.000*kWh",
  ]);
});

Deno.test("the same reference written with *255 counts as sent twice", () => {
  const telegram = parseTelegram(
    dsmr5("1-0:1.7.0(01.000*kW)", "1-0:1.7.0*255(09.000*kW)"),
    { format: "dsmr50" },
  );
  assert.deepEqual(telegram.power.import, { value: 1, unit: "kW" });
  assert.deepEqual(telegram.problems.map((p) => p.reference), ["1-0:1.7.0*255"]);
});

Deno.test("/metrics gives no power for a telegram whose power line is negative", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/capture.txt`;
    await Deno.writeTextFile(
      path,
      dsmr5("0-0:1.0.0(250110110005W)", "1-0:1.8.1(001000.000*kWh)", "1-0:1.7.0(-01.000*kW)"),
    );
    const receiver = new P1Receiver({ source: new FileSource({ path }) });
    receiver.start();
    await receiver.finished;
    assert.equal(receiver.counters.telegramsOk, 1);
    const metrics = await (await appFor(receiver).request("/metrics")).text();
    assert.match(metrics, /^p1_energy_imported_joules_total\{tariff="1"\} 3600000000$/m);
    assert.doesNotMatch(metrics, /^p1_power_import_watts /m);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the receiver counts the values it left out, in status and /metrics, and logs each line once", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const bad = dsmr5("1-0:1.8.1(-00001.000*kWh)", "1-0:1.7.0(-01.000*kW)");
    await Deno.writeTextFile(`${dir}/capture.txt`, bad + bad);
    const lines: string[] = [];
    const receiver = new P1Receiver({
      source: new FileSource({ path: `${dir}/capture.txt` }),
      logger: createLogger({ level: "debug", write: (line) => lines.push(line) }),
    });
    receiver.start();
    await receiver.finished;
    assert.equal(receiver.counters.telegramsOk, 2);
    assert.equal(receiver.counters.valueProblems, 4);
    const status = await (await appFor(receiver).request("/api/v1/status")).json();
    assert.equal(status.counters.valueProblems, 4);
    const metrics = await (await appFor(receiver).request("/metrics")).text();
    assert.match(metrics, /^p1_telegram_value_problems_total 4$/m);
    const warnings = lines.filter((line) => line.includes("WARN") && line.includes("left out"));
    assert.equal(warnings.length, 2, lines.join("\n"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("an M-Bus reading in a unit its device type cannot count is a problem and left out", () => {
  const telegram = parseTelegram(
    dsmr5(
      "0-1:24.1.0(003)",
      "0-1:96.1.0(4730303339303031363532303530323136)",
      "0-1:24.2.1(240630120000S)(04321.987*kWh)", // a gas meter's reading in kWh
      "0-2:24.1.0(007)",
      "0-2:24.2.1(240630120000S)(00012.345*m3)",
      "0-3:24.1.0(004)",
      "0-3:24.2.1(240630120000S)(00001.234*GJ)",
    ),
    { format: "dsmr50" },
  );
  const [gas, water, heat] = telegram.mbus;
  assert.equal(gas?.kind, "gas");
  assert.equal(gas?.reading, undefined);
  assert.ok(gas?.id, "the device stays, with its id");
  assert.deepEqual(water?.reading?.value, { value: 12.345, unit: "m3" });
  assert.deepEqual(heat?.reading?.value, { value: 1.234, unit: "GJ" });
  assert.deepEqual(telegram.problems, [{
    reference: "0-1:24.2.1",
    reason: "A gas meter's reading in kWh, not m3: left out",
  }]);
});
