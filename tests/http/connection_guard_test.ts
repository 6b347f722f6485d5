/**
 * The connection guard in front of a real `Deno.serve`, on real sockets: bytes pass unchanged,
 * and connections that never finish a request, sit idle, or crowd the limit are closed.
 */
import assert from "node:assert/strict";
import { ConnectionGuard, type ConnectionGuardOptions } from "../../lib/http/connection_guard.ts";
import { waitFor } from "../support/helpers.ts";

const BIG = new Uint8Array(1024 * 1024).map((_, i) => i % 251);

/** A server answering `/big` with 1 MiB, `/stream` with a never-ending stream, else "ok". */
function upstream(): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
    const path = new URL(request.url).pathname;
    if (path === "/big") return new Response(BIG);
    if (path === "/stream") {
      return new Response(
        new ReadableStream({ start: (c) => c.enqueue(new TextEncoder().encode("hello\n")) }),
      );
    }
    return new Response("ok");
  });
}

function guarded(
  options: Partial<ConnectionGuardOptions> = {},
): { guard: ConnectionGuard; port: number; [Symbol.asyncDispose](): Promise<void> } {
  const server = upstream();
  const guard = ConnectionGuard.listen({
    hostname: "127.0.0.1",
    port: 0,
    upstream: server.addr,
    ...options,
  });
  return {
    guard,
    port: guard.addr.port,
    async [Symbol.asyncDispose]() {
      await guard.close();
      await server.shutdown();
    },
  };
}

const encode = (text: string) => new TextEncoder().encode(text);

/** Reads until the peer ends the connection; resolves with everything read. */
async function readToEnd(conn: Deno.Conn, timeoutMs = 10_000): Promise<string> {
  const buffer = new Uint8Array(65536);
  let text = "";
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const n = await conn.read(buffer).catch(() => null);
    if (n === null) return text;
    text += new TextDecoder().decode(buffer.subarray(0, n));
  }
  throw new Error(`the connection stayed open; read so far: ${text}`);
}

Deno.test("through the guard a 1 MiB answer and keep-alive requests arrive unchanged", async () => {
  await using service = guarded();
  const url = `http://127.0.0.1:${service.port}`;
  const big = new Uint8Array(await (await fetch(`${url}/big`)).arrayBuffer());
  assert.deepEqual(big, BIG);
  for (let i = 0; i < 20; i++) assert.equal(await (await fetch(`${url}/`)).text(), "ok");
  assert.equal(service.guard.stats.refused + service.guard.stats.evicted, 0);
});

Deno.test("a client that half-closes after its request still gets the whole answer", async () => {
  await using service = guarded();
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: service.port });
  await conn.write(encode("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  await conn.closeWrite();
  const answer = await readToEnd(conn);
  conn.close();
  assert.match(answer, /^HTTP\/1\.1 200 OK\r\n/);
  assert.match(answer, /\r\n\r\nok$/);
});

Deno.test("a request head that never ends is closed after the header timeout, and counted", async () => {
  await using service = guarded({ headerTimeoutMs: 300 });
  const partial = await Deno.connect({ hostname: "127.0.0.1", port: service.port });
  const silent = await Deno.connect({ hostname: "127.0.0.1", port: service.port });
  await partial.write(encode("GET / HTTP/1.1\r\nHost: x\r\nX-Slow: "));
  // Slowloris: a byte now and then does not extend the deadline.
  const trickle = setInterval(() => partial.write(encode("a")).catch(() => {}), 100);
  try {
    assert.equal(await readToEnd(partial), "");
    assert.equal(await readToEnd(silent), "", "a connection that sends nothing counts too");
  } finally {
    clearInterval(trickle);
    partial.close();
    silent.close();
  }
  assert.equal(service.guard.stats.closedHeaderTimeout, 2);
  assert.equal(service.guard.stats.open, 0);
});

Deno.test("a keep-alive connection that goes quiet is closed after the idle timeout", async () => {
  await using service = guarded({ idleTimeoutMs: 300 });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: service.port });
  await conn.write(encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  const answer = await readToEnd(conn);
  conn.close();
  assert.match(answer, /^HTTP\/1\.1 200 OK\r\n[^]*\r\n\r\nok$/);
  assert.equal(service.guard.stats.closedIdle, 1);
});

Deno.test("at the limit the connection waiting longest makes room; with none waiting, the newcomer is refused", async () => {
  await using service = guarded({ maxConnections: 2 });
  const connect = () => Deno.connect({ hostname: "127.0.0.1", port: service.port });
  const oldest = await connect();
  await oldest.write(encode("GET / HTTP/1.1\r\n"));
  const younger = await connect();
  await younger.write(encode("GET / HTTP/1.1\r\n"));
  await waitFor(() => service.guard.stats.open === 2, "two connections");
  const newcomer = await connect();
  assert.equal(await readToEnd(oldest), "", "the oldest waiting connection was closed");
  assert.equal(service.guard.stats.evicted, 1);
  younger.close();
  newcomer.close();
  await waitFor(() => service.guard.stats.open === 0, "the connections to end");

  // Two streams being answered wait for nothing: a third connection is refused.
  const streams = await Promise.all([connect(), connect()]);
  for (const conn of streams) {
    await conn.write(encode("GET /stream HTTP/1.1\r\nHost: x\r\n\r\n"));
    await conn.read(new Uint8Array(1024));
  }
  const refused = await connect();
  assert.equal(await readToEnd(refused), "");
  assert.equal(service.guard.stats.refused, 1);
  for (const conn of [...streams, refused]) conn.close();
});
