import assert from "node:assert/strict";
import { ChecksumError, TelegramSyntaxError } from "../../lib/dsmr/errors.ts";
import { FrameScanner, type RawTelegram } from "../../lib/dsmr/framer.ts";
import { crc16, formatCrc } from "../../lib/dsmr/crc16.ts";
import { latin1Bytes } from "../../lib/bytes.ts";
import type { Telegram } from "../../lib/dsmr/model.ts";
import { type FormatId, resolveFormat } from "../../lib/dsmr/formats.ts";
import { parseTelegram } from "../../lib/dsmr/parse.ts";
import { lexTelegram } from "../../lib/dsmr/lexer.ts";
import { decodeValue, readTimestamp } from "../../lib/dsmr/values.ts";
import { fixtureBytes } from "../support/paths.ts";

function frame(name: string) {
  const [raw] = new FrameScanner().push(fixtureBytes(name));
  assert.ok(raw, `${name} frames`);
  return raw;
}

/** The named part of a telegram (everything but the generic view and the raw text). */
function named(t: Telegram) {
  const { obis: _obis, raw: _raw, ...rest } = t;
  return rest;
}

const ts = (raw: string) => readTimestamp(raw)!;
const kwh = (value: number) => ({ value, unit: "kWh" });
const kw = (value: number) => ({ value, unit: "kW" });

Deno.test("parseTelegram() reads every DSMR 5.0.2 field: three phases, four M-Bus channels", () => {
  const telegram = parseTelegram(frame("nl-dsmr50-3phase-4mbus.txt"), { format: "dsmr50" });
  assert.deepEqual(named(telegram), {
    format: "dsmr50",
    header: "ISK5\\2M550T-1013",
    manufacturer: "ISK",
    version: "50",
    timestamp: {
      iso: "2024-06-30T23:59:59+02:00",
      epochMs: Date.UTC(2024, 5, 30, 21, 59, 59),
      raw: "240630235959S",
    },
    equipmentId: "E0043007052870318",
    tariff: 2,
    energy: {
      import: { t1: kwh(12345.678), t2: kwh(23456.789) },
      export: { t1: kwh(1234.567), t2: kwh(2345.678) },
    },
    power: { import: kw(1.193), export: kw(0) },
    phases: {
      l1: {
        voltage: { value: 230.1, unit: "V" },
        current: { value: 2, unit: "A" },
        powerImport: kw(0.412),
        powerExport: kw(0),
        voltageSags: 2,
        voltageSwells: 0,
      },
      l2: {
        voltage: { value: 229.8, unit: "V" },
        current: { value: 1, unit: "A" },
        powerImport: kw(0.131),
        powerExport: kw(0),
        voltageSags: 1,
        voltageSwells: 3,
      },
      l3: {
        voltage: { value: 231, unit: "V" },
        current: { value: 3, unit: "A" },
        powerImport: kw(0.65),
        powerExport: kw(0),
        voltageSags: 0,
        voltageSwells: 0,
      },
    },
    powerFailures: {
      short: 12,
      long: 3,
      log: [
        { end: ts("231029025512W"), durationSeconds: 3600 },
        { end: ts("240331031500S"), durationSeconds: 240 },
      ],
    },
    textMessage: "Storing gepland 1 juli",
    mbus: [
      {
        channel: 1,
        deviceType: 3,
        kind: "gas",
        id: "G0012345678901234",
        reading: { time: ts("240630235500S"), value: { value: 4321.987, unit: "m3" } },
      },
      {
        channel: 2,
        deviceType: 7,
        kind: "water",
        id: "W0098765432109876",
        reading: { time: ts("240630235000S"), value: { value: 123.456, unit: "m3" } },
      },
      {
        channel: 3,
        deviceType: 4,
        kind: "heat",
        id: "H0055555555555555",
        reading: { time: ts("240630230000S"), value: { value: 12.34, unit: "GJ" } },
      },
      {
        channel: 4,
        deviceType: 2,
        kind: "electricity",
        id: "E0077777777777777",
        reading: { time: ts("240630235500S"), value: kwh(987.654) },
      },
    ],
    problems: [],
    checksum: {
      stated: telegram.raw.match(/!([0-9A-F]{4})/)![1]!,
      computed: telegram.raw.match(/!([0-9A-F]{4})/)![1]!,
      valid: true,
    },
  });
});

