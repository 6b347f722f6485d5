import assert from "node:assert/strict";
import { FrameScanner } from "../lib/dsmr/framer.ts";
import type { Telegram } from "../lib/dsmr/model.ts";
import { parseTelegram } from "../lib/dsmr/parse.ts";
import {
  meterRegisters,
  mostGrowth,
  type RegisterEvent,
  RegisterWatch,
  RESET_AFTER_MS,
} from "../lib/meter_registers.ts";
import { P1Receiver } from "../lib/receiver.ts";
import { FileSource } from "../lib/source/file.ts";
import { concat, memoryLogger } from "./support/helpers.ts";
import { fixtureBytes } from "./support/paths.ts";
import { demoTelegrams, withLine } from "./support/telegrams.ts";

const parse = (bytes: Uint8Array) => parseTelegram(new FrameScanner().push(bytes)[0]!);

/** A demo telegram with import t1 set to `kwh` (and, when given, another equipment id). */
function importT1(kwh: string, equipment?: string): Uint8Array {
  let bytes = withLine(demoTelegrams(1)[0]!, /1-0:1\.8\.1\([\d.]+\*kWh\)/, `1-0:1.8.1(${kwh}*kWh)`);
  if (equipment) {
    bytes = withLine(bytes, /0-0:96\.1\.1\(\w+\)/, `0-0:96.1.1(${equipment})`);
  }
  return bytes;
}

/** Feeds telegrams to a watch at the given receive times; the verdicts and exported values. */
function follow(watch: RegisterWatch, steps: [Telegram, number][], key = "energy.import.t1") {
  const events: RegisterEvent[] = [];
  const exported: (number | undefined)[] = [];
  const glitches: boolean[] = [];
  for (const [telegram, at] of steps) {
    const verdict = watch.observe(telegram, at);
    events.push(...verdict.events);
    glitches.push(verdict.glitch);
    exported.push(watch.counterValue(key));
  }
  return { events, exported, glitches };
}

Deno.test("RegisterWatch leaves out a telegram whose register falls, and takes the next that follows", () => {
  const { events, exported, glitches } = follow(
    new RegisterWatch(),
    ["011080.001", "011070.001", "011080.002"].map((kwh, i) => [parse(importT1(kwh)), i * 10_000]),
  );
  assert.deepEqual(glitches, [false, true, false]);
  assert.deepEqual(exported, [11080.001, 11080.001, 11080.002]);
  assert.deepEqual(events, [{
    kind: "fell",
    key: "energy.import.t1",
    from: 11080.001,
    to: 11070.001,
    elapsedMs: 10_000,
  }]);
});

Deno.test("RegisterWatch leaves out a register that grows faster than 100 kW, not one that grows slower", () => {
  const { events, exported, glitches } = follow(new RegisterWatch(), [
    [parse(importT1("011080.000")), 0],
    // 100 kW for 10 s is 0.28 kWh, and a margin of 1 kWh for meters that count whole kWh.
    [parse(importT1("011081.200")), 10_000],
    [parse(importT1("011086.200")), 20_000],
    // Half an hour later, 50 kWh is 100 kW.
    [parse(importT1("011131.200")), 30 * 60_000],
  ]);
  assert.deepEqual(glitches, [false, false, true, false]);
  assert.deepEqual(exported, [11080, 11081.2, 11081.2, 11131.2]);
  assert.deepEqual(events.map((e) => [e.kind, e.from, e.to]), [["rose", 11081.2, 11086.2]]);
});

