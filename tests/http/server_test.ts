import assert from "node:assert/strict";
import { havePromtool, promtoolCheck } from "../support/service.ts";
import { type RunningServer, SERVE_PERMISSIONS, startServer } from "../support/server.ts";
import { fixture, ROOT } from "../support/paths.ts";
import { runMain } from "../support/run.ts";
import { waitFor } from "../support/helpers.ts";

Deno.test("the service on the demo meter serves /, /metrics and /healthz, and stops on SIGTERM", async () => {
  const server = await startServer(["--source", "demo"]);
  let healthy = false;
  for (let i = 0; i < 50 && !healthy; i++) {
    const response = await fetch(`${server.url}/healthz`);
    healthy = response.status === 200;
    await response.body?.cancel();
    if (!healthy) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  assert.ok(healthy, server.log());

  const root = await (await fetch(`${server.url}/`)).json();
  assert.deepEqual(Object.keys(root), [
    "timestamp",
    "rawTimestamp",
    "electricityUsageLow",
    "electricityUsageHigh",
    "electricityReturnedLow",
    "electricityReturnedHigh",
    "activeTariff",
    "powerFailuresShort",
    "powerFailuresLong",
    "actualElectricityDelivered",
    "actualElectricityRetreived",
    "gasUsage",
  ]);
  assert.equal(typeof root.electricityUsageLow, "number");

  const scrape = await fetch(`${server.url}/metrics`);
  assert.equal(scrape.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  const metrics = await scrape.text();
  assert.match(metrics, /^p1_telegrams_total\{result="ok"\} [1-9]/m);
  assert.match(metrics, /^process_resident_memory_bytes [1-9]\d+$/m);
  if (havePromtool() || Deno.env.get("CI") !== undefined) {
    const { code, output } = await promtoolCheck(metrics);
    assert.equal(code, 0, output);
  }

  const started = Date.now();
  const status = await server.stop();
  assert.equal(status.code, 0, server.log());
  assert.ok(Date.now() - started < 5000, "stops within 5 s");
  assert.match(server.log(), /SIGTERM: stopping/);
});

Deno.test("a bad setting stops start-up with exit code 2 and names the setting", async () => {
  const format = await runMain(["--format", "dsmr99"], {
    permissions: ["--allow-env", "--allow-read"],
  });
  assert.equal(format.code, 2);
  assert.match(format.stderr, /p1reader: --format "dsmr99": Unknown format "dsmr99"/);
  const port = await runMain([], {
    permissions: ["--allow-env", "--allow-read"],
    env: { P1READER_PORT: "99999" },
  });
  assert.equal(port.code, 2);
  assert.match(port.stderr, /P1READER_PORT="99999": expected a port from 0 to 65535/);
});

Deno.test("p1reader --help lists the service's options", async () => {
  const help = await runMain(["--help"]);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--source PATH\|tcp:\/\/HOST:PORT\|file:PATH\|-\|demo/);
  assert.match(help.stdout, /env: P1READER_FORMAT, P1ReceiverSettings__Format/);
});

Deno.test("--share-port serves the meter's telegrams to TCP clients, shown in status and metrics", async () => {
  const server = await startServer([
    "--source",
    "demo",
    "--share-port",
    "0",
    "--share-host",
    "127.0.0.1",
  ]);
  try {
    const port = Number(
      /sharing raw telegrams on tcp:\/\/127\.0\.0\.1:(\d+)/.exec(server.log())?.[1],
    );
    assert.ok(port > 0, server.log());
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    const buffer = new Uint8Array(4096);
    let received = "";
    while (!/!\w{4}\r\n/.test(received)) {
      const n = await conn.read(buffer);
      if (n === null) break;
      received += new TextDecoder("latin1").decode(buffer.subarray(0, n));
    }
    assert.match(received, /^\/KTK5\\2P1READER-DEMO\r\n\r\n1-3:0\.2\.8\(50\)\r\n/);
    const status = await (await fetch(`${server.url}/api/v1/status`)).json();
    assert.equal(status.share.clients, 1);
    assert.match(await (await fetch(`${server.url}/metrics`)).text(), /^p1_share_clients 1$/m);
    conn.close();
  } finally {
    assert.equal((await server.stop()).code, 0);
  }
});

Deno.test("p1reader healthcheck exits 0 while the service is healthy and 1 once it is gone", async () => {
  const server = await startServer(["--source", "demo"]);
  const port = new URL(server.url).port;
  const permissions = ["--allow-net", "--allow-env", "--allow-read"];
  try {
    let healthy = 1;
    for (let i = 0; i < 50 && healthy !== 0; i++) {
      healthy =
        (await runMain(["healthcheck"], { permissions, env: { P1READER_PORT: port } })).code;
      if (healthy !== 0) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.equal(healthy, 0);
  } finally {
    await server.stop();
  }
  const gone = await runMain(["healthcheck", "--port", port], { permissions });
  assert.equal(gone.code, 1);
  assert.match(
    gone.stderr,
    /^unhealthy: cannot reach http:\/\/127\.0\.0\.1:\d+\/healthz: .*Connection refused/,
  );
});

Deno.test("p1reader healthcheck of an unhealthy service prints the HTTP status and the reason", async () => {
  const server = await startServer(["--source", "file:/dev/null"]);
  try {
    const result = await runMain(["healthcheck", "--port", new URL(server.url).port], {
      permissions: ["--allow-net", "--allow-env", "--allow-read"],
    });
    assert.equal(result.code, 1);
    assert.equal(
      result.stderr,
      `unhealthy: ${server.url}/healthz answered 503 Service Unavailable: no valid telegram received yet\n`,
    );
  } finally {
    await server.stop();
  }
});

Deno.test("p1reader help is p1reader --help", async () => {
  const [help, flag] = await Promise.all([runMain(["help"]), runMain(["--help"])]);
  assert.equal(help.code, 0);
  assert.equal(help.stdout, flag.stdout);
});

/** Sends SIGTERM and waits up to `ms` for the exit; kills the process if it does not go. */
async function stopWithin(server: RunningServer, ms: number): Promise<number | "killed"> {
  const started = performance.now();
  server.child.kill("SIGTERM");
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<"late">((resolve) => timer = setTimeout(() => resolve("late"), ms));
  const ended = await Promise.race([server.child.status, late]);
  clearTimeout(timer);
  if (ended === "late") {
    server.child.kill("SIGKILL");
    await server.stop();
    return "killed";
  }
  await server.stop();
  return performance.now() - started;
}

async function statusOf(server: RunningServer) {
  return await (await fetch(`${server.url}/api/v1/status`)).json();
}

Deno.test("the fastest looping replay leaves /healthz answering within 100 ms and stops within 2 s of SIGTERM", async () => {
  const server = await startServer([
    "--source",
    `file:${fixture("nl-dsmr50-3phase-4mbus.txt")}`,
    "--replay-interval",
    "0",
    "--replay-loop",
  ]);
  let stopped: number | "killed" | undefined;
  try {
    const times: number[] = [];
    for (let i = 0; i < 20; i++) {
      const started = performance.now();
      const response = await fetch(`${server.url}/healthz`, { signal: AbortSignal.timeout(5000) });
      await response.body?.cancel();
      times.push(performance.now() - started);
      assert.equal(response.status, 200);
    }
    times.sort((a, b) => a - b);
    assert.ok(times[10]! < 100, `median ${times[10]!.toFixed(1)} ms (all: ${times.join(", ")})`);
    const before = (await statusOf(server)).counters.telegramsOk;
    await new Promise((resolve) => setTimeout(resolve, 200));
    const after = (await statusOf(server)).counters.telegramsOk;
    assert.ok(after - before > 100, `the replay went on at speed: ${after - before} in 0.2 s`);
    stopped = await stopWithin(server, 10_000);
    assert.ok(stopped !== "killed" && stopped < 2000, `stopped after ${stopped} ms`);
  } finally {
    if (stopped === undefined) await stopWithin(server, 10_000);
  }
});

Deno.test("connections that never finish a request head are bounded; the service keeps answering", async () => {
  const server = await startServer(["--source", "demo"]);
  const port = Number(new URL(server.url).port);
  const conns: Deno.Conn[] = [];
  const healthz = async () => {
    const response = await fetch(`${server.url}/healthz`);
    await response.body?.cancel();
    return response.status;
  };
  try {
    await waitFor(async () => await healthz() === 200, "the first telegram");
    const head = new TextEncoder().encode("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ");
    for (let i = 0; i < 520; i++) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      await conn.write(head);
      conns.push(conn);
    }
    // The first ones were closed to make room for the last: they read the end of the stream.
    const first = await Promise.race([
      conns[0]!.read(new Uint8Array(16)).catch(() => null),
      new Promise<"open">((resolve) => setTimeout(() => resolve("open"), 5000)),
    ]);
    assert.equal(first, null, "the oldest unfinished connection was closed");
    assert.equal(await healthz(), 200, "the service answers while the connections are held");
    const { http } = await statusOf(server);
    assert.ok(http.connections.open <= 512, `${http.connections.open} open`);
    assert.ok(http.connections.evicted >= 8, `${http.connections.evicted} evicted`);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    assert.match(metrics, /^p1_http_connections_closed_total\{reason="evicted"\} ([89]|\d\d+)$/m);
  } finally {
    for (const conn of conns) conn.close();
    await server.stop();
  }
});

Deno.test("--stream-clients caps the live stream; status and /metrics count clients and refusals", async () => {
  const server = await startServer(["--source", "demo", "--stream-clients", "2"]);
  try {
    const open = [
      await fetch(`${server.url}/api/v1/stream`),
      await fetch(`${server.url}/api/v1/stream`),
    ];
    const refused = await fetch(`${server.url}/api/v1/stream`);
    assert.equal(refused.status, 503);
    assert.match((await refused.json()).reason, /2 clients are connected/);
    const { http } = await statusOf(server);
    assert.deepEqual(http.streams, {
      clients: 2,
      limit: 2,
      refused: 1,
      closedSlow: 0,
      eventsDropped: 0,
    });
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    assert.match(metrics, /^p1_http_stream_clients 2$/m);
    assert.match(metrics, /^p1_http_stream_clients_refused_total 1$/m);
    for (const response of open) await response.body!.cancel();
  } finally {
    assert.equal((await server.stop()).code, 0);
  }
});

const havePrlimit = (() => {
  try {
    return new Deno.Command("prlimit", { args: ["--version"], stdout: "null" }).outputSync()
      .success;
  } catch {
    return false;
  }
})();

Deno.test({
  name: "out of file descriptors, the service says the HTTP server stopped and exits 1",
  ignore: !havePrlimit,
  async fn() {
    const child = new Deno.Command("prlimit", {
      args: [
        "--nofile=64:64",
        Deno.execPath(),
        "run",
        "--no-prompt",
        ...SERVE_PERMISSIONS,
        `${ROOT}main.ts`,
        ...["--host", "127.0.0.1", "--port", "0", "--source", "demo"],
      ],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
      env: { NO_COLOR: "1" },
    }).spawn();
    let log = "";
    const reading = (async () => {
      for await (const text of child.stderr.pipeThrough(new TextDecoderStream())) log += text;
    })();
    await waitFor(() => /listening on/.test(log), "the service to listen");
    const port = Number(/listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(log)![1]);
    const conns: Deno.Conn[] = [];
    try {
      // Each held connection costs the service descriptors; 100 are more than 64 allow.
      for (let i = 0; i < 100; i++) {
        try {
          conns.push(await Deno.connect({ hostname: "127.0.0.1", port }));
        } catch (error) {
          // The service may have run out and exited before all 100 were made: what is checked.
          if (!(error instanceof Deno.errors.ConnectionRefused)) throw error;
          break;
        }
      }
      const { code } = await child.status;
      await reading;
      assert.equal(code, 1, log);
      assert.match(log, /ERROR the HTTP server stopped error=.*Too many open files/);
      assert.ok(!/Uncaught/.test(log), log);
    } finally {
      for (const conn of conns) conn.close();
      try {
        child.kill("SIGKILL");
      } catch {
        // It has exited, as it should.
      }
    }
  },
});
