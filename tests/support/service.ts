/**
 * Builds the HTTP app around a real receiver fed from fixture files, and runs promtool.
 *
 * @module
 */

import { type Config, parseConfig } from "../../lib/config.ts";
import type { MetricSnapshot } from "../../lib/metrics/table.ts";
import type { Telegram } from "../../lib/dsmr/model.ts";
import { P1Receiver } from "../../lib/receiver.ts";
import { type Logger, SILENT } from "../../lib/log.ts";
import type { OutputContext } from "../../lib/outputs/output.ts";
import { createService, outputContext } from "../../lib/service.ts";
import { FileSource } from "../../lib/source/file.ts";
import { fixture } from "./paths.ts";

/** A receiver that has read the given fixtures (or nothing yet, with no names). */
export async function receiverOf(...names: string[]): Promise<P1Receiver> {
  if (names.length === 0) {
    return new P1Receiver({ source: new FileSource({ path: fixture(names[0] ?? "none") }) });
  }
  const dir = await Deno.makeTempDir();
  const path = `${dir}/capture.txt`;
  await Deno.writeFile(
    path,
    new Uint8Array(names.flatMap((name) => [...Deno.readFileSync(fixture(name))])),
  );
  const receiver = new P1Receiver({ source: new FileSource({ path }), format: "auto" });
  receiver.start();
  await receiver.finished;
  await Deno.remove(dir, { recursive: true });
  return receiver;
}

/**
 * The app the service serves with its default options for this receiver: `serve`'s own wiring,
 * with the outputs that are on by default (the history, not started: its routes answer 503).
 */
export function appFor(receiver: P1Receiver, now?: () => number) {
  const defaults = parseConfig({ args: [], env: {} }) as Config;
  return createService(defaults, { receiver, ...(now ? { now } : {}) }).app;
}

/** What a scrape reads when `telegram` is the latest one and nothing was counted yet. */
export function snapshotOf(
  telegram: Telegram | undefined,
  more: Partial<MetricSnapshot> = {},
): MetricSnapshot {
  return {
    telegram,
    receivedAt: 0,
    counters: {
      bytesRead: 0,
      telegramsOk: 0,
      crcErrors: 0,
      parseErrors: 0,
      discardedBytes: 0,
      oversized: 0,
      incomplete: 0,
      reconnects: 0,
      encryptedFrames: {
        decrypted: 0,
        noKey: 0,
        wrongKey: 0,
        badTag: 0,
        replayed: 0,
        truncated: 0,
      },
      clockJumps: 0,
      registerGlitches: 0,
      valueProblems: 0,
    },
    state: "connected",
    version: "test",
    ...more,
  };
}

/** Whether promtool is installed (CI installs it through .ci/run). */
export function havePromtool(): boolean {
  try {
    new Deno.Command("promtool", { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync();
    return true;
  } catch {
    return false;
  }
}

/** Runs `promtool check metrics` on an exposition; returns its exit code and output. */
export async function promtoolCheck(exposition: string): Promise<{ code: number; output: string }> {
  const child = new Deno.Command("promtool", {
    args: ["check", "metrics"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(exposition));
  await writer.close();
  const { code, stdout, stderr } = await child.output();
  const decoder = new TextDecoder();
  return { code, output: decoder.decode(stdout) + decoder.decode(stderr) };
}

/**
 * Runs `promtool test rules` on the series: Prometheus's `resets()` of each must be 0, except
 * for the series named in `resets`.
 */
export async function promtoolResets(
  series: Map<string, number[]>,
  resets: Record<string, number> = {},
): Promise<{ code: number; output: string }> {
  const steps = [...series.values()][0]!.length;
  const yaml = [
    "rule_files: []",
    "tests:",
    "  - interval: 1m",
    "    input_series:",
    ...[...series].flatMap(([name, values]) => [
      `      - series: '${name}'`,
      `        values: '${values.join(" ")}'`,
    ]),
    "    promql_expr_test:",
    ...[...series.keys()].flatMap((name) => [
      `      - expr: 'resets(${name}[1d])'`,
      `        eval_time: ${steps - 1}m`,
      "        exp_samples:",
      `          - labels: '${/\{.*\}/.exec(name)?.[0] ?? "{}"}'`,
      `            value: ${resets[name] ?? 0}`,
    ]),
    "",
  ].join("\n");
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/counters.yml`, yaml);
  const { code, stdout, stderr } = await new Deno.Command("promtool", {
    args: ["test", "rules", `${dir}/counters.yml`],
    stdout: "piped",
    stderr: "piped",
  }).output();
  await Deno.remove(dir, { recursive: true });
  const decoder = new TextDecoder();
  return { code, output: decoder.decode(stdout) + decoder.decode(stderr) };
}

/**
 * What an output is given when it starts, for a test that feeds it telegrams itself: a data
 * directory, queue limits and a real receiver that is never started.
 */
export function contextFor(
  dataDir: string,
  logger: Logger = SILENT,
  queue: { maxRecords?: number; maxBytes?: number } = {},
): OutputContext {
  const receiver = new P1Receiver({ source: new FileSource({ path: `${dataDir}/no-capture` }) });
  const limits = {
    queueMax: queue.maxRecords ?? 200_000,
    queueMaxBytes: queue.maxBytes ?? 2 ** 28,
  };
  return outputContext({ dataDir, ...limits }, receiver, logger, new AbortController().signal);
}
