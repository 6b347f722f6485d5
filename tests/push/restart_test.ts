import assert from "node:assert/strict";
import { DemoMeter } from "../../lib/source/demo.ts";
import { FakeDsmrReader } from "../support/fake_dsmr_reader.ts";
import { concat, waitFor } from "../support/helpers.ts";
import { startServer } from "../support/server.ts";

async function status(url: string) {
  return await (await fetch(`${url}/api/v1/status`)).json();
}

Deno.test("the service killed during a DSMR reader outage delivers everything after a restart", async () => {
  const dir = await Deno.makeTempDir();
  let now = Date.UTC(2024, 2, 1, 12, 0, 0);
  const meter = new DemoMeter({ now: () => now });
  const sent = Array.from({ length: 30 }, () => {
    const telegram = meter.telegram();
    now += 1000;
    return telegram;
  });
  await Deno.writeFile(`${dir}/capture.txt`, concat(...sent));
  await Deno.writeFile(`${dir}/empty.txt`, new Uint8Array());
  const fake = new FakeDsmrReader().start();
  const port = fake.port;
  await fake.stop(); // DSMR reader is down
  const push = [
    "--dsmr-reader-url",
    fake.url,
    "--dsmr-reader-key",
    fake.key,
    "--data-dir",
    `${dir}/data`,
  ];

  const first = await startServer(["--source", `file:${dir}/capture.txt`, ...push]);
  let queued = 0;
  for (let i = 0; i < 100 && queued < 30; i++) {
    queued = (await status(first.url)).dsmrReader?.queueLength ?? 0;
    if (queued < 30) await new Promise((resolve) => setTimeout(resolve, 50));
  }
  assert.equal(queued, 30, first.log());
  first.child.kill("SIGKILL");
  await first.child.status;
  await first.stop();

  const back = new FakeDsmrReader({ port }).start();
  const second = await startServer(["--source", `file:${dir}/empty.txt`, ...push]);
  try {
    await waitFor(() => back.readings.length >= 30, "all 30 telegrams", 20_000);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const decoder = new TextDecoder("latin1");
    assert.deepEqual(
      back.readings.map((r) => r.telegram),
      sent.map((t) => decoder.decode(t)),
      "in order, none twice",
    );
    assert.match(second.log(), /30 telegram\(s\) from before to deliver/);
    assert.equal((await status(second.url)).dsmrReader.queueLength, 0);
    const metrics = await (await fetch(`${second.url}/metrics`)).text();
    assert.match(metrics, /^p1_dsmr_reader_pushes_total\{result="delivered"\} 30$/m);
    assert.match(metrics, /^p1_dsmr_reader_queued_telegrams 0$/m);
  } finally {
    await second.stop();
    await back.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
