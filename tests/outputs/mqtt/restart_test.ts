/**
 * A reader restarted after a crash (issue 21): the meters it published before are `offline` until
 * their data is live again, and keep their identities; a broker restarted without its retained
 * messages gets the configs and statuses back from the running reader.
 */
import assert from "node:assert/strict";
import { startDongle } from "../../support/dongle.ts";
import { waitFor } from "../../support/helpers.ts";
import { startBroker } from "../../support/mosquitto.ts";
import { fixture } from "../../support/paths.ts";
import { startServer } from "../../support/server.ts";
import {
  available,
  brokerTestsEnabled as enabled,
  configs,
  reader,
  received,
  retainedConfigs,
  subscriber,
} from "./broker_support.ts";

Deno.test({
  name: "a reader killed with -9 and restarted while its meter is silent shows the meter offline",
  ignore: !enabled,
  async fn() {
    const broker = await startBroker();
    const dataDir = await Deno.makeTempDir();
    const telegram = Deno.readFileSync(fixture("nl-dsmr50-1phase-water.txt"));
    const dongle = startDongle(telegram);
    const args = [
      "--source",
      `tcp://127.0.0.1:${dongle.port}`,
      "--mqtt-url",
      broker.anonymousUrl,
      "--data-dir",
      dataDir,
    ];
    const watch = await subscriber(broker.anonymousUrl, ["p1reader/#"]);
    let server = await startServer(args);
    try {
      const meterStatus = () => watch.last.get("p1reader/E0053004723456789/status")?.payload;
      await waitFor(() => meterStatus() === "online", "the meter to be live", 20_000);
      await retainedConfigs(broker.anonymousUrl, 17);
      dongle.feeding = false;
      server.child.kill("SIGKILL");
      await server.stop();
      await waitFor(
        () => watch.last.get("p1reader/status")?.payload === "offline",
        "the last will",
      );
      assert.equal(meterStatus(), "online", "what the broker holds after a kill -9");

      server = await startServer(args); // the meter stays silent
      await waitFor(
        () => watch.last.get("p1reader/status")?.payload === "online",
        "the reader back",
        20_000,
      );
      await waitFor(() => meterStatus() === "offline", "the recorded meter offline");
      const last = await retainedConfigs(broker.anonymousUrl, 17);
      assert.ok([...configs(last).values()].every((config) => !available(config, last)));
      const record = JSON.parse(await Deno.readTextFile(`${dataDir}/mqtt-meters.json`));
      assert.deepEqual(record, { p1reader: { E0053004723456789: { identity: "plain" } } });

      dongle.feeding = true;
      await waitFor(() => meterStatus() === "online", "the meter's return", 20_000);
    } finally {
      await server.stop();
      await dongle.close();
      await watch.client.endAsync();
      await broker.dispose();
      await Deno.remove(dataDir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "a prefixed meter stays prefixed after a restart on a broker that lost its retained configs",
  ignore: !enabled,
  async fn() {
    const broker = await startBroker();
    const dir = await Deno.makeTempDir();
    const recordPath = `${dir}/mqtt-meters.json`;
    const telegram = received("nl-dsmr50-1phase-water.txt");
    try {
      const first = await reader(broker.anonymousUrl, { prefix: "attic", clientId: "first" });
      first.offer(telegram);
      await retainedConfigs(broker.anonymousUrl, 17);
      const second = await reader(broker.anonymousUrl, { prefix: "garage", recordPath });
      second.offer(telegram);
      await retainedConfigs(broker.anonymousUrl, 34);
      await first.stop();
      await second.stop();

      await broker.stop(); // no persistence: every retained config is gone
      await broker.restart();
      const again = await reader(broker.anonymousUrl, { prefix: "garage", recordPath });
      again.offer(telegram);
      const byId = configs(await retainedConfigs(broker.anonymousUrl, 17));
      await again.stop();
      assert.ok(
        [...byId.keys()].every((id) => id.startsWith("p1reader_garage_E0053004723456789_")),
        [...byId.keys()].join(" "),
      );
    } finally {
      await broker.dispose();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "a broker restarted without its retained messages gets the configs and statuses back from the running reader",
  ignore: !enabled,
  async fn() {
    const broker = await startBroker();
    const publisher = await reader(broker.anonymousUrl);
    try {
      publisher.offer(received("nl-dsmr50-1phase-water.txt"));
      let last = await retainedConfigs(broker.anonymousUrl, 17);
      assert.ok([...configs(last).values()].every((config) => available(config, last)));
      await broker.stop(); // no persistence: the configs and statuses are gone
      await broker.restart();
      await waitFor(() => publisher.stats.connects === 2, "the reconnection");
      // No telegram since: what the reader had is enough.
      await waitFor(async () => {
        last = await retainedConfigs(broker.anonymousUrl, 17);
        return [...configs(last).values()].every((config) => available(config, last));
      }, "the configs and statuses back");
    } finally {
      await publisher.stop();
      await broker.dispose();
    }
  },
});