Deno.test("RegisterWatch takes a register that stays off its track for 15 minutes (3 telegrams) as a new level", () => {
  const minutes = [0, 0.5, 1, 5, 10, 16, 17];
  const { events, exported, glitches } = follow(
    new RegisterWatch(),
    minutes.map((m, i) => [parse(importT1(i < 2 ? "011080.001" : `00000${i}.000`)), m * 60_000]),
  );
  // Lower from minute 1 on; at minute 16 it has been there for 15 minutes: a new level.
  assert.deepEqual(exported, [11080.001, 11080.001, 11080.001, 11080.001, 11080.001, 5, 6]);
  assert.deepEqual(glitches, [false, false, true, true, true, false, false]);
  assert.deepEqual(events.map((e) => e.kind), ["fell", "new level"]);
  assert.match(
    (events[1] as { reason: string }).reason,
    new RegExp(`for ${RESET_AFTER_MS / 60_000} min`),
  );
});

Deno.test("RegisterWatch times a new level by the meter's clock in a replay faster than the host's", () => {
  const telegrams = demoTelegrams(8, { stepMs: 5 * 60_000 }).map((bytes, i) =>
    parse(
      i < 2 ? bytes : withLine(bytes, /1-0:1\.8\.1\([\d.]+\*kWh\)/, `1-0:1.8.1(00000${i}.000*kWh)`),
    )
  );
  const { exported } = follow(new RegisterWatch(), telegrams.map((t, i) => [t, i]));
  const before = telegrams[1]!.energy.import.t1!.value;
  assert.deepEqual(exported.slice(4), [before, 5, 6, 7], "lower for 15 minutes at the 6th");
});

Deno.test("RegisterWatch does not take a short run off its track for a new level, however long the gap", () => {
  const { exported } = follow(new RegisterWatch(), [
    [parse(importT1("011080.001")), 0],
    [parse(importT1("000001.000")), 60_000],
    [parse(importT1("000001.000")), 60 * 60_000],
  ]);
  assert.deepEqual(exported, [11080.001, 11080.001, 11080.001], "two telegrams are not enough");
});

Deno.test("RegisterWatch replaces a first value no telegram followed with three that follow each other", () => {
  // Started on a garbled telegram: the meter's real register comes next.
  const { exported, glitches, events } = follow(
    new RegisterWatch(),
    ["091080.001", "011080.002", "011080.003", "011080.004", "011080.005"].map((
      kwh,
      i,
    ) => [parse(importT1(kwh)), i * 10_000]),
  );
  assert.deepEqual(exported, [91080.001, 91080.001, 91080.001, 11080.004, 11080.005]);
  assert.deepEqual(glitches, [false, true, true, false, false]);
  assert.deepEqual(events.at(-1), {
    kind: "new level",
    key: "energy.import.t1",
    from: 91080.001,
    to: 11080.004,
    reason: "no telegram followed the value before",
  });
});

Deno.test("RegisterWatch waits 15 minutes for a new level once a telegram followed the value", () => {
  const { exported } = follow(
    new RegisterWatch(),
    ["011080.001", "011080.002", "000001.000", "000001.001", "000001.002", "000001.003"].map((
      kwh,
      i,
    ) => [parse(importT1(kwh)), i * 10_000]),
  );
  assert.deepEqual(new Set(exported.slice(1)), new Set([11080.002]));
});

Deno.test("RegisterWatch never takes values that do not follow each other for a new level", () => {
  const garbage = ["000001.000", "500001.000", "000002.000", "700002.000", "000003.000"];
  const { exported, events } = follow(
    new RegisterWatch(),
    [
      [parse(importT1("011080.001")), 0] as [Telegram, number],
      ...garbage.map((kwh, i): [Telegram, number] => [parse(importT1(kwh)), (i + 1) * 10 * 60_000]),
    ],
  );
  assert.deepEqual(new Set(exported), new Set([11080.001]));
  assert.deepEqual(events.map((e) => e.kind), ["fell", "rose", "fell", "rose", "fell"]);
});

/** A DSMR 2.2 telegram (no CRC: its equipment id may be garbled) with import t1 at `kwh`. */
function uncheckedImportT1(kwh: string, equipment: string): Telegram {
  const text =
    `/ISK5\\2ME382-1003\r\n\r\n0-0:96.1.1(${equipment})\r\n1-0:1.8.1(${kwh}*kWh)\r\n!\r\n`;
  return parseTelegram(new FrameScanner().push(new TextEncoder().encode(text))[0]!, {
    format: "dsmr22",
  });
}

