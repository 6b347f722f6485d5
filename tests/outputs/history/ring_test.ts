import assert from "node:assert/strict";
import { Ring } from "../../../lib/outputs/history/ring.ts";

Deno.test("a full ring drops its oldest item for each new one", () => {
  const ring = new Ring<number>(3);
  for (let n = 1; n <= 7; n++) ring.push(n);
  assert.deepEqual([...ring], [5, 6, 7]);
  assert.deepEqual([ring.at(0), ring.at(-1), ring.at(3), ring.at(-4)], [
    5,
    7,
    undefined,
    undefined,
  ]);
});

Deno.test("a ring drops from either end while a condition holds, across its wrap", () => {
  const ring = new Ring<number>(4);
  for (let n = 1; n <= 6; n++) ring.push(n); // slots hold 5, 6, 3, 4
  ring.dropOldestWhile((n) => n < 4);
  assert.deepEqual([...ring], [4, 5, 6]);
  ring.dropNewestWhile((n) => n >= 5);
  assert.deepEqual([...ring], [4]);
  ring.push(9);
  ring.push(10);
  assert.deepEqual(ring.filter((n) => n > 4), [9, 10]);
  ring.dropOldestWhile(() => true);
  assert.equal(ring.length, 0);
  assert.equal(ring.at(-1), undefined);
});

Deno.test("a ring without room for one item is refused", () => {
  assert.throws(() => new Ring(0), /capacity of at least 1, not 0/);
});