Deno.test("parseTelegram() reads the Belgian capacity-tariff fields and gas on 24.2.3", () => {
  const telegram = parseTelegram(frame("be-emucs-peak.txt"));
  assert.equal(telegram.format, "belgium");
  assert.equal(telegram.version, "50217");
  assert.equal(telegram.equipmentId, "1SAG1100042181");
  assert.deepEqual(telegram.demand, {
    currentAverage: kw(2.351),
    monthPeak: { time: ts("241203184500W"), value: kw(4.128) },
    history: [
      { month: ts("241001000000S"), time: ts("240917191500S"), value: kw(3.695) },
      { month: ts("241101000000W"), time: ts("241024074500S"), value: kw(5) },
    ],
  });
  assert.deepEqual(telegram.fuseThreshold, { value: 999, unit: "A" });
  assert.deepEqual(telegram.limiterThreshold, { value: 999.9, unit: "kW" });
  assert.equal(telegram.breakerState, 1);
  assert.equal(telegram.textMessage, "");
  assert.deepEqual(telegram.mbus, [
    {
      channel: 1,
      deviceType: 3,
      kind: "gas",
      id: "3SAG4420112345",
      valve: 1,
      reading: { time: ts("241215115500W"), value: { value: 1234.567, unit: "m3" } },
    },
  ]);
  assert.deepEqual(telegram.phases, {
    l1: {
      voltage: { value: 232.4, unit: "V" },
      current: { value: 4.12, unit: "A" },
      powerImport: kw(0.87),
      powerExport: kw(0),
    },
  });
});

Deno.test("parseTelegram() reads DSMR 2.2 gas from the line after 0-1:24.3.0", () => {
  const telegram = parseTelegram(frame("nl-dsmr22-gas-nextline.txt"), { format: "dsmr22" });
  assert.equal(telegram.checksum.valid, null);
  assert.deepEqual(telegram.mbus, [
    {
      channel: 1,
      deviceType: 3,
      kind: "gas",
      id: "000000000000",
      valve: 1,
      reading: { time: ts("240117100000"), value: { value: 456.789, unit: "m3" } },
    },
  ]);
  assert.equal(telegram.mbus[0]!.reading!.time!.iso, "2024-01-17T10:00:00+01:00");
  const gasLine = telegram.obis.find((line) => line.reference === "0-1:24.3.0")!;
  assert.deepEqual(gasLine.raw, ["240117100000", "00", "60", "1", "0-1:24.2.1", "m3", "00456.789"]);
  assert.equal(telegram.timestamp, undefined, "a missing value is absent, not invented");
});

Deno.test("parseTelegram() keeps lines the format does not know in the obis view", () => {
  const text = "/XMX5LGBBFFB123456789\r\n\r\n1-3:0.2.8(50)\r\n1-0:99.1.0(12*kWh)(ABC)\r\n!";
  const telegram = parseTelegram(text, { format: "dsmr30" });
  assert.deepEqual(telegram.obis, [
    {
      reference: "1-3:0.2.8",
      raw: ["50"],
      values: [{ kind: "text", value: "50" }],
      field: "version",
    },
    {
      reference: "1-0:99.1.0",
      raw: ["12*kWh", "ABC"],
      values: [{ kind: "number", value: 12, unit: "kWh" }, { kind: "text", value: "ABC" }],
      field: undefined,
    },
  ]);
});

Deno.test("parseTelegram() treats empty values () as absent and reports unreadable ones", () => {
  const text =
    "/XXX5\r\n\r\n1-0:1.8.1()\r\n1-0:1.8.2(abc*kWh)\r\n1-0:1.7.0(1.0*m3)\r\n0-0:96.13.0()\r\n1-0:99.97.0()\r\n!";
  const telegram = parseTelegram(text, { format: "dsmr30" });
  assert.deepEqual(telegram.energy, { import: {}, export: {} });
  assert.equal(telegram.power.import, undefined);
  assert.deepEqual(telegram.powerFailures, { log: [] });
  assert.equal(telegram.textMessage, "");
  assert.deepEqual(telegram.problems.map((p) => p.reference), ["1-0:1.8.2", "1-0:1.7.0"]);
  assert.match(telegram.problems[0]!.reason, /abc\*kWh/);
});

Deno.test("parseTelegram() rejects a wrong CRC with both CRCs in the error", () => {
  const bytes = fixtureBytes("nl-dsmr50-3phase-4mbus.txt");
  const corrupt = bytes.slice();
  corrupt[200] = corrupt[200] === 0x31 ? 0x32 : 0x31;
  const [raw] = new FrameScanner().push(corrupt);
  assert.throws(() => parseTelegram(raw!), (error: unknown) => {
    assert.ok(error instanceof ChecksumError);
    assert.match(
      error.message,
      /CRC mismatch: telegram states "[0-9A-F]{4}", computed "[0-9A-F]{4}"/,
    );
    return true;
  });
});

