/**
 * `deno task bench:push` (a load run, not a `Deno.bench` file): the fastest looping replay
 * (`--replay-interval 0 --replay-loop`) of a two-M-Bus telegram into the pushes while their
 * receiving end answers 500, so that everything stays queued. For each setup it prints the
 * service's resident memory 2 s after it listens and its peak over the next `BENCH_SECONDS`
 * (12 by default), the queue's counters at the end, and how long the service took to exit after
 * SIGTERM. A benchmark, not a test: it prints figures and asserts nothing.
 *
 * Setups: the DSMR reader push alone (`--history off`); the same with the history and MQTT (when
 * mosquitto is installed); the InfluxDB output alone.
 */
import { FakeDsmrReader } from "../tests/support/fake_dsmr_reader.ts";
import { haveMosquitto, startBroker } from "../tests/support/mosquitto.ts";
import { CORPUS, fixture } from "../tests/support/paths.ts";
import { startServer } from "../tests/support/server.ts";
import { rssMegabytes } from "./process_memory.ts";

const SECONDS = Number(Deno.env.get("BENCH_SECONDS") ?? 12);
const TELEGRAM = CORPUS
  ? `${CORPUS}telegrams/nl-dsmr50-iskra-am550-two-mbus.txt`
  : fixture("nl-dsmr50-3phase-4mbus.txt");

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs one setup on a fresh service and data directory; returns its report line. */
async function run(name: string, args: string[], section: string): Promise<string> {
  const dataDir = await Deno.makeTempDir({ prefix: "p1reader-push-bench-" });
  const server = await startServer([
    ...["--source", `file:${TELEGRAM}`, "--replay-interval", "0", "--replay-loop"],
    ...["--data-dir", dataDir],
    ...args,
  ]);
  try {
    await sleep(2000);
    const start = await rssMegabytes(server.child.pid);
    let peak = start;
    for (let second = 0; second < SECONDS; second++) {
      await sleep(1000);
      peak = Math.max(peak, await rssMegabytes(server.child.pid));
    }
    const status = await (await fetch(`${server.url}/api/v1/status`)).json();
    const telegrams = status.telegramsOk ?? status.counters?.telegramsOk;
    const queue = JSON.stringify(
      status[section],
      (key, value) =>
        ["pushes", "writes", "lastSuccessAt", "api", "state"].includes(key) ? undefined : value,
    );
    const stopping = performance.now();
    const killer = setTimeout(() => server.child.kill("SIGKILL"), 30_000);
    const { code } = await server.stop();
    clearTimeout(killer);
    const exit = performance.now() - stopping;
    return `${name}: RSS ${start.toFixed(0)} MB at 2 s, peak ${
      peak.toFixed(0)
    } MB over ${SECONDS} s; ` +
      `${telegrams} telegrams; exit ${code} ${(exit / 1000).toFixed(2)} s after SIGTERM; ${queue}`;
  } finally {
    try {
      server.child.kill("SIGKILL");
    } catch {
      // It has exited (the usual case).
    }
    await server.child.status;
    await Deno.remove(dataDir, { recursive: true });
  }
}

/** A time-series database that answers every write with 500. */
function failingDatabase(): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    () => new Response("down", { status: 500 }),
  );
}

const lines: string[] = [];
const reader = new FakeDsmrReader().start();
reader.failStatus = 500;
const push = ["--dsmr-reader-url", reader.url, "--dsmr-reader-key", reader.key];
try {
  lines.push(await run("DSMR reader push alone", [...push, "--history", "off"], "dsmrReader"));
  if (haveMosquitto()) {
    const broker = await startBroker();
    try {
      lines.push(
        await run(
          "DSMR reader push + history + MQTT",
          [...push, "--mqtt-url", broker.anonymousUrl],
          "dsmrReader",
        ),
      );
    } finally {
      await broker.dispose();
    }
  }
  const database = failingDatabase();
  try {
    lines.push(
      await run("InfluxDB output alone", [
        ...["--influx-url", `http://127.0.0.1:${database.addr.port}`, "--influx-db", "p1"],
        ...["--history", "off"],
      ], "influx"),
    );
  } finally {
    await database.shutdown();
  }
} finally {
  await reader.stop();
}
// This script's whole output is its report.
// deno-lint-ignore no-console
console.log(lines.join("\n"));
