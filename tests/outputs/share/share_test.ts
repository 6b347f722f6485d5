import assert from "node:assert/strict";
import { FrameScanner } from "../../../lib/dsmr/framer.ts";
import { parseTelegram } from "../../../lib/dsmr/parse.ts";
import { P1Receiver, type ReceivedTelegram } from "../../../lib/receiver.ts";
import { isAllowed, parseCidrList } from "../../../lib/outputs/share/cidr.ts";
import { limitSendBuffer } from "../../../lib/outputs/share/send_buffer.ts";
import { ShareServer } from "../../../lib/outputs/share/share_server.ts";
import { sleep } from "../../../lib/source/source.ts";
import { FileSource } from "../../../lib/source/file.ts";
import { TcpSource } from "../../../lib/source/tcp.ts";
import {
  concat,
  corruptValue,
  memoryLogger,
  openDescriptors,
  socketsOpened,
  waitFor,
} from "../../support/helpers.ts";
import { fixtureBytes } from "../../support/paths.ts";

const DSMR5 = fixtureBytes("nl-dsmr50-3phase-4mbus.txt");
const BELGIAN = fixtureBytes("be-emucs-peak.txt");
const ORIGINAL = fixtureBytes("nl-original-readme-example.txt");

/** A client that keeps everything it receives. */
async function reader(port: number) {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const chunks: Uint8Array[] = [];
  let ended = false;
  const done = (async () => {
    for await (const chunk of conn.readable) chunks.push(chunk);
  })().catch(() => {
    // Reset by the server (a dropped client): it ends as a closed connection does.
  }).finally(() => ended = true);
  return { conn, bytes: () => concat(...chunks), done, ended: () => ended };
}

Deno.test("three clients each get every valid telegram byte for byte, and they parse", async () => {
  const share = ShareServer.start({ hostname: "127.0.0.1", port: 0 });
  const clients = await Promise.all([1, 2, 3].map(() => reader(share.addr.port)));
  await waitFor(() => share.stats.clients === 3, "three clients");
  const dir = await Deno.makeTempDir();
  await Deno.writeFile(
    `${dir}/capture.txt`,
    concat(
      new TextEncoder().encode("noise"),
      DSMR5,
      corruptValue(BELGIAN),
      BELGIAN,
      ORIGINAL.slice(0, 100),
      ORIGINAL,
    ),
  );
  const receiver = new P1Receiver({
    source: new FileSource({ path: `${dir}/capture.txt`, intervalSeconds: 0.02 }),
  });
  receiver.subscribe((received) => share.send(received.bytes));
  receiver.start();
  await receiver.finished;
  const expected = concat(DSMR5, BELGIAN, ORIGINAL);
  await waitFor(
    () => clients.every((c) => c.bytes().length === expected.length),
    "all bytes at every client",
  );
  for (const client of clients) {
    assert.deepEqual(client.bytes(), expected);
    const telegrams = new FrameScanner().push(client.bytes()).map((raw) => parseTelegram(raw));
    assert.deepEqual(telegrams.map((t) => t.format), ["dsmr50", "belgium", "dsmr50"]);
  }
  assert.equal(share.stats.telegramsForwarded, 9);
  for (const client of clients) client.conn.close();
  await share.close();
  await receiver.stop();
  await Deno.remove(dir, { recursive: true });
});

