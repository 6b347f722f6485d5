import assert from "node:assert/strict";
import { P1Receiver, type ReceivedTelegram } from "../../lib/receiver.ts";
import { SerialSource } from "../../lib/source/serial.ts";
import { AUTO_SERIAL_SETTINGS } from "../../lib/source/create.ts";
import { fixtureBytes } from "../support/paths.ts";
import { Pty, sttyAll } from "../support/pty.ts";
import { concat, corruptValue, memoryLogger, randomChunks, waitFor } from "../support/helpers.ts";

const DSMR5 = fixtureBytes("nl-dsmr50-3phase-4mbus.txt");
const ORIGINAL = fixtureBytes("nl-original-readme-example.txt");
const EIGHT_N_ONE = AUTO_SERIAL_SETTINGS[0]!;
const encode = (text: string) => new TextEncoder().encode(text);

function collect(receiver: P1Receiver): ReceivedTelegram[] {
  const received: ReceivedTelegram[] = [];
  receiver.subscribe((t) => received.push(t));
  return received;
}

Deno.test("serial source reads telegrams written into a pty in random chunks, with garbage and bad CRCs", async () => {
  const pty = Pty.open();
  const { logger, lines } = memoryLogger();
  const receiver = new P1Receiver({
    source: new SerialSource({ path: pty.path, settings: [EIGHT_N_ONE] }),
    format: "dsmr50",
    logger,
  });
  const received = collect(receiver);
  receiver.start();
  await waitFor(() => lines.some((line) => line.includes("opened")), "the port to open");

  const stty = await sttyAll(pty.path);
  assert.match(stty, /speed 115200 baud/);
  for (
    const flag of [
      "cs8",
      "-parenb",
      "-cstopb",
      "-icanon",
      "-echo",
      "-icrnl",
      "-opost",
      "-ixon",
      "-crtscts",
      "cread",
      "clocal",
    ]
  ) {
    assert.match(stty, new RegExp(`(^|\\s)${flag}(\\s|$)`), `stty shows ${flag}`);
  }

  const stream = concat(
    encode("\x00\x7fline noise"),
    DSMR5,
    corruptValue(ORIGINAL),
    ORIGINAL,
    DSMR5.slice(0, 200), // cut short by the next telegram
    ORIGINAL,
    corruptValue(DSMR5),
    DSMR5,
  );
  for (const chunk of randomChunks(stream, 300)) await pty.write(chunk);
  await waitFor(() => received.length === 4, "four valid telegrams");
  assert.deepEqual(received.map((r) => r.bytes), [DSMR5, ORIGINAL, ORIGINAL, DSMR5]);
  const counters = receiver.counters;
  assert.equal(counters.crcErrors, 2);
  assert.equal(counters.telegramsOk, 4);
  assert.equal(counters.incomplete, 1);
  assert.equal(counters.bytesRead, stream.length);
  assert.equal(receiver.state, "connected");
  assert.equal(receiver.latest?.telegram.mbus[3]?.kind, "electricity");
  await receiver.stop();
  pty.close();
});

Deno.test("serial source asks for 9600 7E1 and warns that a pty cannot hold 7 bits and parity", async () => {
  const pty = Pty.open();
  const source = new SerialSource({ path: pty.path, settings: [AUTO_SERIAL_SETTINGS[1]!] });
  const stream = await source.open();
  assert.match(await sttyAll(pty.path), /speed 9600 baud/);
  assert.equal(stream.warnings.length, 1);
  assert.match(
    stream.warnings[0]!,
    /did not take all of 9600 7E1 \(data bits: requested 0o40, got 0o60; parity/,
  );
  await stream.close();
  pty.close();
});

Deno.test("serial source says what is wrong with a missing device and with a file that is no tty", async () => {
  await assert.rejects(
    new SerialSource({ path: "/dev/does-not-exist", settings: [EIGHT_N_ONE] }).open(),
    (error: Error & { code?: string; hint?: string }) =>
      error.code === "ENOENT" &&
      /Cannot open "\/dev\/does-not-exist": No such file/.test(error.message) &&
      /ls -l \/dev\/serial\/by-id\/.*--source|--source.*ls -l \/dev\/serial\/by-id\//.test(
        error.hint ?? "",
      ),
  );
  const file = await Deno.makeTempFile();
  await assert.rejects(
    new SerialSource({ path: file, settings: [EIGHT_N_ONE] }).open(),
    /it is not a serial device/,
  );
  await Deno.remove(file);
});

