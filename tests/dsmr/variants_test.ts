/**
 * Telegram variants met in other projects' captures, written as fixtures from the specifications
 * (CRCs computed), each read with the default options.
 */
import assert from "node:assert/strict";
import { FrameScanner, type RawTelegram } from "../../lib/dsmr/framer.ts";
import { lexTelegram } from "../../lib/dsmr/lexer.ts";
import { parseTelegram } from "../../lib/dsmr/parse.ts";
import { fixtureBytes } from "../support/paths.ts";

function frames(bytes: Uint8Array): RawTelegram[] {
  const scanner = new FrameScanner();
  const out = [...scanner.push(bytes), ...scanner.flush()];
  assert.equal(scanner.stats.discardedBytes, 0);
  return out;
}

function only(name: string) {
  const [raw, ...rest] = frames(fixtureBytes(name));
  assert.equal(rest.length, 0, `${name} is one telegram`);
  const telegram = parseTelegram(raw!);
  assert.deepEqual(telegram.problems, [], `${name} has no problems`);
  return telegram;
}

Deno.test("units written without * are read with their unit (Fluvius)", () => {
  const telegram = only("be-emucs-units-without-star.txt");
  assert.equal(telegram.format, "belgium");
  assert.equal(telegram.checksum.valid, true);
  assert.deepEqual(telegram.energy, {
    import: { t1: { value: 123.456, unit: "kWh" }, t2: { value: 234.567, unit: "kWh" } },
    export: { t1: { value: 12.345, unit: "kWh" }, t2: { value: 23.456, unit: "kWh" } },
  });
  assert.deepEqual(telegram.power, {
    import: { value: 0.456, unit: "kW" },
    export: { value: 0, unit: "kW" },
  });
  assert.deepEqual(telegram.phases.l1?.voltage, { value: 231.5, unit: "V" });
  assert.deepEqual(telegram.phases.l1?.current, { value: 2.1, unit: "A" });
  assert.deepEqual(telegram.limiterThreshold, { value: 999.9, unit: "kW" });
  assert.deepEqual(telegram.fuseThreshold, { value: 999, unit: "A" });
  assert.deepEqual(telegram.demand?.currentAverage, { value: 1.234, unit: "kW" });
  assert.deepEqual(telegram.demand?.monthPeak?.value, { value: 3.21, unit: "kW" });
  assert.deepEqual(telegram.mbus[0]?.reading?.value, { value: 345.678, unit: "m3" });
});

Deno.test("a number followed by letters that are no unit stays text", () => {
  const text = "/XXX5\r\n\r\n1-0:1.8.1(000001.000*kWh)\r\n1-0:99.1.0(12kWhx)(4B38)\r\n!";
  const line = parseTelegram(text, { format: "dsmr30" }).obis[1]!;
  assert.deepEqual(line.values, [{ kind: "text", value: "12kWhx" }, {
    kind: "text",
    value: "4B38",
  }]);
});

Deno.test("a text message whose hex goes on on the next line is read whole (DSMR 4.0)", () => {
  const telegram = only("nl-dsmr40-text-two-lines.txt");
  const message = "Storing gepland op dinsdag 14 januari van 09:00 tot 12:00 uur";
  assert.equal(telegram.format, "dsmr40");
  assert.equal(telegram.textMessage, message);
  const line = telegram.obis.find((l) => l.reference === "0-0:96.13.0")!;
  assert.equal(line.raw.length, 1);
  assert.match(line.raw[0]!, /^[0-9A-F]+$/, "joined without the line break");
  // The line after it is read as its own line, not swallowed.
  assert.equal(telegram.obis[telegram.obis.indexOf(line) + 1]?.reference, "1-0:31.7.0");
  assert.deepEqual(telegram.phases.l1?.current, { value: 2, unit: "A" });
  const text = new TextDecoder("latin1").decode(fixtureBytes("nl-dsmr40-text-two-lines.txt"));
  const lexed = lexTelegram(text).lines.find((l) => l.reference === "0-0:96.13.0");
  assert.deepEqual(lexed?.groups, line.raw, "the lexer joins it the same way");
});

Deno.test("an unclosed group ends at its line when the next line starts one of its own", () => {
  const text = "/XXX5\r\n\r\n0-0:96.13.0(3031\r\n1-0:1.8.1(000001.000*kWh)\r\n(00002.000)\r\n!";
  const telegram = parseTelegram(text, { format: "dsmr30" });
  assert.deepEqual(telegram.obis.map((line) => [line.reference, line.raw]), [
    ["0-0:96.13.0", ["3031"]],
    ["1-0:1.8.1", ["000001.000*kWh", "00002.000"]],
  ]);
});

Deno.test("a / and ! within a DSMR 3.0 text message neither split nor cut the telegram", () => {
  const bytes = fixtureBytes("nl-dsmr30-slash-in-text.txt");
  const stream = new Uint8Array([...bytes, ...bytes]);
  for (const chunks of [[stream], [...stream].map((byte) => new Uint8Array([byte]))]) {
    const scanner = new FrameScanner();
    const telegrams = [...chunks.flatMap((chunk) => scanner.push(chunk)), ...scanner.flush()].map((
      raw,
    ) => parseTelegram(raw));
    assert.equal(telegrams.length, 2);
    assert.equal(scanner.stats.incomplete, 0);
    for (const telegram of telegrams) {
      assert.equal(telegram.format, "dsmr30");
      assert.equal(telegram.textMessage, "test-/-test!");
      assert.deepEqual(telegram.mbus[0]?.reading?.value, { value: 2345.678, unit: "m3" });
      assert.deepEqual(telegram.problems, []);
    }
  }
});

Deno.test("a text message of 1,024 0xFF bytes is an empty message (E.ON Hungary)", () => {
  const telegram = only("hu-eon-empty-message-ff.txt");
  assert.equal(telegram.format, "hungary");
  assert.equal(telegram.checksum.valid, true);
  assert.equal(telegram.textMessage, "");
  const line = telegram.obis.find((l) => l.reference === "0-0:96.13.0")!;
  assert.equal(line.raw[0], "\xff".repeat(1024), "the raw view keeps what was sent");
  assert.deepEqual(line.values, [{ kind: "empty" }]);
  const hex = "/XXX5\r\n\r\n1-0:1.8.1(000001.000*kWh)\r\n0-0:96.13.0(" + "FF".repeat(16) + ")\r\n!";
  assert.equal(parseTelegram(hex, { format: "dsmr30" }).textMessage, "", "hex-encoded too");
});

Deno.test("Luxembourg's threshold without unit carries the kVA of the Smarty specification", () => {
  const telegram = only("lu-smarty-units-left-out.txt");
  assert.equal(telegram.format, "luxembourg");
  assert.deepEqual(telegram.limiterThreshold, { value: 77.376, unit: "kVA" });
  assert.deepEqual(telegram.energy.import.total, { value: 1234.567, unit: "kWh" });
  const dutch = "/XXX5\r\n\r\n1-3:0.2.8(50)\r\n0-0:17.0.0(999.9)\r\n!";
  assert.deepEqual(
    parseTelegram(dutch, { format: "dsmr30" }).limiterThreshold,
    { value: 999.9, unit: "kW" },
    "DSMR's threshold is in kW",
  );
});