Deno.test("parseTelegram() rejects a telegram without CRC for a format that requires one", () => {
  const [raw] = new FrameScanner().push(fixtureBytes("nl-dsmr22-gas-nextline.txt"));
  assert.throws(
    () => parseTelegram(raw!, { format: "dsmr50" }),
    /has no CRC, but format "dsmr50" requires one/,
  );
  assert.equal(parseTelegram(raw!).format, "dsmr30", "auto reads it as a DSMR 2.2/3.0 telegram");
});

Deno.test("parseTelegram() reads with the original product's format names in any case", () => {
  const raw = frame("nl-original-readme-example.txt");
  assert.equal(parseTelegram(raw, { format: resolveFormat("XS210ESMR5") }).format, "dsmr50");
  assert.equal(parseTelegram(raw, { format: resolveFormat("v502") }).format, "dsmr50");
});

Deno.test("parseTelegram() refuses a format id that is none, as JavaScript may pass one", () => {
  const raw = frame("nl-original-readme-example.txt");
  assert.throws(
    () => parseTelegram(raw, { format: "dsmr99" as FormatId }),
    /Unknown format "dsmr99": expected one of auto, dsmr22/,
  );
});

Deno.test("parseTelegram() reads the original README telegram with gas 6919.956, not 6919.9563", () => {
  const telegram = parseTelegram(frame("nl-original-readme-example.txt"), {
    format: resolveFormat("XS210ESMR5"),
  });
  assert.deepEqual(telegram.mbus[0]?.reading?.value, { value: 6919.956, unit: "m3" });
  assert.equal(telegram.mbus[0]?.channel, 2);
  assert.equal(telegram.powerFailures.log?.length, 9);
});

Deno.test("parseTelegram() refuses text that is not a telegram", () => {
  assert.throws(() => parseTelegram("1-0:1.8.1(1*kWh)\r\n!0000"), TelegramSyntaxError);
  assert.throws(() => parseTelegram("/XXX5\r\n\r\n!"), /no data line/);
});

Deno.test("parseTelegram() reads bytes outside ASCII as Latin-1, one character per byte", () => {
  const message = (...middle: number[]) => {
    const bytes = new Uint8Array([
      ...new TextEncoder().encode("/XXX5\r\n\r\n0-0:96.13.1(caf"),
      ...middle,
      ...new TextEncoder().encode(")\r\n!\r\n"),
    ]);
    const [raw] = new FrameScanner().push(bytes);
    const telegram = parseTelegram(raw!, { format: "dsmr30" });
    assert.equal(telegram.raw.length, bytes.length);
    return telegram.obis[0]!.raw[0];
  };
  assert.equal(message(0xe9), "caf\u00e9", "a Latin-1 byte, which is not UTF-8");
  assert.equal(message(0xc3, 0xa9), "caf\u00c3\u00a9", "the UTF-8 bytes of an e acute");
  assert.equal(message(0x80, 0x9f), "caf\u0080\u009f", "not windows-1252's euro sign");
});

Deno.test("parseTelegram() reads lines by reference when a meter changes their order", () => {
  const first = "/XXX5\r\n\r\n1-0:1.8.1(000001.000*kWh)\r\n1-0:32.7.0(230.0*V)\r\n!";
  const swapped = "/XXX5\r\n\r\n1-0:32.7.0(231.0*V)\r\n1-0:1.8.1(000002.000*kWh)\r\n!";
  const renamed = "/XXX5\r\n\r\n0-2:24.1.0(003)\r\n1-0:1.8.2(000003.000*kWh)\r\n!";
  for (let round = 0; round < 3; round++) {
    const a = parseTelegram(first, { format: "dsmr30" });
    assert.deepEqual(a.energy.import.t1, kwh(1));
    assert.deepEqual(a.phases.l1?.voltage, { value: 230, unit: "V" });
    const b = parseTelegram(swapped, { format: "dsmr30" });
    assert.deepEqual(b.energy.import.t1, kwh(2));
    assert.deepEqual(b.phases.l1?.voltage, { value: 231, unit: "V" });
    const c = parseTelegram(renamed, { format: "dsmr30" });
    assert.deepEqual(c.energy.import, { t2: kwh(3) });
    assert.deepEqual(c.mbus.map((d) => [d.channel, d.deviceType]), [[2, 3]]);
  }
});

