/**
 * The file source on files that are no capture: without a telegram, a looping replay must not spin
 * a CPU; a read that fails must end the replay with its error, not reopen the file for ever.
 */
import assert from "node:assert/strict";
import { type Config, parseConfig } from "../../lib/config.ts";
import { P1Receiver, type ReceivedTelegram } from "../../lib/receiver.ts";
import { createService } from "../../lib/service.ts";
import { EMPTY_PASS_PAUSE_MS, FileSource } from "../../lib/source/file.ts";
import { concat, memoryLogger, waitFor } from "../support/helpers.ts";
import { fixtureBytes } from "../support/paths.ts";

const DSMR5 = fixtureBytes("nl-dsmr50-3phase-4mbus.txt");

/** Bytes that hold no telegram: noise, with a few `/` that start frames which never end. */
function garbage(): Uint8Array {
  const text = Array.from({ length: 40 }, (_, i) => `/noise ${i} ${"x".repeat(i * 7)}\r\n`);
  return new TextEncoder().encode(text.join(""));
}

function runFor(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The most passes a replay may begin in `elapsedMs`: the first, plus one after each pause. */
function passesAllowed(elapsedMs: number): number {
  return 2 + Math.floor(elapsedMs / EMPTY_PASS_PAUSE_MS);
}

const noTelegram = (lines: string[]) => lines.filter((line) => line.includes("no valid telegram"));

for (const intervalSeconds of [0, 0.001]) {
  Deno.test(`a looping replay of garbage (interval ${intervalSeconds} s) pauses between passes and says so once`, async () => {
    const dir = await Deno.makeTempDir();
    const path = `${dir}/garbage.txt`;
    const bytes = garbage();
    await Deno.writeFile(path, bytes);
    const { logger, lines } = memoryLogger();
    const source = new FileSource({
      path,
      loop: true,
      intervalSeconds,
      warn: (message) => logger.warn(message),
    });
    const receiver = new P1Receiver({ source, logger });
    const started = performance.now();
    receiver.start();
    await runFor(1500);
    const { bytesRead } = receiver.counters;
    const elapsed = performance.now() - started;
    await receiver.stop();
    const allowed = passesAllowed(elapsed);
    assert.ok(bytesRead <= allowed * bytes.length, `${bytesRead / bytes.length} passes`);
    assert.ok(source.passes >= 2 && source.passes <= allowed, `${source.passes} passes`);
    assert.equal(noTelegram(lines).length, 1, lines.join("\n"));
    await Deno.remove(dir, { recursive: true });
  });
}

Deno.test("a looping replay of an empty file waits for telegrams without spinning, then replays them", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/empty.txt`;
  await Deno.writeFile(path, new Uint8Array());
  const { logger, lines } = memoryLogger();
  const source = new FileSource({ path, loop: true, warn: (message) => logger.warn(message) });
  const receiver = new P1Receiver({ source, logger });
  const received: ReceivedTelegram[] = [];
  receiver.subscribe((t) => received.push(t));
  const started = performance.now();
  receiver.start();
  await runFor(1500);
  const elapsed = performance.now() - started;
  assert.ok(source.passes >= 2 && source.passes <= passesAllowed(elapsed), `${source.passes}`);
  assert.equal(receiver.state, "connecting", "still replaying");
  assert.equal(noTelegram(lines).length, 1, lines.join("\n"));

  await Deno.writeFile(path, concat(DSMR5, DSMR5));
  await waitFor(() => received.length >= 6, "telegrams once the file holds some");
  await receiver.stop();
  assert.equal(noTelegram(lines).length, 1, "said once");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("the service on a looping replay of garbage reads it about once a second, and says why", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/garbage.txt`;
  const bytes = garbage();
  await Deno.writeFile(path, bytes);
  const config = parseConfig({
    args: ["--source", `file:${path}`, "--replay-loop", "--data-dir", `${dir}/data`],
    env: {},
  }) as Config;
  const { logger, lines } = memoryLogger();
  const service = createService(config, { logger });
  const started = performance.now();
  await service.start();
  await runFor(1500);
  const status = await (await service.app.request("/api/v1/status")).json();
  const elapsed = performance.now() - started;
  await service.stop();
  const bytesRead: number = status.counters.bytesRead;
  assert.ok(bytesRead <= passesAllowed(elapsed) * bytes.length, `${bytesRead / bytes.length}`);
  assert.ok(bytesRead >= bytes.length, "the file was read");
  assert.equal(status.state, "connecting");
  assert.equal(noTelegram(lines).length, 1, lines.join("\n"));
  await Deno.remove(dir, { recursive: true });
});

/** Runs a replay of `path` to its end; fails when it does not end. */
async function replayToEnd(source: FileSource): Promise<{ receiver: P1Receiver; lines: string[] }> {
  const { logger, lines } = memoryLogger();
  const receiver = new P1Receiver({ source, logger, backoff: { initialMs: 10, maxMs: 10 } });
  receiver.start();
  await waitFor(() => receiver.state === "ended", "the replay to end", 5000);
  await receiver.finished;
  return { receiver, lines };
}

Deno.test("a directory given as the capture ends the replay with its error", async () => {
  const dir = await Deno.makeTempDir();
  for (const loop of [false, true]) {
    const source = new FileSource({ path: dir, loop });
    const { receiver, lines } = await replayToEnd(source);
    const errors = lines.filter((line) => line.includes("ERROR"));
    assert.equal(errors.length, 1, lines.join("\n"));
    assert.match(errors[0]!, new RegExp(`Cannot read "${dir}": Is a directory`));
    assert.equal(receiver.counters.reconnects, 0, "not opened again");
    assert.match(receiver.counters.lastError ?? "", /Is a directory/);
  }
  const paced = new FileSource({ path: dir, intervalSeconds: 1, loop: true });
  const { lines } = await replayToEnd(paced);
  assert.ok(lines.some((line) => line.includes("Is a directory")), lines.join("\n"));
  await Deno.remove(dir);
});

Deno.test("a FIFO that closes ends even a looping replay, with why it cannot start again", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/meter.fifo`;
  const made = await new Deno.Command("mkfifo", { args: [path] }).output();
  assert.ok(made.success, "mkfifo");
  const { logger, lines } = memoryLogger();
  const source = new FileSource({ path, loop: true });
  const receiver = new P1Receiver({ source, logger, backoff: { initialMs: 10, maxMs: 10 } });
  const received: ReceivedTelegram[] = [];
  receiver.subscribe((t) => received.push(t));
  receiver.start();
  const writer = await Deno.open(path, { write: true });
  await writer.write(DSMR5);
  writer.close();
  await waitFor(() => receiver.state === "ended", "the replay to end", 5000);
  await receiver.finished;
  assert.equal(received.length, 1);
  assert.equal(receiver.counters.reconnects, 0, "not opened again");
  const errors = lines.filter((line) => line.includes("ERROR"));
  assert.equal(errors.length, 1, lines.join("\n"));
  assert.match(errors[0]!, /Cannot read ".*meter\.fifo": .*Illegal seek/);
  await Deno.remove(dir, { recursive: true });
});
