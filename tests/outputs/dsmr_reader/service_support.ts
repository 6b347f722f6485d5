/**
 * What the push tests against the real service share: captures of distinct telegrams, the push's
 * status and metrics as the service reports them, and a real small tmpfs for a full disk.
 *
 * @module
 */

import assert from "node:assert/strict";
import { DemoMeter } from "../../../lib/source/demo.ts";
import type { FakeDsmrReader, StoredReading } from "../../support/fake_dsmr_reader.ts";
import { concat } from "../../support/helpers.ts";

/** A capture file's bytes and its telegrams as DSMR reader receives them. */
export interface Capture {
  /** The capture, to write to a file. */
  bytes: Uint8Array;
  /** Each telegram's text, in order. */
  telegrams: string[];
}

/** `count` distinct telegrams, one meter-second apart. */
export function demoCapture(count: number, start = Date.UTC(2024, 2, 1, 12, 0, 0)): Capture {
  let now = start;
  const meter = new DemoMeter({ now: () => now });
  const parts = Array.from({ length: count }, () => {
    const telegram = meter.telegram();
    now += 1000;
    return telegram;
  });
  const latin1 = new TextDecoder("latin1");
  return { bytes: concat(...parts), telegrams: parts.map((part) => latin1.decode(part)) };
}

/** A DSMR reader queue file as builds before the record framing wrote it: JSON lines. */
export function earlierQueueFile(telegrams: string[]): string {
  return telegrams.map((telegram, i) =>
    `${
      JSON.stringify({ seq: i + 1, queuedAt: 1_709_290_800_000, item: { api: "v1", telegram } })
    }\n`
  ).join("");
}

/** The push options of the service for a fake DSMR reader and a data directory. */
export function pushArgs(fake: FakeDsmrReader, dataDir: string): string[] {
  return [
    ...["--dsmr-reader-url", fake.url, "--dsmr-reader-key", fake.key, "--data-dir", dataDir],
    // The queue alone in its data directory: the tests fill its disk and count its writes.
    ...["--history", "off"],
  ];
}

/** The `dsmrReader` part of `/api/v1/status`, as far as these tests read it. */
export interface PushStatus {
  pushes: { delivered: number; deadLetter: number };
  queueLength: number;
  dropped: number;
  lost: number;
  corruptSkipped: number;
  queueWriteError: string | null;
}

/** The service's push status. */
export async function pushStatus(url: string): Promise<PushStatus> {
  return (await (await fetch(`${url}/api/v1/status`)).json()).dsmrReader;
}

/** Polls the push status until `condition` holds; fails after `timeoutMs`. */
export async function waitForStatus(
  url: string,
  condition: (status: PushStatus) => boolean,
  what: string,
  timeoutMs = 20_000,
): Promise<PushStatus> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const status = await pushStatus(url);
    if (condition(status)) return status;
    if (Date.now() > deadline) {
      throw new Error(`Timed out waiting for ${what}; last status ${JSON.stringify(status)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** One unlabelled sample of `/metrics`. */
export async function metric(url: string, name: string): Promise<number | undefined> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.slice(name.length + 1));
}

/**
 * Asserts that DSMR reader stored telegrams of `sent` in meter order, each once at most.
 *
 * @returns How many of them it stored.
 */
export function assertStoredOnceInOrder(readings: StoredReading[], sent: string[]): number {
  const positions = readings.map((reading) => sent.indexOf(reading.telegram ?? ""));
  assert.ok(positions.every((at) => at >= 0), "only telegrams that were sent");
  for (let i = 1; i < positions.length; i++) {
    assert.ok(positions[i]! > positions[i - 1]!, `in order, none twice (at reading ${i})`);
  }
  return positions.length;
}

async function run(command: string, args: string[]): Promise<{ ok: boolean; output: string }> {
  try {
    const { success, stdout, stderr } = await new Deno.Command(command, { args }).output();
    const decoder = new TextDecoder();
    return { ok: success, output: (decoder.decode(stdout) + decoder.decode(stderr)).trim() };
  } catch (error) {
    return { ok: false, output: (error as Error).message };
  }
}

/** Mounts a tmpfs of `size` (e.g. `64k`) on `dir`; throws with mount's message when refused. */
export async function mountTmpfs(dir: string, size: string): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  const { ok, output } = await run("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", dir]);
  if (!ok) throw new Error(`mount -t tmpfs on ${dir} was refused: ${output}`);
}

/** Unmounts what {@linkcode mountTmpfs} mounted. */
export async function unmount(dir: string): Promise<void> {
  const { ok, output } = await run("umount", [dir]);
  if (!ok) throw new Error(`umount ${dir} failed: ${output}`);
}

/** Why a tmpfs cannot be mounted here (not root, a container without the right), if it cannot. */
export async function whyTmpfsIsRefused(): Promise<string | undefined> {
  const dir = await Deno.makeTempDir();
  try {
    await mountTmpfs(dir, "64k");
    await unmount(dir);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  } finally {
    await Deno.remove(dir);
  }
}

/** Fills the file system under `dir` to the last byte with a file named `filler`. */
export async function fillDisk(dir: string): Promise<void> {
  const file = await Deno.open(`${dir}/filler`, { write: true, create: true });
  const chunk = new Uint8Array(4096);
  try {
    for (;;) await file.write(chunk);
  } catch (error) {
    if (!(error instanceof Error) || !/No space left/.test(error.message)) throw error;
  } finally {
    file.close();
  }
}