Deno.test("receiver survives an unplug mid-telegram and resumes on the replugged device", async () => {
  const dir = await Deno.makeTempDir();
  const link = `${dir}/usb-P1_cable-if00-port0`;
  const first = Pty.open();
  await Deno.symlink(first.path, link);
  const { logger, lines } = memoryLogger();
  const receiver = new P1Receiver({
    source: new SerialSource({ path: link, settings: [EIGHT_N_ONE] }),
    format: "dsmr50",
    backoff: { initialMs: 20, maxMs: 100 },
    logger,
  });
  const received = collect(receiver);
  receiver.start();
  await waitFor(() => lines.some((line) => line.includes("opened")), "the first open");
  await first.write(DSMR5);
  await waitFor(() => received.length === 1, "the first telegram");

  await first.write(ORIGINAL.slice(0, 400)); // half a telegram, then the cable is pulled
  await new Promise((resolve) => setTimeout(resolve, 50));
  first.close();
  await waitFor(() => receiver.state === "connecting", "the receiver to notice the unplug");
  await new Promise((resolve) => setTimeout(resolve, 300)); // a few failed reopens

  const second = Pty.open();
  await Deno.symlink(second.path, `${link}.new`);
  await Deno.rename(`${link}.new`, link); // udev re-points the by-id link
  await waitFor(() => lines.filter((line) => line.includes("opened")).length === 2, "the reopen");
  await second.write(concat(ORIGINAL.slice(400), ORIGINAL)); // the rest of the old one, then a whole one
  await waitFor(() => received.length === 2, "a telegram after the replug");

  assert.deepEqual(received.map((r) => r.bytes), [DSMR5, ORIGINAL]);
  assert.equal(receiver.counters.reconnects, 1);
  assert.equal(receiver.counters.crcErrors, 0, "no half telegram from before the unplug surfaced");
  assert.equal(
    lines.filter((line) => line.includes("went away")).length,
    1,
    "the unplug is logged once",
  );
  assert.ok(
    lines.filter((line) => line.includes("No such file")).length <= 1,
    "retries are not logged each time",
  );
  await receiver.stop();
  second.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("receiver marks a silent device stale, then closes and reopens it", async () => {
  const pty = Pty.open();
  const { logger, lines } = memoryLogger();
  const receiver = new P1Receiver({
    source: new SerialSource({ path: pty.path, settings: [EIGHT_N_ONE] }),
    format: "dsmr50",
    staleAfterMs: 300,
    reopenAfterMs: 900,
    logger,
  });
  receiver.start();
  await waitFor(() => lines.some((line) => line.includes("opened")), "the port to open");
  await pty.write(DSMR5);
  await waitFor(() => receiver.state === "connected", "a telegram");
  await waitFor(() => receiver.state === "stale", "the stale state", 3000);
  await waitFor(
    () => lines.some((line) => line.includes("reopening: no valid telegram")),
    "the reopen",
    5000,
  );
  await waitFor(
    () => lines.filter((line) => line.includes("opened")).length === 2,
    "the second open",
  );
  assert.equal(receiver.counters.reconnects, 1);
  await receiver.stop();
  pty.close();
});

Deno.test("auto serial settings move on to 9600 7E1 when bytes arrive but no telegram is valid", async () => {
  const pty = Pty.open();
  const { logger, lines } = memoryLogger();
  const source = new SerialSource({ path: pty.path, settings: AUTO_SERIAL_SETTINGS });
  const receiver = new P1Receiver({ source, settingsProbeMs: 300, logger });
  receiver.start();
  await waitFor(() => lines.some((line) => line.includes("opened")), "the port to open");
  // What a 9600 7E1 meter looks like at 115200 8N1: bytes, never a valid telegram.
  const noise = setInterval(() => void pty.write(encode("\xf8\x80\x80\xf8\x00\x80")), 50);
  await waitFor(
    () => lines.some((line) => line.includes("trying serial") && line.includes("9600 7E1")),
    "the switch",
  );
  clearInterval(noise);
  await waitFor(
    () => lines.filter((line) => line.includes("opened")).length === 2,
    "the reopen at 9600",
  );
  assert.match(await sttyAll(pty.path), /speed 9600 baud/);
  await pty.write(fixtureBytes("nl-dsmr22-gas-nextline.txt"));
  await waitFor(() => receiver.latest !== undefined, "a telegram at 9600");
  assert.equal(source.nextSettings(), undefined, "the working settings are kept");
  assert.equal(receiver.latest!.telegram.format, "dsmr30");
  await receiver.stop();
  pty.close();
});