Deno.test("parseTelegram() does not take a longer or spaced reference for the one before it", () => {
  const known = "/XXX5\r\n\r\n1-0:1.8.1(000001.000*kWh)\r\n!";
  const longer = "/XXX5\r\n\r\n1-0:1.8.10(000002.000*kWh)\r\n1-0:1.7.0(1.0*kW)\r\n!";
  const spaced = "/XXX5\r\n\r\n 1-0:1.8.1 (000003.000*kWh)\r\n!";
  for (let round = 0; round < 2; round++) {
    assert.deepEqual(parseTelegram(known, { format: "dsmr30" }).energy.import, { t1: kwh(1) });
    const a = parseTelegram(longer, { format: "dsmr30" });
    assert.deepEqual(a.energy.import, {});
    assert.deepEqual(a.obis.map((line) => [line.reference, line.field]), [
      ["1-0:1.8.10", undefined],
      ["1-0:1.7.0", "power.import"],
    ]);
    const b = parseTelegram(spaced, { format: "dsmr30" });
    assert.deepEqual(b.energy.import, { t1: kwh(3) });
    assert.equal(b.obis[0]?.reference, "1-0:1.8.1");
  }
});

Deno.test("parseTelegram() reads number groups as the lexer cuts them and decodeValue reads them", () => {
  // The parser reads a number and finds its group's end in one pass; whatever the group holds,
  // its raw string and value are those of the lexer's group, decoded on its own.
  const lines = [
    "1-0:1.8.1(000001.5*kWh)",
    "1-0:1.8.2(2.5*kWh", // not closed: runs to the line end, CR excluded
    "1-0:2.8.1(3*)", // an empty unit
    "1-0:2.8.2(-4.25*kWh)(5)(x)", // groups after the first
    "1-0:1.7.0(1e5*kW)",
    "1-0:2.7.0(6*k(W)",
    "1-0:32.7.0(7*V)junk(8)",
    "1-0:52.7.0(+9*V) ",
    "1-0:72.7.0(12345678901234567890.5*V)",
    "0-0:96.7.21(00013)",
    "0-0:96.7.9()",
    "1-0:31.7.0(.5*A)",
    "1-0:51.7.0(5.*A)",
  ];
  for (const end of ["\r\n", "\n"]) {
    const text = `/XXX5${end}${end}${lines.join(end)}${end}!`;
    const telegram = parseTelegram(text, { format: "dsmr30" });
    const lexed = lexTelegram(text).lines;
    assert.deepEqual(
      telegram.obis.map((line) => [line.reference, line.raw]),
      lexed.map((
        line,
      ) => [line.reference, line.groups]),
    );
    for (const line of telegram.obis) {
      assert.deepEqual(
        line.values,
        line.raw.map((raw) => decodeValue(raw, "number")),
        line.reference,
      );
    }
  }
});

/** A telegram with its CRC computed, from its lines. */
function withCrc(lines: string[]): RawTelegram {
  const text = `${lines.join("\r\n")}\r\n!`;
  const [raw] = new FrameScanner().push(
    latin1Bytes(`${text}${formatCrc(crc16(latin1Bytes(text), 0, text.length))}\r\n`),
  );
  return raw!;
}

/** Every number in a model, however deep. */
function numbers(value: unknown): number[] {
  if (typeof value === "number") return [value];
  if (value === null || typeof value !== "object") return [];
  return Object.values(value).flatMap(numbers);
}

