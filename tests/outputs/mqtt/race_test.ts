/**
 * Two readers that look at the broker's retained configs at the same moment, with the same meter id
 * (issue 21): both see nothing and claim the plain identity, and the watch on the plain config
 * topics settles it the same way on both: one plain set and one prefixed set, each reading its own
 * reader's state topics.
 */
import assert from "node:assert/strict";
import { waitFor } from "../../support/helpers.ts";
import { startBroker } from "../../support/mosquitto.ts";
import {
  brokerTestsEnabled as enabled,
  configs,
  reader,
  received,
  retainedConfigs,
} from "./broker_support.ts";

type Config = Record<string, unknown>;

for (const [keeper, other] of [["p1reader", "garage"], ["attic", "garage"]] as const) {
  Deno.test({
    name:
      `two readers (${keeper}, ${other}) that claim one meter id at once end with ${keeper} plain and ${other} prefixed`,
    ignore: !enabled,
    async fn() {
      const broker = await startBroker();
      const a = await reader(broker.anonymousUrl, { prefix: other, clientId: "readerA" });
      const b = await reader(broker.anonymousUrl, { prefix: keeper, clientId: "readerB" });
      try {
        const telegram = received("nl-dsmr50-1phase-water.txt");
        a.offer(telegram); // both look before either published
        b.offer(telegram);
        const id = "E0053004723456789";
        // When both looked before either published, the rule decides (`keeper` keeps the plain
        // ids); on a loaded machine one may publish before the other looks, and then the first
        // keeps them. Either way: one plain set and one prefixed set, each its own reader's.
        const settled = (all: Config[]) =>
          [[keeper, other], [other, keeper]].some(([plainOne, prefixedOne]) => {
            const plain = all.filter((c) => String(c.unique_id).startsWith(`p1reader_${id}_`));
            const prefixed = all.filter((c) =>
              String(c.unique_id).startsWith(`p1reader_${prefixedOne}_${id}_`)
            );
            return plain.length === 17 && prefixed.length === 17 &&
              plain.every((c) => String(c.state_topic).startsWith(`${plainOne}/${id}/`)) &&
              prefixed.every((c) => String(c.state_topic).startsWith(`${prefixedOne}/${id}/`));
          });
        let all: Config[] = [];
        await waitFor(async () => {
          all = [...configs(await retainedConfigs(broker.anonymousUrl, 34)).values()];
          return settled(all);
        }, "one plain and one prefixed set");
        // And it stays so: nothing overwrites the other any more.
        await new Promise((resolve) => setTimeout(resolve, 500));
        all = [...configs(await retainedConfigs(broker.anonymousUrl, 34)).values()];
        assert.ok(settled(all), JSON.stringify(all.map((c) => [c.unique_id, c.state_topic])));
      } finally {
        await a.stop();
        await b.stop();
        await broker.dispose();
      }
    },
  });
}
