/**
 * A broker that never acknowledges, or refuses, the reader's look at the retained discovery configs
 * (issue 21): the reader decides the meter's identity without it, publishes discovery, and says so
 * once. A proxy in front of a real mosquitto tampers with the acknowledgement.
 */
import assert from "node:assert/strict";
import { memoryLogger, waitFor } from "../../support/helpers.ts";
import { startBroker } from "../../support/mosquitto.ts";
import {
  brokerTestsEnabled as enabled,
  configs,
  reader,
  received,
  retainedConfigs,
} from "./broker_support.ts";
import { startSubackProxy, type SubackTampering } from "./suback_proxy.ts";

for (
  const [tampering, words] of [
    ["drop", "did not answer"],
    ["refuse", "does not let this reader read"],
  ] as [SubackTampering, string][]
) {
  Deno.test({
    name:
      `a broker that does not acknowledge (${tampering}) the look at the retained configs still gets the discovery, and it is logged once`,
    ignore: !enabled,
    async fn() {
      const broker = await startBroker();
      const proxy = startSubackProxy(broker.anonymousUrl, tampering);
      const { logger, lines } = memoryLogger();
      const publisher = await reader(proxy.url, { logger, answerTimeoutMs: 300 });
      try {
        publisher.offer(received("nl-dsmr50-1phase-water.txt"));
        const first = configs(await retainedConfigs(broker.anonymousUrl, 17));
        assert.ok([...first.keys()].every((id) => id.startsWith("p1reader_E0053004723456789_")));
        publisher.offer(received("be-emucs-peak.txt")); // another meter: another look
        const both = configs(await retainedConfigs(broker.anonymousUrl, 17 + 15));
        assert.ok([...both.keys()].some((id) => id.startsWith("p1reader_1SAG1100042181_")));
        await waitFor(() => proxy.tampered() === 2, "both looks tampered with");
        const warnings = lines.filter((line) => line.includes(words));
        assert.equal(warnings.length, 1, lines.join("\n"));
      } finally {
        await publisher.stop();
        await proxy.close();
        await broker.dispose();
      }
    },
  });
}
