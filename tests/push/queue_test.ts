import assert from "node:assert/strict";
import { DurableQueue } from "../../lib/push/queue.ts";

async function open(dir: string, options: { maxRecords?: number; maxBytes?: number } = {}) {
  return await DurableQueue.open<{ n: number }>({ dir, name: "test", ...options });
}

Deno.test("DurableQueue keeps order and survives a reopen", async () => {
  const dir = await Deno.makeTempDir();
  const queue = await open(dir);
  for (let n = 1; n <= 5; n++) await queue.push({ n });
  const first = (await queue.peek())!;
  assert.deepEqual(first.item, { n: 1 });
  await queue.remove(first.seq);
  await queue.close();

  const again = await open(dir);
  assert.equal(again.length, 4);
  const seen = [];
  for (let record = await again.peek(); record; record = await again.peek()) {
    seen.push(record.item.n);
    await again.remove(record.seq);
  }
  assert.deepEqual(seen, [2, 3, 4, 5]);
  await again.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("DurableQueue detects a torn last record and goes on", async () => {
  const dir = await Deno.makeTempDir();
  const queue = await open(dir);
  await queue.push({ n: 1 });
  await queue.push({ n: 2 });
  await queue.close();
  await Deno.writeTextFile(`${dir}/test.queue.jsonl`, '{"seq":3,"queuedAt":1,"it', {
    append: true,
  });
  const again = await open(dir);
  assert.equal(again.length, 2);
  assert.equal(again.tornBytes, 25);
  await again.push({ n: 3 });
  await again.close();
  const third = await open(dir);
  assert.equal(third.length, 3);
  await third.close();
  await Deno.remove(dir, { recursive: true });
});

Deno.test("DurableQueue drops the oldest when full, by count and by bytes", async () => {
  const dir = await Deno.makeTempDir();
  const byCount = await open(dir, { maxRecords: 3 });
  let dropped = 0;
  for (let n = 1; n <= 5; n++) dropped += await byCount.push({ n });
  assert.equal(dropped, 2);
  assert.equal(byCount.dropped, 2);
  assert.deepEqual((await byCount.peek())!.item, { n: 3 });
  await byCount.close();
  const reopened = await open(dir, { maxRecords: 3 });
  assert.equal(reopened.length, 3, "the drop is durable");
  assert.deepEqual((await reopened.peek())!.item, { n: 3 });
  await reopened.close();

  const bytesDir = await Deno.makeTempDir();
  const byBytes = await open(bytesDir, { maxBytes: 200 });
  for (let n = 1; n <= 10; n++) await byBytes.push({ n });
  assert.ok(byBytes.bytes <= 200);
  assert.ok(byBytes.dropped > 0);
  await byBytes.close();
  await Deno.remove(dir, { recursive: true });
  await Deno.remove(bytesDir, { recursive: true });
});

Deno.test("DurableQueue compacts its log without losing or reordering records", async () => {
  const dir = await Deno.makeTempDir();
  const queue = await open(dir);
  for (let n = 1; n <= 3000; n++) await queue.push({ n });
  const before = (await Deno.stat(`${dir}/test.queue.jsonl`)).size;
  for (let i = 0; i < 2000; i++) await queue.remove((await queue.peek())!.seq);
  const after = (await Deno.stat(`${dir}/test.queue.jsonl`)).size;
  assert.ok(after < before * 0.6, `the log was compacted (${before} -> ${after} bytes)`);
  await queue.close();
  const again = await open(dir);
  assert.equal(again.length, 1000);
  assert.deepEqual((await again.peek())!.item, { n: 2001 });
  await again.close();
  await Deno.remove(dir, { recursive: true });
});
