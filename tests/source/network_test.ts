import assert from "node:assert/strict";
import { parseTelegram } from "../../lib/dsmr/parse.ts";
import { P1Receiver, type ReceivedTelegram } from "../../lib/receiver.ts";
import { DemoMeter, DemoSource } from "../../lib/source/demo.ts";
import { FileSource } from "../../lib/source/file.ts";
import { parseSourceSpec } from "../../lib/source/source.ts";
import { TcpSource } from "../../lib/source/tcp.ts";
import { FrameScanner } from "../../lib/dsmr/framer.ts";
import { resolveFormat } from "../../lib/dsmr/formats.ts";
import { fixture, fixtureBytes } from "../support/paths.ts";
import { meterServer } from "../support/meter_server.ts";
import {
  concat,
  corruptValue,
  memoryLogger,
  openDescriptors,
  socketsOpened,
  waitFor,
} from "../support/helpers.ts";

const DSMR5 = fixtureBytes("nl-dsmr50-3phase-4mbus.txt");
const BELGIAN = fixtureBytes("be-emucs-peak.txt");

function collect(receiver: P1Receiver): ReceivedTelegram[] {
  const received: ReceivedTelegram[] = [];
  receiver.subscribe((t) => received.push(t));
  return received;
}

Deno.test("TCP source reads a streaming server, and reconnects after it stops and restarts", async () => {
  let server = meterServer();
  const port = server.port;
  const { logger, lines } = memoryLogger();
  const receiver = new P1Receiver({
    source: new TcpSource({ hostname: "127.0.0.1", port }),
    backoff: { initialMs: 20, maxMs: 200 },
    logger,
  });
  const received = collect(receiver);
  receiver.start();
  await waitFor(() => server.clients.size === 1, "the connection");
  await server.send(
    concat(new TextEncoder().encode("Port already in use\r\n"), DSMR5, corruptValue(BELGIAN)),
  );
  await waitFor(
    () => received.length === 1 && receiver.counters.crcErrors === 1,
    "a telegram and a reject",
  );

  await server.stop();
  await waitFor(() => receiver.state === "connecting", "the receiver to notice");
  await new Promise((resolve) => setTimeout(resolve, 300)); // refused reconnects meanwhile
  server = meterServer(port);
  await waitFor(() => server.clients.size === 1, "the reconnection");
  await server.send(BELGIAN);
  await waitFor(() => received.length === 2, "a telegram after the restart");

  assert.deepEqual(received.map((r) => r.telegram.format), ["dsmr50", "belgium"]);
  assert.equal(receiver.counters.reconnects, 1);
  assert.equal(
    lines.filter((line) => line.includes("Connection refused")).length,
    1,
    "refusals are logged once",
  );
  await receiver.stop();
  await server.stop();
});

Deno.test("reconnecting thousands of times leaves no descriptor or timer behind", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  const closer = (async () => {
    for await (const conn of listener) conn.close(); // a peer that hangs up at once
  })().catch(() => {});
  const before = await openDescriptors();
  const receiver = new P1Receiver({
    source: new TcpSource({ hostname: "127.0.0.1", port }),
    backoff: { initialMs: 0, maxMs: 0 },
  });
  receiver.start();
  await waitFor(() => receiver.counters.reconnects >= 2000, "2000 reconnects", 60_000);
  await receiver.stop();
  const after = await openDescriptors();
  listener.close();
  await closer;
  assert.deepEqual(socketsOpened(before, after), [], "sockets left open after 2000 reconnects");
});