const [METER_A, METER_B] = [
  "4530303030303030303030303030303031",
  "4530303030303030303030303030303032",
];

Deno.test("RegisterWatch takes three telegrams in a row from another meter without CRC for a new meter", () => {
  const steps: [Telegram, number][] = [
    [uncheckedImportT1("011080.001", METER_A), 0],
    [uncheckedImportT1("000000.100", METER_B), 1000],
    [uncheckedImportT1("000000.100", METER_B), 2000],
    [uncheckedImportT1("000000.101", METER_B), 3000],
    [uncheckedImportT1("000000.102", METER_B), 4000],
  ];
  assert.equal(steps[1]![0].checksum.valid, null, "no CRC to check");
  const { events, exported, glitches } = follow(new RegisterWatch(), steps);
  assert.deepEqual(exported, [11080.001, 11080.001, 11080.001, 0.101, 0.102]);
  assert.deepEqual(glitches, [false, true, true, false, false]);
  assert.deepEqual(events.map((e) => e.kind), ["fell", "new level"]);
  assert.equal((events[1] as { reason: string }).reason, "another meter, E0000000000000002");
});

Deno.test("RegisterWatch takes a new meter at once when the telegram's valid CRC vouches for its id", () => {
  const steps: [Telegram, number][] = [
    [parse(importT1("011080.001", METER_A)), 0],
    [parse(importT1("000000.100", METER_B)), 1000],
    [parse(importT1("000000.101", METER_B)), 2000],
  ];
  assert.equal(steps[1]![0].checksum.valid, true);
  const { events, exported, glitches } = follow(new RegisterWatch(), steps);
  assert.deepEqual(exported, [11080.001, 0.1, 0.101]);
  assert.deepEqual(glitches, [false, false, false]);
  assert.deepEqual(events, [{
    kind: "new meter",
    key: "energy.import.t1",
    from: 11080.001,
    to: 0.1,
    owner: "E0000000000000002",
  }]);
});

Deno.test("RegisterWatch keeps a falling register under the same id a glitch, however valid its CRC", () => {
  const steps: [Telegram, number][] = ["011080.001", "000000.100", "000000.101"].map((
    kwh,
    i,
  ) => [parse(importT1(kwh, METER_A)), i * 1000]);
  const { events, exported, glitches } = follow(new RegisterWatch(), steps);
  assert.deepEqual(exported, [11080.001, 11080.001, 11080.001]);
  assert.deepEqual(glitches, [false, true, true]);
  assert.deepEqual(events.map((e) => e.kind), ["fell"]);
});

Deno.test("RegisterWatch never takes a new level from telegrams without CRC that alternate between two meters", () => {
  const { events, exported } = follow(
    new RegisterWatch(),
    Array.from({ length: 8 }, (_, i): [Telegram, number] => [
      i % 2 === 0
        ? uncheckedImportT1("011080.001", METER_A)
        : uncheckedImportT1("000000.100", METER_B),
      i * 1000,
    ]),
  );
  assert.deepEqual(new Set(exported), new Set([11080.001]));
  assert.deepEqual(events.map((e) => e.kind), ["fell", "fell", "fell", "fell"]);
});

Deno.test("RegisterWatch takes one new meter at most from CRC-valid telegrams that alternate between two ids", () => {
  const { events, exported, glitches } = follow(
    new RegisterWatch(),
    Array.from({ length: 8 }, (_, i): [Telegram, number] => [
      parse(i % 2 === 0 ? importT1("011080.001", METER_A) : importT1("000000.100", METER_B)),
      i * 1000,
    ]),
  );
  // The first switch is a replaced meter; a replaced meter does not come back, so A is no new one.
  assert.deepEqual(exported, [11080.001, ...Array(7).fill(0.1)]);
  assert.deepEqual(glitches, [false, false, true, false, true, false, true, false]);
  assert.deepEqual(events.map((e) => e.kind), ["new meter", "rose", "rose", "rose"]);
});

