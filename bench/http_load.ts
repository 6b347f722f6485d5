/**
 * `deno task bench:http` (a load run, not a `Deno.bench` file): starts the service on the demo meter and measures `GET /` and
 * `GET /metrics` with 50 connections on loopback (wrk when installed, else a built-in load
 * generator), then the service's idle resident memory. Then three attacks, each on a fresh
 * service, with its resident memory before and after: 2,000 `HEAD /api/v1/stream`; 500 event
 * stream clients that never read; 3,000 connections that never finish their request head. A
 * benchmark, not a test: it prints figures and asserts nothing.
 *
 * `BENCH_SECONDS` sets the load runs' length; `BENCH_ATTACKS=0` skips the attacks (about 2 min).
 */
import { fixture } from "../tests/support/paths.ts";
import { rssMegabytes } from "./process_memory.ts";
import { type RunningServer, startServer } from "../tests/support/server.ts";

const DURATION_S = Number(Deno.env.get("BENCH_SECONDS") ?? 10);
const CONNECTIONS = 50;
const encoder = new TextEncoder();

function haveWrk(): boolean {
  try {
    new Deno.Command("wrk", { args: ["--version"], stdout: "null", stderr: "null" }).outputSync();
    return true;
  } catch {
    return false;
  }
}

async function wrk(url: string): Promise<string> {
  const { stdout } = await new Deno.Command("wrk", {
    args: ["-t2", `-c${CONNECTIONS}`, `-d${DURATION_S}s`, "--latency", url],
    stdout: "piped",
  }).output();
  const text = new TextDecoder().decode(stdout);
  const rps = /Requests\/sec:\s+([\d.]+)/.exec(text)?.[1];
  const p99 = /99%\s+([\d.]+\w+)/.exec(text)?.[1];
  return `${rps} req/s, p99 ${p99} (wrk -t2 -c${CONNECTIONS} -d${DURATION_S}s)`;
}

async function builtIn(url: string): Promise<string> {
  const latencies: number[] = [];
  const deadline = performance.now() + DURATION_S * 1000;
  await Promise.all(Array.from({ length: CONNECTIONS }, async () => {
    while (performance.now() < deadline) {
      const start = performance.now();
      const response = await fetch(url);
      await response.arrayBuffer();
      latencies.push(performance.now() - start);
    }
  }));
  latencies.sort((a, b) => a - b);
  const p99 = latencies[Math.floor(latencies.length * 0.99)]!;
  return `${Math.round(latencies.length / DURATION_S)} req/s, p99 ${
    p99.toFixed(1)
  } ms (built-in generator, ${CONNECTIONS} connections; install wrk for better figures)`;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The HTTP part of the service's status (absent from versions without it). */
async function httpStatus(server: RunningServer): Promise<string> {
  const status = await (await fetch(`${server.url}/api/v1/status`)).json();
  return JSON.stringify(status.http ?? null);
}

/** Runs an attack on a fresh service and reports its resident memory around it. */
async function attack(
  name: string,
  args: string[],
  run: (server: RunningServer) => Promise<string>,
): Promise<string> {
  const server = await startServer(args);
  try {
    await sleep(2000);
    const before = await rssMegabytes(server.child.pid);
    const outcome = await run(server);
    const after = await rssMegabytes(server.child.pid);
    return `${name}: RSS ${before.toFixed(0)} -> ${after.toFixed(0)} MB; ${outcome}`;
  } finally {
    // A service the attack left unable to stop is killed after 10 s.
    const killer = setTimeout(() => server.child.kill("SIGKILL"), 10_000);
    await server.stop();
    clearTimeout(killer);
  }
}

/** 2,000 `HEAD /api/v1/stream`, 50 at a time; memory is read 15 s later. */
async function heads(server: RunningServer): Promise<string> {
  for (let sent = 0; sent < 2000; sent += 50) {
    await Promise.all(Array.from({ length: 50 }, async () => {
      const response = await fetch(`${server.url}/api/v1/stream`, { method: "HEAD" });
      await response.body?.cancel();
    }));
  }
  await sleep(15_000);
  return `15 s after 2,000 HEAD /api/v1/stream; http status ${await httpStatus(server)}`;
}

/** 500 clients open the event stream and never read; memory is read 75 s later. */
async function stuckStreams(server: RunningServer): Promise<string> {
  const { hostname, port } = new URL(server.url);
  const conns = await Promise.all(Array.from({ length: 500 }, async () => {
    const conn = await Deno.connect({ hostname, port: Number(port) });
    await conn.write(encoder.encode(`GET /api/v1/stream HTTP/1.1\r\nHost: x\r\n\r\n`));
    return conn;
  }));
  await sleep(75_000);
  const outcome =
    `75 s after 500 stream clients that never read (100 telegrams/s); http status ${await httpStatus(
      server,
    )}`;
  for (const conn of conns) conn.close();
  return outcome;
}

/** 3,000 connections send half a request head, then a byte every 5 s; memory is read at 20 s. */
async function slowloris(server: RunningServer): Promise<string> {
  const { hostname, port } = new URL(server.url);
  const open = new Set<Deno.Conn>();
  for (let i = 0; i < 3000; i++) {
    const conn = await Deno.connect({ hostname, port: Number(port) });
    await conn.write(encoder.encode("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: "));
    open.add(conn);
    // The connection counts as open until the service closes it.
    (async () => {
      const buffer = new Uint8Array(1024);
      while (await conn.read(buffer).catch(() => null) !== null);
      open.delete(conn);
    })();
  }
  for (let second = 0; second < 20; second += 5) {
    await sleep(5000);
    for (const conn of open) conn.write(encoder.encode("a")).catch(() => {});
  }
  const outcome =
    `20 s after 3,000 unfinished request heads: ${open.size} still open; http status ${await httpStatus(
      server,
    )}`;
  for (const conn of open) conn.close();
  return outcome;
}

const lines: string[] = [];
const server = await startServer(["--source", "demo"]);
try {
  await sleep(3000);
  const idle = await rssMegabytes(server.child.pid);
  const load = haveWrk() ? wrk : builtIn;
  const root = await load(`${server.url}/`);
  const metrics = await load(`${server.url}/metrics`);
  const after = await rssMegabytes(server.child.pid);
  lines.push(
    `GET /         ${root}`,
    `GET /metrics  ${metrics}`,
    `idle RSS      ${idle.toFixed(1)} MB (after the load: ${after.toFixed(1)} MB)`,
  );
} finally {
  await server.stop();
}
if (Deno.env.get("BENCH_ATTACKS") !== "0") {
  const replay = [
    "--source",
    `file:${fixture("nl-dsmr50-3phase-4mbus.txt")}`,
    "--replay-interval",
    "0.01",
    "--replay-loop",
  ];
  lines.push(await attack("HEAD flood", ["--source", "demo"], heads));
  lines.push(await attack("stuck streams", replay, stuckStreams));
  lines.push(await attack("slowloris", ["--source", "demo"], slowloris));
}
// This script's whole output is its report.
// deno-lint-ignore no-console
console.log(lines.join("\n"));
