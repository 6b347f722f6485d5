import assert from "node:assert/strict";
import { DurableQueue } from "../../../lib/outputs/queue/queue.ts";

async function open(
  dir: string,
  options: { maxRecords?: number; maxBytes?: number; maxWaiting?: number; signal?: AbortSignal } =
    {},
) {
  return await DurableQueue.open<{ n: number }>({ dir, name: "test", ...options });
}

/** Leases and removes every record; returns their items' numbers in order. */
async function drain(queue: DurableQueue<{ n: number }>): Promise<number[]> {
  const seen = [];
  for (let [record] = await queue.lease(); record; [record] = await queue.lease()) {
    seen.push(record.item.n);
    await queue.remove(record.seq);
  }
  return seen;
}

Deno.test("DurableQueue keeps order and survives a reopen", async () => {
  const dir = await Deno.makeTempDir();
  const queue = await open(dir);
  for (let n = 1; n <= 5; n++) await queue.push({ n });
  const [first] = await queue.lease();
  assert.deepEqual(first!.item, { n: 1 });
  await queue.remove(first!.seq);
  await queue.close();

  const again = await open(dir);
  assert.equal(again.length, 4);
  assert.deepEqual(await drain(again), [2, 3, 4, 5]);
  await again.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("DurableQueue cuts off a torn last record, counts it and goes on", async () => {
  const dir = await Deno.makeTempDir();
  const queue = await open(dir);
  await queue.push({ n: 1 });
  await queue.push({ n: 2 });
  await queue.close();
  const log = `${dir}/test.queue.jsonl`;
  const whole = (await Deno.stat(log)).size;
  await Deno.writeTextFile(log, '60 0badc0de {"seq":3,"queuedAt":1,"it', { append: true });
  const again = await open(dir);
  assert.equal(again.length, 2);
  assert.equal(again.stats.corrupt, 1);
  assert.equal((await Deno.stat(log)).size, whole, "the torn bytes are cut off");
  await again.push({ n: 3 });
  await again.close();
  const third = await open(dir);
  assert.equal(third.stats.corrupt, 0, "counted once, not again on the next start");
  assert.deepEqual(await drain(third), [1, 2, 3]);
  await third.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("DurableQueue drops the oldest when full, by count and by bytes", async () => {
  const dir = await Deno.makeTempDir();
  const byCount = await open(dir, { maxRecords: 3 });
  for (let n = 1; n <= 5; n++) assert.equal(await byCount.push({ n }), true);
  assert.equal(byCount.stats.dropped, 2);
  assert.deepEqual((await byCount.lease())[0]!.item, { n: 3 });
  await byCount.close();
  const reopened = await open(dir, { maxRecords: 3 });
  assert.equal(reopened.length, 3, "the drop is durable");
  assert.deepEqual((await reopened.lease())[0]!.item, { n: 3 });
  await reopened.close();

  const bytesDir = await Deno.makeTempDir();
  const byBytes = await open(bytesDir, { maxBytes: 200 });
  for (let n = 1; n <= 10; n++) await byBytes.push({ n });
  assert.ok(byBytes.stats.bytes <= 200);
  assert.ok(byBytes.stats.dropped > 0);
  await byBytes.close();
  await Deno.remove(dir, { recursive: true });
  await Deno.remove(bytesDir, { recursive: true });
});

Deno.test("a full DurableQueue never drops the record in flight, only the ones after it", async () => {
  const dir = await Deno.makeTempDir();
  const queue = await open(dir, { maxRecords: 3 });
  for (let n = 1; n <= 3; n++) await queue.push({ n });
  const [inFlight] = await queue.lease();
  for (let n = 4; n <= 7; n++) await queue.push({ n });
  assert.equal(queue.stats.dropped, 4);
  assert.equal(queue.length, 3);
  await queue.remove(inFlight!.seq); // today's code threw "it is not the oldest" here
  assert.deepEqual(await drain(queue), [6, 7]);
  await queue.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("drops made behind a record in flight are on disk once it leaves", async () => {
  const dir = await Deno.makeTempDir();
  const queue = await open(dir, { maxRecords: 2 });
  await queue.push({ n: 1 });
  await queue.push({ n: 2 });
  const [inFlight] = await queue.lease();
  await queue.push({ n: 3 }); // drops 2, keeps 1 in flight
  await queue.push({ n: 4 }); // drops 3
  await queue.remove(inFlight!.seq);
  await queue.close();
  const again = await open(dir, { maxRecords: 2 });
  assert.deepEqual(await drain(again), [4]);
  await again.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a released record can be dropped like any other", async () => {
  const dir = await Deno.makeTempDir();
  const queue = await open(dir, { maxRecords: 2 });
  await queue.push({ n: 1 });
  await queue.push({ n: 2 });
  await queue.lease();
  queue.release(); // the delivery failed
  await queue.push({ n: 3 });
  assert.deepEqual(await drain(queue), [2, 3]);
  await queue.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("removing a record that is not leased is refused with its number", async () => {
  const dir = await Deno.makeTempDir();
  const queue = await open(dir);
  await queue.push({ n: 1 });
  await assert.rejects(() => queue.remove(1), /Cannot remove record 1 .*: it is not leased/);
  assert.equal(queue.length, 1);
  await queue.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a lease of several records is removed through the last one", async () => {
  const dir = await Deno.makeTempDir();
  const queue = await open(dir);
  for (let n = 1; n <= 5; n++) await queue.push({ n });
  const batch = await queue.lease(3);
  assert.deepEqual(batch.map((r) => r.item.n), [1, 2, 3]);
  await queue.remove(batch.at(-1)!.seq);
  assert.deepEqual(await drain(queue), [4, 5]);
  await queue.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("one damaged record in the middle is skipped, counted, and the rest kept", async () => {
  const dir = await Deno.makeTempDir();
  const queue = await open(dir);
  for (let n = 1; n <= 5; n++) await queue.push({ n });
  await queue.close();
  const log = `${dir}/test.queue.jsonl`;
  const text = await Deno.readTextFile(log);
  await Deno.writeTextFile(log, text.replace('"item":{"n":3}', '"item":{"n":8}'));
  const again = await open(dir);
  assert.equal(again.stats.corrupt, 1);
  assert.deepEqual(await drain(again), [1, 2, 4, 5]);
  await again.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a damaged record is counted once, not again at every start", async () => {
  const dir = await Deno.makeTempDir();
  const queue = await open(dir);
  for (let n = 1; n <= 3; n++) await queue.push({ n });
  await queue.close();
  const log = `${dir}/test.queue.jsonl`;
  const text = await Deno.readTextFile(log);
  await Deno.writeTextFile(log, text.replace('"item":{"n":2}', '"item":{"n":9}'));
  await (await open(dir)).close();
  const again = await open(dir);
  assert.equal(again.stats.corrupt, 0);
  assert.equal(again.length, 2);
  await again.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a record damaged after it was queued is skipped when it is leased", async () => {
  const dir = await Deno.makeTempDir();
  const queue = await open(dir);
  for (let n = 1; n <= 3; n++) await queue.push({ n });
  const log = `${dir}/test.queue.jsonl`;
  const text = await Deno.readTextFile(log);
  await Deno.writeTextFile(log, text.replace('"item":{"n":1}', '"item":{"n":7}'));
  assert.deepEqual(await drain(queue), [2, 3]);
  assert.equal(queue.stats.corrupt, 1);
  await queue.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a queue in the earlier JSON lines format is read on upgrade, nothing lost", async () => {
  const dir = await Deno.makeTempDir();
  // Exactly what earlier builds wrote: one JSON object per line and the delivered mark "2\n".
  const legacy = [1, 2, 3, 4, 5].map((n) =>
    `${JSON.stringify({ seq: n, queuedAt: 1_700_000_000_000 + n, item: { n } })}\n`
  );
  await Deno.writeTextFile(`${dir}/test.queue.jsonl`, legacy.join(""));
  await Deno.writeTextFile(`${dir}/test.delivered`, "2\n");
  const queue = await open(dir);
  assert.equal(queue.length, 3);
  assert.equal(queue.stats.corrupt, 0);
  await queue.push({ n: 6 }); // written in the new format after the old lines
  await queue.close();
  const again = await open(dir);
  assert.deepEqual(await drain(again), [3, 4, 5, 6]);
  await again.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a damaged line in an earlier JSON lines queue loses only that line", async () => {
  const dir = await Deno.makeTempDir();
  const legacy = [1, 2, 3, 4].map((n) =>
    `${JSON.stringify({ seq: n, queuedAt: 1_700_000_000_000 + n, item: { n } })}\n`
  );
  legacy[1] = legacy[1]!.slice(0, 20) + "\n"; // today's code lost records 3 and 4 with it
  await Deno.writeTextFile(`${dir}/test.queue.jsonl`, legacy.join(""));
  const queue = await open(dir);
  assert.equal(queue.stats.corrupt, 1);
  assert.deepEqual(await drain(queue), [1, 3, 4]);
  await queue.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a delivered mark beyond the newest record is distrusted: everything is sent again", async () => {
  const dir = await Deno.makeTempDir();
  const queue = await open(dir);
  for (let n = 1; n <= 3; n++) await queue.push({ n });
  await queue.close();
  await Deno.writeTextFile(`${dir}/test.delivered`, `${"9".padStart(16)}\n`); // a damaged digit
  const again = await open(dir);
  assert.deepEqual(await drain(again), [1, 2, 3]);
  await again.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("an empty DurableQueue truncates its log", async () => {
  const dir = await Deno.makeTempDir();
  const queue = await open(dir);
  for (let n = 1; n <= 3; n++) await queue.push({ n });
  await drain(queue);
  assert.equal((await Deno.stat(`${dir}/test.queue.jsonl`)).size, 0);
  await queue.push({ n: 4 });
  await queue.close();
  const again = await open(dir);
  assert.deepEqual(await drain(again), [4]);
  await again.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("DurableQueue compacts its log without losing or reordering records", async () => {
  const dir = await Deno.makeTempDir();
  const queue = await open(dir);
  for (let n = 1; n <= 3000; n++) await queue.push({ n });
  const before = (await Deno.stat(`${dir}/test.queue.jsonl`)).size;
  for (let i = 0; i < 2000; i++) await queue.remove((await queue.lease())[0]!.seq);
  const after = (await Deno.stat(`${dir}/test.queue.jsonl`)).size;
  assert.ok(after < before * 0.6, `the log was compacted (${before} -> ${after} bytes)`);
  await queue.close();
  const again = await open(dir);
  assert.equal(again.length, 1000);
  assert.deepEqual((await again.lease())[0]!.item, { n: 2001 });
  await again.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("pushes made before a write begins are written together, in order, by one append", async () => {
  const dir = await Deno.makeTempDir();
  const queue = await open(dir);
  const appends = Array.from({ length: 300 }, (_, i) => queue.push({ n: i + 1 }));
  assert.equal(new Set(appends).size, 1, "one append for all of them");
  assert.deepEqual(new Set(await Promise.all(appends)), new Set([true]));
  // Pushed while that append was in flight or after it: the next one.
  const later = [queue.push({ n: 301 }), queue.push({ n: 302 })];
  assert.equal(new Set(later).size, 1);
  assert.notEqual(later[0], appends[0]);
  await Promise.all(later);
  await queue.close();
  const again = await open(dir);
  assert.deepEqual(await drain(again), Array.from({ length: 302 }, (_, i) => i + 1));
  await again.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("pushes beyond the records waiting for the disk are refused at once and counted as overrun", async () => {
  const dir = await Deno.makeTempDir();
  const queue = await open(dir, { maxWaiting: 10 });
  const pushed = Array.from({ length: 25 }, (_, i) => queue.push({ n: i + 1 }));
  await Promise.resolve(); // the append has begun: its ten are being written, not yet written
  pushed.push(queue.push({ n: 0 }));
  const kept = await Promise.all(pushed);
  assert.deepEqual(kept, [...Array(10).fill(true), ...Array(16).fill(false)]);
  assert.equal(queue.stats.overrun, 16);
  assert.equal(queue.length, 10);
  assert.equal(await queue.push({ n: 26 }), true, "taken again once the disk caught up");
  await queue.close();
  const again = await open(dir);
  assert.deepEqual(await drain(again), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 26]);
  await again.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("closing a DurableQueue writes the records still waiting first", async () => {
  const dir = await Deno.makeTempDir();
  const queue = await open(dir);
  for (let n = 1; n <= 5; n++) void queue.push({ n }); // not awaited: closing waits for them
  await queue.close();
  const again = await open(dir);
  assert.deepEqual(await drain(again), [1, 2, 3, 4, 5]);
  await again.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("a compaction gives up at once when the queue's signal aborts, and loses nothing", async () => {
  const dir = await Deno.makeTempDir();
  const stopping = new AbortController();
  const queue = await open(dir, { signal: stopping.signal, maxWaiting: 3000 });
  for (let n = 1; n <= 3000; n++) void queue.push({ n });
  await queue.settled();
  const log = `${dir}/test.queue.jsonl`;
  const before = (await Deno.stat(log)).size;
  // The removal that makes delivered records half the log would compact it.
  for (let i = 0; i < 1499; i++) await queue.remove((await queue.lease())[0]!.seq);
  stopping.abort();
  await queue.remove((await queue.lease())[0]!.seq);
  assert.equal((await Deno.stat(log)).size, before, "not rewritten");
  await assert.rejects(() => Deno.stat(`${log}.tmp`), Deno.errors.NotFound);
  await queue.close();
  const again = await open(dir);
  assert.equal(again.length, 1500);
  assert.deepEqual((await again.lease())[0]!.item, { n: 1501 });
  await again.close();
  await Deno.remove(dir, { recursive: true });
});