Deno.test("parseTelegram() keeps values that can never be right out of the named fields", () => {
  const telegram = parseTelegram(withCrc([
    "/ISK5\\2M550T-1012",
    "",
    "1-3:0.2.8(50)",
    `1-0:1.8.1(${"9".repeat(400)}.000*kWh)`,
    "1-0:1.8.2(1234567.000*kWh)",
    "1-0:2.8.1(000012.345*kWh)",
    "1-0:1.7.0(123.456*kW)",
    "1-0:32.7.0(2301.0*V)",
    "0-0:96.7.21(123456)",
    "0-0:96.14.0(12345)",
    `1-0:99.1.0(${"9".repeat(400)})`,
    "0-1:24.1.0(003)",
    "0-1:24.2.1(240630235500S)(00042.000*<img src=x onerror=alert(1)>)",
    "0-2:24.1.0(003)",
    "0-2:24.2.1(240630235500S)(1234567.000*m3)",
  ]));
  assert.equal(telegram.checksum.valid, true);
  assert.deepEqual(telegram.problems.map((problem) => problem.reference), [
    "1-0:1.8.1",
    "1-0:1.8.2",
    "1-0:1.7.0",
    "1-0:32.7.0",
    "0-0:96.7.21",
    "0-0:96.14.0",
    "0-1:24.2.1",
    "0-2:24.2.1",
  ]);
  assert.match(telegram.problems[1]!.reason, /format F9\(3\) kWh from "1234567.000\*kWh"/);
  assert.equal(
    telegram.problems[0]!.reason,
    `Cannot read a number of format F9(3) kWh from "${"9".repeat(80)}..."`,
    "a long value is named by its start",
  );
  assert.deepEqual(telegram.energy, {
    import: {},
    export: { t1: { value: 12.345, unit: "kWh" } },
  });
  assert.deepEqual(telegram.power, {});
  assert.deepEqual(telegram.phases, {});
  assert.deepEqual(telegram.powerFailures, {});
  assert.equal(telegram.tariff, undefined);
  assert.deepEqual(telegram.mbus.map((device) => device.reading), [undefined, undefined]);
  // The raw view keeps what was sent; a number too long to be finite is text there.
  const line = telegram.obis.find((l) => l.reference === "1-0:99.1.0")!;
  assert.deepEqual(line.values, [{ kind: "text", value: "9".repeat(400) }]);
  assert.ok(numbers(telegram).every(Number.isFinite), "no number that JSON would write as null");
});

Deno.test("parseTelegram() reads values at the edge of their format and scaled units", () => {
  const telegram = parseTelegram(withCrc([
    "/XXX5",
    "",
    "1-3:0.2.8(50)",
    "1-0:1.8.1(999999.999*kWh)",
    "1-0:1.8.2(000999999*Wh)",
    "1-0:1.7.0(99.999*kW)",
    "1-0:2.7.0(002124.86*W)",
    "0-0:96.14.0(9999)",
  ]));
  assert.deepEqual(telegram.problems, []);
  assert.deepEqual(telegram.energy.import, {
    t1: { value: 999999.999, unit: "kWh" },
    t2: { value: 999.999, unit: "kWh" },
  });
  assert.deepEqual(telegram.power, {
    import: { value: 99.999, unit: "kW" },
    export: { value: 2.12486, unit: "kW" },
  });
  assert.equal(telegram.tariff, 9999);
});

Deno.test("parseTelegram() refuses a line 0-n:24.1.0, which names no channel, as no OBIS reference", () => {
  // It was read as the M-Bus row of no channel and crashed the parser with a TypeError.
  for (const line of ["0-n:24.1.0(003)", "0-n:24.2.1(240630235500S)(00042.000*m3)"]) {
    const text = `/XXX5\r\n\r\n1-0:1.8.1(000001.000*kWh)\r\n${line}\r\n!`;
    assert.throws(() => parseTelegram(text, { format: "dsmr30" }), (error: unknown) => {
      assert.ok(error instanceof TelegramSyntaxError, String(error));
      assert.match(error.message, /its line "0-n:24\.[12]\.[01]" does not start with an OBIS/);
      return true;
    });
  }
});

Deno.test("parseTelegram() knows a line without values by its reference, and says it has none", () => {
  const telegram = parseTelegram("/XXX5\r\n\r\n1-3:0.2.8\r\n1-0:1.8.1(000001.000*kWh)\r\n!", {
    format: "dsmr30",
  });
  assert.deepEqual(telegram.obis[0], {
    reference: "1-3:0.2.8",
    raw: [],
    values: [],
    field: "version",
  });
  assert.deepEqual(telegram.problems, [
    { reference: "1-3:0.2.8", reason: 'Cannot read text from ""' },
  ]);
});

Deno.test("parseTelegram() reads each telegram the same, whatever it read before", () => {
  const names = [
    "nl-dsmr22-gas-nextline.txt",
    "be-emucs-peak.txt",
    "nl-dsmr50-3phase-4mbus.txt",
    "hu-eon-empty-message-ff.txt",
    "lu-smarty-units-left-out.txt",
    "nl-dsmr40-text-two-lines.txt",
  ];
  const alone = names.map((name) => JSON.stringify(parseTelegram(frame(name))));
  for (let round = 0; round < 3; round++) {
    for (const [i, name] of [...names.entries()].reverse()) {
      assert.equal(JSON.stringify(parseTelegram(frame(name))), alone[i], name);
    }
  }
});
