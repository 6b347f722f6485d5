/**
 * `deno task bench:http` (a load run, not a `Deno.bench` file): starts the service on the demo meter and measures `GET /` and
 * `GET /metrics` with 50 connections on loopback (wrk when installed, else a built-in load
 * generator), then the service's idle resident memory. A benchmark, not a test: it prints
 * figures and asserts nothing.
 */
import { startServer } from "../tests/support/server.ts";

const DURATION_S = Number(Deno.env.get("BENCH_SECONDS") ?? 10);
const CONNECTIONS = 50;

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

async function rssMegabytes(pid: number): Promise<number> {
  const { stdout } = await new Deno.Command("ps", {
    args: ["-o", "rss=", "-p", String(pid)],
    stdout: "piped",
  }).output();
  return Number(new TextDecoder().decode(stdout).trim()) / 1024;
}

const server = await startServer(["--source", "demo"]);
try {
  await new Promise((resolve) => setTimeout(resolve, 3000));
  const idle = await rssMegabytes(server.child.pid);
  const load = haveWrk() ? wrk : builtIn;
  const root = await load(`${server.url}/`);
  const metrics = await load(`${server.url}/metrics`);
  const after = await rssMegabytes(server.child.pid);
  // This script's whole output is its report.
  // deno-lint-ignore no-console
  console.log(
    `GET /         ${root}\nGET /metrics  ${metrics}\nidle RSS      ${
      idle.toFixed(1)
    } MB (after the load: ${after.toFixed(1)} MB)`,
  );
} finally {
  await server.stop();
}