Deno.test("RegisterWatch takes a replaced meter's id back only by the three-telegram rule", () => {
  const steps: [Telegram, number][] = [
    [parse(importT1("011080.001", METER_A)), 0],
    [parse(importT1("000000.100", METER_B)), 1000],
    [parse(importT1("011080.002", METER_A)), 2000],
    [parse(importT1("011080.003", METER_A)), 3000],
    [parse(importT1("011080.004", METER_A)), 4000],
  ];
  const { events, exported } = follow(new RegisterWatch(), steps);
  assert.deepEqual(exported, [11080.001, 0.1, 0.1, 0.1, 11080.004]);
  assert.deepEqual(events.map((e) => e.kind), ["new meter", "rose", "new level"]);
});

Deno.test("RegisterWatch never takes a value that is no finite number", () => {
  const broken = parse(importT1("011080.002"));
  broken.energy.import.t1 = { value: Infinity, unit: "kWh" };
  const { exported } = follow(new RegisterWatch(), [
    [parse(importT1("011080.001")), 0],
    [broken, 1000],
    [parse(importT1("011080.003")), 2000],
  ]);
  assert.deepEqual(exported, [11080.001, 11080.001, 11080.003]);
});

/** A demo telegram with its gas reading set: captured at `captured` (meter-local), `m3`. */
function gas(captured: string, m3: string): Telegram {
  return parse(
    withLine(
      demoTelegrams(1)[0]!,
      /0-1:24\.2\.1\(\w+\)\([\d.]+\*m3\)/,
      `0-1:24.2.1(${captured})(${m3}*m3)`,
    ),
  );
}

Deno.test("RegisterWatch judges a gas reading by its own capture time: an hourly step is no glitch", () => {
  const { glitches, exported } = follow(
    new RegisterWatch(),
    [
      [gas("240115100000W", "06919.956"), 0],
      [gas("240115100000W", "06919.956"), 10_000],
      // An hour of heating: 3 m3, captured an hour later, arriving 10 s after the last telegram.
      [gas("240115110000W", "06922.956"), 20_000],
      // 3 m3 more in a reading captured at the same time: that no meter counted.
      [gas("240115110000W", "06925.956"), 30_000],
    ],
    "mbus.1",
  );
  assert.deepEqual(glitches, [false, false, false, true]);
  assert.deepEqual(exported, [6919.956, 6919.956, 6922.956, 6922.956]);
});

Deno.test("RegisterWatch judges a gas reading without capture time since it last changed", () => {
  // A DSMR 2.2 meter whose gas line's time is no time: the reading steps by 2 m3 once an hour.
  const telegram = (m3: string) =>
    parseTelegram(
      [
        "/ISk5\\2MT382-1000",
        "",
        "1-0:1.8.1(01000.500*kWh)",
        "0-1:24.3.0(000000000000)(00)(60)(1)(0-1:24.2.1)(m3)",
        `(${m3})`,
        "!",
        "",
      ].join("\r\n"),
      { format: "dsmr22" },
    );
  const steps: [Telegram, number][] = [];
  for (let s = 0; s <= 7200; s += 10) {
    steps.push([telegram(s < 3600 ? "00100.000" : s < 7200 ? "00102.000" : "00104.000"), s * 1000]);
  }
  const { glitches, exported } = follow(new RegisterWatch(), steps, "mbus.1");
  assert.deepEqual(new Set(glitches), new Set([false]));
  assert.equal(exported.at(-1), 104);
  const { glitches: garbled } = follow(new RegisterWatch(), [
    [telegram("00100.000"), 0],
    [telegram("00100.000"), 3_600_000],
    [telegram("90100.000"), 3_610_000],
  ], "mbus.1");
  assert.deepEqual(garbled, [false, false, true], "an hour explains 61 m3, not 90,000");
});

