import assert from "node:assert/strict";
import { FrameScanner } from "../../../lib/dsmr/framer.ts";
import { parseTelegram } from "../../../lib/dsmr/parse.ts";
import { InfluxOutput } from "../../../lib/outputs/influx/output.ts";
import type { ReceivedTelegram } from "../../../lib/receiver.ts";
import { DemoMeter } from "../../../lib/source/demo.ts";
import { memoryLogger } from "../../support/helpers.ts";
import { contextFor } from "../../support/service.ts";

/** Distinct telegrams one meter-second apart. */
function telegrams(count: number): ReceivedTelegram[] {
  let now = Date.UTC(2024, 0, 15, 9, 0, 0);
  const meter = new DemoMeter({ now: () => now, seed: 4 });
  const scanner = new FrameScanner();
  return Array.from({ length: count }, () => {
    const [raw] = scanner.push(meter.telegram());
    now += 1000;
    return { telegram: parseTelegram(raw!), bytes: raw!.bytes, receivedAt: Date.now() };
  });
}

/** A port nothing listens on: the database is down. */
function closedPort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

Deno.test("telegrams faster than the disk are counted as overrun by the InfluxDB output, never held", async () => {
  const dir = await Deno.makeTempDir();
  const { logger, lines } = memoryLogger();
  const output = new InfluxOutput({
    target: { api: "v1", url: `http://127.0.0.1:${closedPort()}`, db: "p1" },
    intervalSeconds: 0,
    timeoutMs: 1000,
  });
  await output.start(contextFor(dir, logger));
  try {
    // Offered all at once, as the receiver hands them over: the first thousand wait for the disk.
    const offers = telegrams(3000).map((telegram) => output.offer(telegram));
    await Promise.all(offers);
    const { queue } = output.stats();
    assert.equal(queue.length, 1000);
    assert.equal(queue.overrun, 2000);
    assert.equal(output.status(output.stats(), Date.now()).overrun, 2000);
    const family = output.metrics.find((m) => m.name === "p1_influx_overrun_total");
    assert.deepEqual(family?.read(output.stats()), [{ value: 2000 }]);
    assert.match(
      lines.join("\n"),
      /InfluxDB queue: 2000 telegram\(s\) came faster than the disk took them and were not queued/,
    );
  } finally {
    await output.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