Deno.test("file replay as fast as possible delivers every valid telegram, then ends", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/capture.txt`;
  await Deno.writeFile(path, concat(DSMR5, corruptValue(BELGIAN), BELGIAN, DSMR5));
  const receiver = new P1Receiver({ source: new FileSource({ path }) });
  const received = collect(receiver);
  receiver.start();
  await receiver.finished;
  assert.equal(receiver.state, "ended");
  assert.deepEqual(received.map((r) => r.bytes), [DSMR5, BELGIAN, DSMR5]);
  assert.equal(receiver.counters.crcErrors, 1);
  await receiver.stop();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("file replay as fast as possible reads a file larger than a read, loops, and closes it", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/capture.txt`;
  // Telegrams of two lengths: over the 64 KB reads, they straddle every read's edge somewhere.
  const telegrams = Array.from({ length: 100 }, (_, i) => i % 3 === 0 ? BELGIAN : DSMR5);
  await Deno.writeFile(path, concat(...telegrams));
  const before = await openDescriptors();
  const receiver = new P1Receiver({ source: new FileSource({ path, loop: true }) });
  const received = collect(receiver);
  receiver.start();
  await waitFor(() => received.length >= 3 * telegrams.length, "three passes through the file");
  await receiver.stop();
  const after = await openDescriptors();
  received.forEach((r, i) => assert.deepEqual(r.bytes, telegrams[i % telegrams.length], `#${i}`));
  assert.ok(![...after.values()].includes(path), "the file is closed once the replay stops");
  // What the runtime opens for its own work (`find`'s stdout pipe and /dev/null for its
  // stderr, event fds) may still be open when `find` looks; a leak of the replay would be a file.
  const listing = (target: string) => /^(pipe|anon_inode):/.test(target) || target === "/dev/null";
  const opened = [...after].filter(([fd, target]) => !before.has(fd) && !listing(target));
  assert.deepEqual(opened, []);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("file replay paced like a meter keeps the interval, and loops", async () => {
  const receiver = new P1Receiver({
    source: new FileSource({
      path: fixture("be-emucs-peak.txt"),
      intervalSeconds: 0.1,
      loop: true,
    }),
  });
  const received = collect(receiver);
  receiver.start();
  await waitFor(() => received.length === 4, "four telegrams from a one-telegram file");
  const gaps = received.slice(1).map((r, i) => r.receivedAt - received[i]!.receivedAt);
  assert.ok(gaps.every((gap) => gap >= 90), `gaps ${gaps}`);
  await receiver.stop();
  assert.equal(receiver.state, "stopped");
});

Deno.test("file replay of a missing file ends with a clear error", async () => {
  const { logger, lines } = memoryLogger();
  const receiver = new P1Receiver({
    source: new FileSource({ path: "/nonexistent/capture.txt" }),
    logger,
  });
  receiver.start();
  await receiver.finished;
  assert.equal(receiver.state, "ended");
  assert.ok(
    lines.some((line) =>
      line.includes('ERROR Cannot read "/nonexistent/capture.txt": No such file')
    ),
    lines.join("\n"),
  );
});

Deno.test("demo meter sends CRC-valid DSMR 5 telegrams whose counters grow", () => {
  let now = Date.UTC(2024, 6, 1, 10, 0, 0); // a summer weekday morning: tariff 2, some solar
  const meter = new DemoMeter({ now: () => now, seed: 5 });
  const scanner = new FrameScanner();
  const telegrams = [];
  for (let i = 0; i < 700; i++) {
    const [raw] = scanner.push(meter.telegram());
    telegrams.push(parseTelegram(raw!, { format: "dsmr50" }));
    now += 1000;
  }
  const first = telegrams[0]!;
  const last = telegrams.at(-1)!;
  assert.equal(first.checksum.valid, true);
  assert.equal(first.timestamp?.iso, "2024-07-01T12:00:00+02:00");
  assert.equal(first.tariff, 2);
  assert.deepEqual(Object.keys(first.phases), ["l1", "l2", "l3"]);
  assert.deepEqual(telegrams.flatMap((t) => t.problems), []);
  const total = (t: typeof first) =>
    t.energy.import.t2!.value + t.energy.export.t2!.value + t.energy.import.t1!.value +
    t.energy.export.t1!.value;
  assert.ok(total(last) > total(first), "energy registers grow");
  const gasTimes = new Set(telegrams.map((t) => t.mbus[0]!.reading!.time!.iso));
  assert.ok(
    gasTimes.size >= 2 && gasTimes.size <= 4,
    `gas reported every 5 minutes: ${[...gasTimes]}`,
  );
  assert.ok(
    new Set(telegrams.map((t) => t.power.import!.value - t.power.export!.value)).size > 10,
    "power moves",
  );
});

Deno.test("demo source feeds the receiver", async () => {
  const receiver = new P1Receiver({
    source: new DemoSource({ intervalMs: 20 }),
    format: resolveFormat("XS210ESMR5"),
  });
  const received: ReceivedTelegram[] = [];
  receiver.start();
  for await (const telegram of receiver) {
    received.push(telegram);
    if (received.length === 3) break;
  }
  await receiver.stop();
  assert.equal(received.length, 3);
  assert.equal(receiver.counters.crcErrors, 0);
});

Deno.test("parseSourceSpec() reads every kind of source and names a bad one", () => {
  assert.deepEqual(parseSourceSpec("demo"), { kind: "demo" });
  assert.deepEqual(parseSourceSpec("-"), { kind: "stdin" });
  assert.deepEqual(parseSourceSpec("file:captures/a.txt"), {
    kind: "file",
    path: "captures/a.txt",
  });
  assert.deepEqual(parseSourceSpec("/dev/serial/by-id/usb-FTDI-if00"), {
    kind: "serial",
    path: "/dev/serial/by-id/usb-FTDI-if00",
  });
  assert.deepEqual(parseSourceSpec("tcp://[::1]:23"), { kind: "tcp", hostname: "::1", port: 23 });
  assert.throws(
    () => parseSourceSpec("tcp://host"),
    /Invalid source "tcp:\/\/host": expected tcp:\/\/host:port/,
  );
  assert.throws(() => parseSourceSpec("COM3"), /Invalid source "COM3"/);
});
