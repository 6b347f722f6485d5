/**
 * `/api/v1/stream` on a real socket: every client ends with its connection, whatever the method;
 * beyond the limit clients get 503; a client that stops reading is closed and counted.
 */
import assert from "node:assert/strict";
import { type AppDependencies, createApp } from "../../lib/http/app.ts";
import { SlowClientError } from "../../lib/http/streams.ts";
import { SILENT } from "../../lib/log.ts";
import { MetricsRegistry } from "../../lib/metrics/registry.ts";
import { receiverSnapshot } from "../../lib/metrics/table.ts";
import { RegisterWatch } from "../../lib/meter_registers.ts";
import { StreamOutput, type StreamOutputOptions } from "../../lib/outputs/stream/output.ts";
import { P1Receiver } from "../../lib/receiver.ts";
import { outputContext } from "../../lib/service.ts";
import { FileSource } from "../../lib/source/file.ts";
import { waitFor } from "../support/helpers.ts";
import { fixture } from "../support/paths.ts";
import { receiverOf } from "../support/service.ts";

type Receiver = AppDependencies["receiver"];

/** The real receiver, counting the subscriptions that are open (telegram and state listeners). */
function counting(receiver: P1Receiver): { receiver: Receiver; open: () => number } {
  let open = 0;
  const counted = <T>(subscribe: (listener: T) => () => void) => (listener: T) => {
    const off = subscribe(listener);
    open++;
    let done = false;
    return () => {
      if (!done) open--;
      done = true;
      off();
    };
  };
  const view = {
    subscribe: counted(receiver.subscribe.bind(receiver)),
    onStateChange: counted(receiver.onStateChange.bind(receiver)),
  };
  // The rest reads through to the receiver, as the app would read it.
  for (const key of ["latest", "state", "counters", "source", "format", "staleAfterMs"] as const) {
    Object.defineProperty(view, key, { get: () => receiver[key] });
  }
  return {
    receiver: view as Receiver,
    open: () => open,
  };
}

/** Serves the app on a free loopback port, as the service does. */
function serve(app: ReturnType<typeof createApp>) {
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen() {},
    onError(error) {
      assert.ok(error instanceof SlowClientError, String(error));
      return new Response(null, { status: 500 });
    },
  }, app.fetch);
  return { url: `http://127.0.0.1:${server.addr.port}`, server };
}

/** The app with the live stream as its only output, started on `receiver`. */
async function appWith(receiver: Receiver, options: StreamOutputOptions = { maxClients: 64 }) {
  const streams = new StreamOutput(options);
  const limits = { dataDir: "unused", queueMax: 1, queueMaxBytes: 1 };
  await streams.start(outputContext(limits, receiver, SILENT, new AbortController().signal));
  const metrics = new MetricsRegistry(() =>
    receiverSnapshot({ ...receiver, registers: new RegisterWatch(), format: "auto" }, "t")
  );
  const app = createApp({ receiver, metrics, version: "t", startedAt: 0, outputs: [streams] });
  return { app, streams };
}

/** A receiver replaying the 3-phase fixture in a loop, one telegram every `seconds`. */
function replaying(seconds: number): P1Receiver {
  return new P1Receiver({
    source: new FileSource({
      path: fixture("nl-dsmr50-3phase-4mbus.txt"),
      intervalSeconds: seconds,
      loop: true,
    }),
  });
}

Deno.test("HEAD /api/v1/stream answers the stream's headers and subscribes to nothing", async () => {
  const { receiver, open } = counting(await receiverOf("nl-dsmr50-3phase-4mbus.txt"));
  const { url, server } = serve((await appWith(receiver)).app);
  try {
    for (let i = 0; i < 200; i++) {
      const response = await fetch(`${url}/api/v1/stream`, { method: "HEAD" });
      assert.equal(response.status, 200);
      assert.equal(response.headers.get("content-type"), "text/event-stream");
      assert.equal(await response.text(), "");
    }
    assert.equal(open(), 0, "subscriptions left behind by HEAD requests");
    const status = await (await fetch(`${url}/api/v1/status`)).json();
    assert.equal(status.http.streams.clients, 0);
  } finally {
    await server.shutdown();
  }
});

