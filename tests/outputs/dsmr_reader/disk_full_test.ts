import assert from "node:assert/strict";
import { FakeDsmrReader } from "../../support/fake_dsmr_reader.ts";
import { waitFor } from "../../support/helpers.ts";
import { startServer } from "../../support/server.ts";
import {
  assertStoredOnceInOrder,
  demoCapture,
  earlierQueueFile,
  fillDisk,
  metric,
  mountTmpfs,
  pushArgs,
  unmount,
  waitForStatus,
  whyTmpfsIsRefused,
} from "./service_support.ts";

const refused = await whyTmpfsIsRefused();
const skipped = refused ? ` (skipped: ${refused})` : "";

/**
 * A test given a fresh 64 KiB tmpfs at `DIR/data` (unmounted after it), or skipped with the
 * reason where mounting is refused. The test stops its servers before it returns.
 */
function onSmallTmpfs(name: string, test: (dir: string, data: string) => Promise<void>): void {
  Deno.test({
    name: name + skipped,
    ignore: refused !== undefined,
    async fn() {
      const dir = await Deno.makeTempDir();
      const data = `${dir}/data`;
      await mountTmpfs(data, "64k");
      try {
        await test(dir, data);
      } finally {
        await unmount(data);
        await Deno.remove(dir, { recursive: true });
      }
    },
  });
}

function errorLines(log: string): string[] {
  return log.split("\n").filter((line) => line.includes(" ERROR "));
}

onSmallTmpfs(
  "on a full disk lost telegrams are counted and logged once, and it recovers by itself",
  async (dir, data) => {
    const capture = demoCapture(200);
    await Deno.writeFile(`${dir}/capture.txt`, capture.bytes);
    await Deno.writeFile(`${dir}/empty.txt`, new Uint8Array());
    const fake = new FakeDsmrReader().start();
    fake.failStatus = 500; // DSMR reader is down while the queue fills the disk
    const source = ["--source", `file:${dir}/capture.txt`, "--replay-interval", "0.02"];
    const first = await startServer([...source, ...pushArgs(fake, data)]);
    let second: Awaited<ReturnType<typeof startServer>> | undefined;
    try {
      const full = await waitForStatus(first.url, (s) => s.lost >= 5, "telegrams lost to the disk");
      assert.match(full.queueWriteError ?? "", /No space left on device/);
      assert.ok((await metric(first.url, "p1_dsmr_reader_lost_total"))! >= full.lost);
      assert.equal(full.dropped, 0, "lost, not dropped: the queue was not full");

      fake.failStatus = 0; // Today's code exited here: ENOSPC writing the delivered mark.
      await waitFor(() => first.log().includes("writing works again"), "the queue to recover");
      await waitFor(() => first.log().includes("ended source"), "the capture to end", 30_000);
      // The last telegram may still be on its way into the queue: wait for the count.
      const done = await waitForStatus(
        first.url,
        (s) => s.queueLength === 0 && fake.readings.length + s.lost === 200,
        "each telegram delivered or counted as lost",
      );
      assert.equal(done.queueWriteError, null);
      const stored = assertStoredOnceInOrder(fake.readings, capture.telegrams);
      assert.equal(await metric(first.url, "p1_dsmr_reader_lost_total"), done.lost);
      const errors = errorLines(first.log());
      assert.equal(errors.length, 1, errors.join("\n"));
      assert.match(errors[0]!, /cannot append to .*No space left on device/);
      assert.match(first.log(), new RegExp(`${done.lost} telegram\\(s\\) were lost meanwhile`));

      // A crash now re-sends nothing (today each restart re-sent the same telegram).
      first.child.kill("SIGKILL");
      await first.stop();
      second = await startServer(["--source", `file:${dir}/empty.txt`, ...pushArgs(fake, data)]);
      assert.match(second.log(), /pushing to DSMR reader .*queued=0/);
      assert.equal((await waitForStatus(second.url, () => true, "status")).queueLength, 0);
      assert.equal(fake.readings.length, stored);
    } finally {
      await first.stop();
      await second?.stop();
      await fake.stop();
    }
  },
);

onSmallTmpfs(
  "a delivered mark that cannot be written is kept in memory and written once space returns",
  async (dir, data) => {
    // An earlier build queued 20 telegrams and never wrote a delivered mark; the disk is full.
    const old = demoCapture(20, Date.UTC(2024, 2, 1, 11, 0, 0));
    await Deno.writeTextFile(`${data}/dsmr-reader.queue.jsonl`, earlierQueueFile(old.telegrams));
    await fillDisk(data);
    const capture = demoCapture(100);
    await Deno.writeFile(`${dir}/capture.txt`, capture.bytes);
    await Deno.writeFile(`${dir}/empty.txt`, new Uint8Array());
    const fake = new FakeDsmrReader().start();
    const source = ["--source", `file:${dir}/capture.txt`, "--replay-interval", "0.02"];
    const first = await startServer([...source, ...pushArgs(fake, data)]);
    let second: Awaited<ReturnType<typeof startServer>> | undefined;
    try {
      await waitFor(() => first.log().includes("writing works again"), "the queue to recover");
      await waitFor(() => first.log().includes("ended source"), "the capture to end", 30_000);
      await waitForStatus(
        first.url,
        (s) => s.queueLength === 0 && fake.readings.length + s.lost === 120,
        "each telegram delivered or counted as lost",
      );
      const sent = [...old.telegrams, ...capture.telegrams];
      const stored = assertStoredOnceInOrder(fake.readings, sent);
      assert.deepEqual(fake.readings.slice(0, 20).map((r) => r.telegram), old.telegrams);
      const errors = errorLines(first.log());
      assert.equal(errors.length, 1, errors.join("\n"));
      assert.match(errors[0]!, /cannot write the delivered mark .*No space left on device/);
      const mark = Number((await Deno.readTextFile(`${data}/dsmr-reader.delivered`)).trim());
      assert.ok(mark >= 20, `the mark on disk covers what was delivered (${mark})`);

      first.child.kill("SIGKILL");
      await first.stop();
      second = await startServer(["--source", `file:${dir}/empty.txt`, ...pushArgs(fake, data)]);
      assert.match(second.log(), /pushing to DSMR reader .*queued=0/);
      assert.equal(fake.readings.length, stored, "nothing re-sent after a crash");
    } finally {
      await first.stop();
      await second?.stop();
      await fake.stop();
    }
  },
);
