/**
 * The reconnect backoff on its own, with times given: what a loss means, when the wait doubles,
 * and when it starts again. The same on a real broker: `takeover_test.ts`.
 */
import assert from "node:assert/strict";
import { ReconnectBackoff } from "../../../lib/outputs/mqtt/reconnect.ts";

Deno.test("failed attempts double the wait up to the maximum and report the outage once", () => {
  const backoff = new ReconnectBackoff(100, 500);
  const waits = [backoff.waitMs];
  const losses = [];
  for (let i = 0; i < 5; i++) {
    losses.push(backoff.closed(i));
    waits.push(backoff.waitMs);
  }
  assert.deepEqual(waits, [100, 200, 400, 500, 500, 500]);
  assert.deepEqual(losses, [
    "unreachable",
    "still unreachable",
    "still unreachable",
    "still unreachable",
    "still unreachable",
  ]);
});

Deno.test("a connection does not restart the backoff until it has held", () => {
  const backoff = new ReconnectBackoff(100, 800);
  backoff.closed(0);
  backoff.closed(1);
  assert.equal(backoff.waitMs, 400);
  backoff.connected(1000);
  assert.equal(backoff.waitMs, 400, "a connection that merely opened proves nothing");
  assert.equal(backoff.holdMs, 1600);
  assert.deepEqual(backoff.held(), { episodeEnded: false });
  assert.equal(backoff.waitMs, 100);
});

Deno.test("the broker closing a young connection and accepting the next at once is a takeover", () => {
  const backoff = new ReconnectBackoff(100, 800);
  assert.deepEqual(backoff.connected(0), { takenOver: false, firstOfEpisode: false });
  assert.equal(backoff.closed(50), "closed early");
  assert.deepEqual(backoff.connected(150), { takenOver: true, firstOfEpisode: true });
  assert.equal(backoff.closed(300), "closed early");
  assert.deepEqual(backoff.connected(500), { takenOver: true, firstOfEpisode: false });
  assert.equal(backoff.closed(900), "closed early");
  assert.deepEqual(backoff.connected(1300), { takenOver: true, firstOfEpisode: false });
  assert.equal(backoff.takeovers, 3);
  assert.equal(backoff.waitMs, 800, "the wait kept growing through the takeovers");
});

Deno.test("a connection that held ends the takeover episode: the next takeover is logged again", () => {
  const backoff = new ReconnectBackoff(100, 800);
  backoff.connected(0);
  backoff.closed(10);
  assert.equal(backoff.connected(110).firstOfEpisode, true);
  assert.deepEqual(backoff.held(), { episodeEnded: true });
  assert.equal(backoff.closed(5000), "lost");
  assert.equal(backoff.connected(5100).takenOver, false, "a held connection was not taken over");
  backoff.closed(5110);
  assert.equal(backoff.connected(5310).firstOfEpisode, true);
});

Deno.test("a young connection closed and then a failed attempt is an unreachable broker", () => {
  const backoff = new ReconnectBackoff(100, 800);
  backoff.connected(0);
  assert.equal(backoff.closed(10), "closed early");
  assert.equal(backoff.closed(120), "unreachable");
  assert.equal(backoff.closed(400), "still unreachable");
  assert.deepEqual(backoff.connected(900), { takenOver: false, firstOfEpisode: false });
  assert.equal(backoff.takeovers, 0);
});

Deno.test("a young connection that ends with an error is lost, not taken over", () => {
  const backoff = new ReconnectBackoff(100, 800);
  backoff.connected(0);
  backoff.errored();
  assert.equal(backoff.closed(10), "lost");
  assert.equal(backoff.connected(120).takenOver, false);
  assert.equal(backoff.closed(5000), "lost", "a connection that outlived the hold time");
});