/** Sends telegrams ten at a time, a turn of the event loop between, until `done()`. */
async function sendUntil(share: ShareServer, done: () => boolean, most: number): Promise<number> {
  let sent = 0;
  while (!done() && sent < most) {
    for (let i = 0; i < 10; i++) share.send(DSMR5);
    sent += 10 * DSMR5.length;
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
  return sent;
}

Deno.test("a client that never reads is dropped before 1 MB was sent to it; the others go on", async () => {
  const { logger, lines } = memoryLogger();
  const share = ShareServer.start({ hostname: "127.0.0.1", port: 0, logger });
  const stuck = await Deno.connect({ hostname: "127.0.0.1", port: share.addr.port }); // never reads
  const good = await reader(share.addr.port);
  await waitFor(() => share.stats.clients === 2, "two clients");
  // The kernel would queue 4 MiB for the stuck client if its send buffer were not bounded.
  const sent = await sendUntil(share, () => share.stats.clientsDropped > 0, 8_000_000);
  assert.ok(sent < 1_000_000, `${sent} bytes were sent before the stuck client was dropped`);
  await waitFor(() => good.bytes().length === sent, "everything at the good client");
  assert.deepEqual([share.stats.clients, share.stats.clientsDropped], [1, 1]);
  assert.ok(lines.some((line) => line.includes("share client dropped: it does not keep up")));
  assert.ok(!lines.some((line) => line.includes("not bounded")), lines.join("\n"));
  stuck.close();
  good.conn.close();
  await share.close();
});

Deno.test("a client that takes no data for stallMs is dropped, whatever it leaves waiting", async () => {
  const { logger, lines } = memoryLogger();
  const share = ShareServer.start({
    hostname: "127.0.0.1",
    port: 0,
    logger,
    stallMs: 300,
    maxPendingBytes: 64 * 1024 * 1024, // only the stall can drop it
  });
  const stuck = await Deno.connect({ hostname: "127.0.0.1", port: share.addr.port }); // never reads
  await waitFor(() => share.stats.clients === 1, "the client");
  const sent = await sendUntil(share, () => share.stats.clientsDropped > 0, 32_000_000);
  assert.equal(share.stats.clientsDropped, 1, `not dropped after ${sent} bytes`);
  assert.equal(share.stats.clients, 0);
  assert.ok(lines.some((line) => line.includes("share client dropped: it takes no data")));
  stuck.close();
  await share.close();
});

Deno.test("connections beyond maxClients are closed and counted, and logged once", async () => {
  const { logger, lines } = memoryLogger();
  const share = ShareServer.start({ hostname: "127.0.0.1", port: 0, logger, maxClients: 2 });
  const first = await reader(share.addr.port);
  const second = await reader(share.addr.port);
  await waitFor(() => share.stats.clients === 2, "two clients");
  const over = [await reader(share.addr.port), await reader(share.addr.port)];
  await waitFor(() => over.every((client) => client.ended()), "the server to close the others");
  assert.equal(share.stats.connectionsOverLimit, 2);
  assert.equal(lines.filter((line) => line.includes("--share-max-clients")).length, 1);
  first.conn.close();
  await waitFor(() => share.stats.clients === 1, "a free place");
  const third = await reader(share.addr.port);
  await waitFor(() => share.stats.clients === 2, "the place taken again");
  share.send(DSMR5);
  await waitFor(() => third.bytes().length === DSMR5.length, "a telegram at the new client");
  assert.deepEqual(over.map((client) => client.bytes().length), [0, 0]);
  assert.equal(share.stats.connectionsAccepted, 3);
  for (const client of [second, third]) client.conn.close();
  await share.close();
});

Deno.test("limitSendBuffer() bounds what the kernel queues for a client that reads nothing", async () => {
  const sides: [string, string][] = [["0.0.0.0", "127.0.0.1"], ["::1", "::1"]];
  for (const [hostname, peer] of sides) {
    const listener = Deno.listen({ hostname, port: 0 });
    assert.equal(limitSendBuffer(listener, 16 * 1024), undefined, hostname);
    const client = await Deno.connect({ hostname: peer, port: listener.addr.port });
    const conn = await listener.accept();
    let queued = 0;
    // A write completes once the kernel has queued it; one that waits half a second found the bound.
    while (queued < 8_000_000) {
      const waited = new AbortController();
      const done = await Promise.race([conn.write(DSMR5), sleep(500, waited.signal)]);
      waited.abort();
      if (done === undefined) break;
      queued += done;
    }
    assert.ok(queued < 1_000_000, `the kernel queued ${queued} bytes for a client on ${hostname}`);
    client.close();
    conn.close();
    listener.close();
  }
});

Deno.test("a reader reads another reader's share port (chained readers)", async () => {
  const share = ShareServer.start({ hostname: "127.0.0.1", port: 0 });
  const downstream = new P1Receiver({
    source: new TcpSource({ hostname: "127.0.0.1", port: share.addr.port }),
  });
  const received: ReceivedTelegram[] = [];
  downstream.subscribe((t) => received.push(t));
  downstream.start();
  await waitFor(() => share.stats.clients === 1, "the downstream reader to connect");
  share.send(DSMR5);
  share.send(BELGIAN);
  await waitFor(() => received.length === 2, "two telegrams downstream");
  assert.deepEqual(received.map((r) => r.bytes), [DSMR5, BELGIAN]);
  await downstream.stop();
  await share.close();
});

Deno.test("thousands of connects and disconnects leave no descriptor behind", async () => {
  const share = ShareServer.start({ hostname: "127.0.0.1", port: 0 });
  const before = await openDescriptors();
  for (let i = 0; i < 2000; i++) {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: share.addr.port });
    if (i % 2 === 0) share.send(DSMR5);
    conn.close();
  }
  await waitFor(
    () => share.stats.clients === 0 && share.stats.connectionsAccepted === 2000,
    "every client cleaned up",
    20_000,
  );
  const after = await openDescriptors();
  assert.deepEqual(socketsOpened(before, after), [], "sockets left open after 2000 clients");
  await share.close();
});

Deno.test("--share-allow refuses and counts peers outside the ranges", async () => {
  const closed = ShareServer.start({
    hostname: "127.0.0.1",
    port: 0,
    allow: parseCidrList("10.0.0.0/8"),
  });
  const refused = await reader(closed.addr.port);
  await refused.done;
  assert.equal(closed.stats.connectionsRefused, 1);
  assert.equal(closed.stats.clients, 0);
  await closed.close();
  const open = ShareServer.start({
    hostname: "127.0.0.1",
    port: 0,
    allow: parseCidrList("192.168.0.0/16, 127.0.0.0/8"),
  });
  const welcome = await reader(open.addr.port);
  await waitFor(() => open.stats.clients === 1, "the allowed client");
  welcome.conn.close();
  await open.close();
});

Deno.test("parseCidrList() and isAllowed() handle IPv4, IPv6 and mapped addresses", () => {
  const ranges = parseCidrList("192.168.1.0/24,fd00::/8,::1");
  assert.ok(isAllowed("192.168.1.77", ranges));
  assert.ok(!isAllowed("192.168.2.1", ranges));
  assert.ok(isAllowed("::ffff:192.168.1.5", ranges));
  assert.ok(isAllowed("fd12:3456::1", ranges));
  assert.ok(isAllowed("::1", ranges));
  assert.ok(!isAllowed("2001:db8::1", ranges));
  assert.throws(() => parseCidrList("192.168.1.0/33"), /Invalid address range "192.168.1.0\/33"/);
  assert.throws(() => parseCidrList("example.org"), /Invalid address range/);
});
