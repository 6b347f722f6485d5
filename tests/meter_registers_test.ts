import assert from "node:assert/strict";
import { FrameScanner } from "../lib/dsmr/framer.ts";
import type { Telegram } from "../lib/dsmr/model.ts";
import { parseTelegram } from "../lib/dsmr/parse.ts";
import {
  meterRegisters,
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

/** A demo telegram (registers from 11080.001 kWh import t1) with import t1 set to `kwh`. */
function importT1(kwh: string, equipment?: string): Uint8Array {
  let bytes = withLine(demoTelegrams(1)[0]!, /1-0:1\.8\.1\([\d.]+\*kWh\)/, `1-0:1.8.1(${kwh}*kWh)`);
  if (equipment) {
    bytes = withLine(bytes, /0-0:96\.1\.1\(\w+\)/, `0-0:96.1.1(${equipment})`);
  }
  return bytes;
}

/** Feeds telegrams to a watch at the given receive times; the events and exported values. */
function follow(watch: RegisterWatch, steps: [Telegram, number][]) {
  const events: RegisterEvent[] = [];
  const exported: (number | undefined)[] = [];
  for (const [telegram, at] of steps) {
    events.push(...watch.observe(telegram, at));
    exported.push(watch.counterValue("energy.import.t1"));
  }
  return { events, exported };
}

Deno.test("RegisterWatch holds a register that falls, counts the fall once, and follows it once it passes", () => {
  const watch = new RegisterWatch();
  const { events, exported } = follow(
    watch,
    ["011080.001", "011070.001", "011070.002", "011080.001", "011080.002"].map((kwh, i) => [
      parse(importT1(kwh)),
      i * 1000,
    ]),
  );
  assert.deepEqual(exported, [11080.001, 11080.001, 11080.001, 11080.001, 11080.002]);
  assert.deepEqual(events, [{
    kind: "fell",
    key: "energy.import.t1",
    from: 11080.001,
    to: 11070.001,
  }]);
  assert.equal(watch.falls, 1);
});

Deno.test("RegisterWatch takes a register that stays lower for 15 minutes (3 telegrams) as a reset", () => {
  const watch = new RegisterWatch();
  const minutes = [0, 1, 5, 10, 16, 17];
  const { events, exported } = follow(
    watch,
    minutes.map((m, i) => [parse(importT1(i === 0 ? "011080.001" : `00000${i}.000`)), m * 60_000]),
  );
  // Lower from minute 1 on; at minute 16 it has been lower for 15 minutes: a reset.
  assert.deepEqual(exported, [11080.001, 11080.001, 11080.001, 11080.001, 4, 5]);
  assert.deepEqual(events.map((e) => e.kind), ["fell", "reset"]);
  assert.match(
    (events[1] as { reason: string }).reason,
    new RegExp(`below its highest value for ${RESET_AFTER_MS / 60_000} min`),
  );
  assert.equal(watch.falls, 1);
});

Deno.test("RegisterWatch does not take a short run of low telegrams for a reset, however long the gap", () => {
  const watch = new RegisterWatch();
  const { exported } = follow(watch, [
    [parse(importT1("011080.001")), 0],
    [parse(importT1("000001.000")), 60_000],
    [parse(importT1("000001.000")), 60 * 60_000],
  ]);
  assert.deepEqual(exported, [11080.001, 11080.001, 11080.001], "two telegrams are not enough");
});

Deno.test("RegisterWatch takes three telegrams in a row from another meter for a new meter", () => {
  const watch = new RegisterWatch();
  const [a, b] = ["4530303030303030303030303030303031", "4530303030303030303030303030303032"];
  const { events, exported } = follow(watch, [
    [parse(importT1("011080.001", a)), 0],
    [parse(importT1("000000.100", b)), 1000],
    [parse(importT1("000000.100", b)), 2000],
    [parse(importT1("000000.101", b)), 3000],
    [parse(importT1("000000.102", b)), 4000],
  ]);
  assert.deepEqual(exported, [11080.001, 11080.001, 11080.001, 0.101, 0.102]);
  assert.deepEqual(events.map((e) => e.kind), ["fell", "reset"]);
  assert.equal((events[1] as { reason: string }).reason, "another meter, E0000000000000002");
});

Deno.test("RegisterWatch never resets for telegrams that alternate between two meters", () => {
  const watch = new RegisterWatch();
  const [a, b] = ["4530303030303030303030303030303031", "4530303030303030303030303030303032"];
  const { events, exported } = follow(
    watch,
    Array.from({ length: 8 }, (_, i): [Telegram, number] => [
      parse(i % 2 === 0 ? importT1("011080.001", a) : importT1("000000.100", b)),
      i * 1000,
    ]),
  );
  assert.deepEqual(new Set(exported), new Set([11080.001]));
  assert.deepEqual(events.map((e) => e.kind), ["fell", "fell", "fell", "fell"]);
});

Deno.test("RegisterWatch never takes a value that is no finite number for a register's highest", () => {
  const watch = new RegisterWatch();
  const broken = parse(importT1("011080.002"));
  broken.energy.import.t1 = { value: Infinity, unit: "kWh" };
  const { exported } = follow(watch, [
    [parse(importT1("011080.001")), 0],
    [broken, 1000],
    [parse(importT1("011080.003")), 2000],
  ]);
  assert.deepEqual(exported, [11080.001, 11080.001, 11080.003]);
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
  assert.deepEqual(registers.at(-1), { key: "mbus.4", value: 987.654, owner: "E0077777777777777" });
});

Deno.test("the receiver counts each fall of a register and warns once per register", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/capture.txt`;
  const kwh = ["011080.001", "011079.001", "011080.002", "011079.002", "011080.003"];
  await Deno.writeFile(path, concat(...kwh.map((k) => importT1(k))));
  const { logger, lines } = memoryLogger();
  const receiver = new P1Receiver({ source: new FileSource({ path }), logger });
  receiver.start();
  await receiver.finished;
  assert.equal(receiver.counters.telegramsOk, 5);
  assert.equal(receiver.counters.registerFalls, 2);
  assert.equal(receiver.registers.counterValue("energy.import.t1"), 11080.003);
  const falls = lines.filter((line) => line.includes("energy.import.t1 fell"));
  assert.equal(falls.length, 2);
  assert.match(falls[0]!, /WARN.*fell from 11080\.001 to 11079\.001 with a valid CRC/);
  assert.match(falls[1]!, /DEBUG/);
  await Deno.remove(dir, { recursive: true });
});
