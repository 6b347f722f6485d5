import assert from "node:assert/strict";
import { FrameScanner } from "../../../lib/dsmr/framer.ts";
import { parseTelegram } from "../../../lib/dsmr/parse.ts";
import { InfluxOutput } from "../../../lib/outputs/influx/output.ts";
import { memoryLogger } from "../../support/helpers.ts";
import { contextFor } from "../../support/service.ts";
import { demoTelegrams } from "../../support/telegrams.ts";

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
    const scanner = new FrameScanner();
    const offers = demoTelegrams(3000).map((bytes) => {
      const [raw] = scanner.push(bytes);
      return output.offer({
        telegram: parseTelegram(raw!),
        bytes: raw!.bytes,
        receivedAt: Date.now(),
      });
    });
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
