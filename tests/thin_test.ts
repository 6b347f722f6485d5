import assert from "node:assert/strict";
import { FrameScanner } from "../lib/dsmr/framer.ts";
import { parseTelegram } from "../lib/dsmr/parse.ts";
import type { ReceivedTelegram } from "../lib/receiver.ts";
import { MeterTimeThinner } from "../lib/thin.ts";
import { demoTelegrams } from "./support/telegrams.ts";

const START = Date.UTC(2024, 0, 15, 9);

/** Demo telegrams at these meter seconds after START. */
function at(...seconds: number[]): ReceivedTelegram[] {
  return seconds.map((s) => {
    const [bytes] = demoTelegrams(1, { start: START + s * 1000 });
    const raw = new FrameScanner().push(bytes!)[0]!;
    return { telegram: parseTelegram(raw), bytes: raw.bytes, receivedAt: Date.now() };
  });
}

/** The meter seconds of the telegrams a thinner lets through. */
function through(thinner: MeterTimeThinner, telegrams: ReceivedTelegram[]): number[] {
  return telegrams.filter((t) => thinner.accept(t)).map((t) =>
    (t.telegram.timestamp!.epochMs - START) / 1000
  );
}

Deno.test("MeterTimeThinner lets one telegram through per interval of meter time", () => {
  assert.deepEqual(through(new MeterTimeThinner(5), at(0, 1, 2, 3, 4, 5, 6, 9, 10, 11)), [
    0,
    5,
    10,
  ]);
});

Deno.test("MeterTimeThinner lets no implausible telegram through, and goes on after it", () => {
  const telegrams = at(0, 1, 2, 3, 4, 5, 6, 7);
  telegrams[5]!.implausible = "clock jump";
  telegrams[6]!.implausible = "register glitch";
  assert.deepEqual(through(new MeterTimeThinner(5), telegrams), [0, 7]);
  assert.deepEqual(through(new MeterTimeThinner(0), telegrams), [0, 1, 2, 3, 4, 7]);
});

Deno.test("MeterTimeThinner starts again from a meter clock that was set back", () => {
  assert.deepEqual(
    through(new MeterTimeThinner(5), at(3600, 3601, 3605, 0, 1, 5)),
    [3600, 3605, 0, 5],
  );
});