Deno.test("RegisterWatch leaves out a power failure count that jumps by thousands", () => {
  const count = (n: string) =>
    parse(withLine(demoTelegrams(1)[0]!, /0-0:96\.7\.21\(\d+\)/, `0-0:96.7.21(${n})`));
  const { glitches, exported } = follow(
    new RegisterWatch(),
    [[count("00007"), 0], [count("90007"), 10_000], [count("00008"), 20_000]],
    "powerFailures.short",
  );
  assert.deepEqual(glitches, [false, true, false]);
  assert.deepEqual(exported, [7, 7, 8]);
});

Deno.test("mostGrowth() allows 100 kW, 60 m3/h and 1 GJ/h, judged over at least 10 s, and no unit it does not know", () => {
  assert.equal(mostGrowth("kWh", 3_600_000), 101);
  assert.equal(mostGrowth("kWh", 0), 100 * 10 / 3600 + 1);
  assert.equal(mostGrowth("m3", 3_600_000), 61);
  assert.equal(mostGrowth("GJ", 3_600_000), 1.1);
  assert.equal(mostGrowth("", 1000), Infinity);
});

Deno.test("meterRegisters() names every register of a DSMR 5 telegram with four M-Bus devices", () => {
  const registers = meterRegisters(parse(fixtureBytes("nl-dsmr50-3phase-4mbus.txt")));
  assert.deepEqual(registers.map((r) => r.key), [
    "energy.import.t1",
    "energy.import.t2",
    "energy.export.t1",
    "energy.export.t2",
    "powerFailures.short",
    "powerFailures.long",
    "phases.l1.voltageSags",
    "phases.l1.voltageSwells",
    "phases.l2.voltageSags",
    "phases.l2.voltageSwells",
    "phases.l3.voltageSags",
    "phases.l3.voltageSwells",
    "mbus.1",
    "mbus.2",
    "mbus.3",
    "mbus.4",
  ]);
  assert.deepEqual(registers.at(-1), {
    key: "mbus.4",
    value: 987.654,
    owner: "E0077777777777777",
    unit: "kWh",
    capturedAt: Date.parse("2024-06-30T23:55:00+02:00"),
  });
  assert.deepEqual(new Set(registers.slice(0, 4).map((r) => r.unit)), new Set(["kWh"]));
  assert.deepEqual(new Set(registers.slice(4, 12).map((r) => r.unit)), new Set(["count"]));
});

Deno.test("the receiver flags and counts each glitch, and warns once per register", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/capture.txt`;
  const kwh = ["011080.001", "011079.001", "011080.002", "011079.002", "011080.003"];
  await Deno.writeFile(path, concat(...kwh.map((k) => importT1(k))));
  const { logger, lines } = memoryLogger();
  const receiver = new P1Receiver({ source: new FileSource({ path }), logger });
  const flags: (string | undefined)[] = [];
  receiver.subscribe((received) => flags.push(received.implausible));
  receiver.start();
  await receiver.finished;
  assert.equal(receiver.counters.telegramsOk, 5);
  assert.deepEqual(flags, [undefined, "register glitch", undefined, "register glitch", undefined]);
  assert.equal(receiver.counters.registerGlitches, 2);
  assert.equal(receiver.registers.counterValue("energy.import.t1"), 11080.003);
  const falls = lines.filter((line) => line.includes("energy.import.t1 fell"));
  assert.equal(falls.length, 2);
  assert.match(
    falls[0]!,
    /WARN.*fell from 11080\.001 to 11079\.001 \(the telegram's CRC was valid\): telegram left out/,
  );
  assert.match(falls[1]!, /DEBUG/);
  await Deno.remove(dir, { recursive: true });
});