Deno.test("a stream client that goes away is forgotten with its subscriptions", async () => {
  const { receiver, open } = counting(await receiverOf("nl-dsmr50-3phase-4mbus.txt"));
  const { url, server } = serve((await appWith(receiver)).app);
  try {
    const clients = await Promise.all(Array.from({ length: 5 }, async () => {
      const abort = new AbortController();
      const response = await fetch(`${url}/api/v1/stream`, { signal: abort.signal });
      const reader = response.body!.getReader();
      assert.match(new TextDecoder().decode((await reader.read()).value), /^event: status\n/);
      return { abort, reader };
    }));
    const status = await (await fetch(`${url}/api/v1/status`)).json();
    assert.equal(status.http.streams.clients, 5);
    assert.equal(open(), 2, "one telegram and one state subscription for all clients");
    for (const { abort, reader } of clients) {
      abort.abort();
      await reader.cancel().catch(() => {}); // the abort already ended it
    }
    await waitFor(() => open() === 0, "the subscriptions to end");
    const after = await (await fetch(`${url}/api/v1/status`)).json();
    assert.equal(after.http.streams.clients, 0);
  } finally {
    await server.shutdown();
  }
});

Deno.test("beyond the client limit /api/v1/stream answers 503 with a reason, counted", async () => {
  const receiver = await receiverOf("nl-dsmr50-3phase-4mbus.txt");
  const { app, streams } = await appWith(receiver, { maxClients: 2 });
  const { url, server } = serve(app);
  try {
    const first = await fetch(`${url}/api/v1/stream`);
    const second = await fetch(`${url}/api/v1/stream`);
    assert.deepEqual([first.status, second.status], [200, 200]);
    const third = await fetch(`${url}/api/v1/stream`);
    assert.equal(third.status, 503);
    assert.equal(third.headers.get("retry-after"), "30");
    assert.match(
      (await third.json()).reason,
      /^2 clients are connected to the event stream, the most --stream-clients allows$/,
    );
    const status = await (await fetch(`${url}/api/v1/status`)).json();
    assert.deepEqual(
      [status.http.streams.clients, status.http.streams.limit, status.http.streams.refused],
      [2, 2, 1],
    );
    await first.body!.cancel();
    await waitFor(() => streams.stats().clients === 1, "the first client to be forgotten");
    const fourth = await fetch(`${url}/api/v1/stream`);
    assert.equal(fourth.status, 200, "a place freed is taken again");
    await Promise.all([second.body!.cancel(), fourth.body!.cancel()]);
  } finally {
    await server.shutdown();
  }
});

Deno.test("a stream client that stops reading is closed and counted; a client that reads is kept", async () => {
  const receiver = replaying(0.002);
  const { app, streams } = await appWith(receiver, { maxClients: 4, slowAfterMs: 300 });
  const { url, server } = serve(app);
  receiver.start();
  const stuck = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
  const reading = await fetch(`${url}/api/v1/stream`);
  const reader = reading.body!.getReader();
  let received = 0;
  const keepReading = (async () => {
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
      received += chunk.value.length;
    }
  })();
  try {
    await stuck.write(new TextEncoder().encode("GET /api/v1/stream HTTP/1.1\r\nHost: x\r\n\r\n"));
    await waitFor(() => streams.stats().closedSlow === 1, "the stuck client to be closed", 30_000);
    assert.equal(streams.stats().clients, 1, "the reading client is still connected");
    assert.ok(streams.stats().eventsDropped > 0, "what the stuck client lost is counted");
    // The stuck client's connection ends: what was sent before, then the end.
    const buffer = new Uint8Array(65536);
    let ended = false;
    const deadline = Date.now() + 10_000;
    while (!ended && Date.now() < deadline) {
      ended = await stuck.read(buffer).then((n) => n === null, () => true);
    }
    assert.ok(ended, "the server closed the stuck client's connection");
    const before = received;
    await waitFor(() => received > before, "the reading client to get more events");
  } finally {
    stuck.close();
    await reader.cancel();
    await keepReading;
    await receiver.stop();
    await server.shutdown();
  }
});
