import assert from "node:assert/strict";
import mqtt from "mqtt";
import { CLOCK_JUMP_MS, MeterClock, REPLAY_JUMP_MS } from "../lib/meter_clock.ts";
import { P1Receiver } from "../lib/receiver.ts";
import { FileSource } from "../lib/source/file.ts";
import { FakeDsmrReader } from "./support/fake_dsmr_reader.ts";
import { concat, waitFor } from "./support/helpers.ts";
import { meterServer } from "./support/meter_server.ts";
import { haveMosquitto, startBroker } from "./support/mosquitto.ts";
import { startServer } from "./support/server.ts";
import { demoTelegrams, withLine } from "./support/telegrams.ts";

const START = Date.UTC(2024, 0, 15, 9, 0, 0);
const Y2069 = Date.UTC(2069, 11, 31, 22, 59, 59);

/** Checks telegrams one host-second apart with the given meter times; the verdicts. */
function verdicts(meterTimes: number[], host = START): (string | undefined)[] {
  const clock = new MeterClock();
  return meterTimes.map((meterMs, i) => clock.check(meterMs, host + i * 1000));
}

Deno.test("MeterClock trusts a clock that runs with the host's", () => {
  assert.deepEqual(verdicts([0, 1, 2, 3].map((s) => START + s * 1000)), [
    undefined,
    undefined,
    undefined,
    undefined,
  ]);
});

Deno.test("MeterClock flags one telegram stamped 2069 and trusts the next one at the old time", () => {
  const [, jump, after] = verdicts([START, Y2069, START + 2000]);
  assert.match(jump!, /jumped 16788 d ahead \(2069-12-31T22:59:59Z; expected about 2024-01-15/);
  assert.equal(after, undefined);
});

Deno.test("MeterClock flags a clock set back once, and trusts it from the second telegram on", () => {
  const back = START - 3_600_000;
  assert.deepEqual(
    verdicts([START, START + 1000, back + 2000, back + 3000, back + 4000]).map((v) =>
      v?.replace(/ \(.*/, "")
    ),
    [undefined, undefined, "the meter's clock jumped 60 min back", undefined, undefined],
  );
});

Deno.test("MeterClock flags a first telegram far ahead of the host's clock, not one behind it", () => {
  const clock = new MeterClock();
  assert.match(clock.check(Y2069, START)!, /ahead .*from this host's clock/);
  assert.equal(clock.check(START + 1000, START + 1000), undefined);
  // A capture replayed years later is behind the host's clock; that is no jump.
  assert.equal(new MeterClock().check(START, START + 3 * 365 * 86_400_000), undefined);
});

Deno.test("MeterClock takes a replay faster than real time for a running clock", () => {
  const clock = new MeterClock();
  for (let i = 0; i < 600; i++) {
    // Ten minutes of a 1 s meter replayed in 6 s of host time.
    assert.equal(clock.check(START + i * 1000, START + i * 10), undefined, `telegram ${i}`);
  }
});

Deno.test("MeterClock in a replay follows a capture thinned to minutes, or with a night of downtime", () => {
  const times = [0, 5, 10, 15, 15 + 12 * 60, 15 + 12 * 60 + 5].map((minutes) =>
    START + minutes * 60_000
  );
  const replay = new MeterClock({ replay: true });
  // Six telegrams replayed 10 ms apart: the host's clock explains none of the gaps.
  assert.deepEqual(
    times.map((t, i) => replay.check(t, START + i * 10)),
    times.map(() => undefined),
  );
  const live = new MeterClock();
  assert.equal(live.check(times[0]!, START), undefined);
  assert.match(live.check(times[1]!, START + 10)!, /jumped 5 min ahead/);
});

Deno.test("MeterClock in a replay still flags a telegram stamped decades ahead, or an hour back", () => {
  const replay = new MeterClock({ replay: true });
  assert.equal(replay.check(START, START), undefined);
  assert.match(replay.check(Y2069, START + 10)!, /d ahead/);
  assert.equal(replay.check(START + 1000, START + 20), undefined);
  assert.match(replay.check(START - 3_600_000, START + 30)!, /60 min back/);
  assert.equal(replay.check(START + 2000, START + 40), undefined);
  assert.match(
    replay.check(START + 2000 + REPLAY_JUMP_MS + 2 * CLOCK_JUMP_MS, START + 50)!,
    /ahead/,
  );
});

Deno.test("P1Receiver replaying a capture of one telegram every 5 minutes counts no clock jump", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeFile(`${dir}/capture.txt`, concat(...demoTelegrams(12, { stepMs: 300_000 })));
    const receiver = new P1Receiver({ source: new FileSource({ path: `${dir}/capture.txt` }) });
    const jumped: boolean[] = [];
    receiver.subscribe((received) => jumped.push(received.implausible === "clock jump"));
    receiver.start();
    await receiver.finished;
    assert.deepEqual(jumped, Array(12).fill(false));
    assert.equal(receiver.counters.clockJumps, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("MeterClock allows a clock to move up to a minute beyond the elapsed time", () => {
  assert.deepEqual(verdicts([START, START + 1000 + CLOCK_JUMP_MS]), [undefined, undefined]);
  assert.equal(
    verdicts([START, START + 2000 + CLOCK_JUMP_MS])[1]?.slice(0, 30),
    "the meter's clock jumped 61 s ",
  );
  assert.deepEqual(verdicts([START, START - CLOCK_JUMP_MS]), [undefined, undefined]);
});

const enabled = haveMosquitto() || Deno.env.get("CI") !== undefined;

Deno.test({
  name:
    "one telegram stamped 2069 stops neither DSMR reader, MQTT, the history nor today (real service)",
  ignore: !enabled,
  async fn() {
    const broker = await startBroker();
    const states: { raw: string }[] = [];
    const client = await mqtt.connectAsync(broker.anonymousUrl, { clientId: "clock-jump-test" });
    let online = false;
    client.on("message", (topic, payload) => {
      if (topic === "p1reader/status") online = payload.toString() === "online";
      else states.push(JSON.parse(payload.toString()).timestamp);
    });
    await client.subscribeAsync(["p1reader/status", "p1reader/+/state"], { qos: 1 });
    const fake = new FakeDsmrReader().start();
    const meter = meterServer();
    const dir = await Deno.makeTempDir();
    const server = await startServer([
      ...["--source", `tcp://127.0.0.1:${meter.port}`, "--data-dir", dir],
      // The dashboard's history in memory, point by point; the history database leaves the
      // telegram out too (tests/outputs/history/durability_test.ts).
      ...["--history", "off"],
      ...["--dsmr-reader-url", fake.url, "--dsmr-reader-key", fake.key],
      ...["--dsmr-reader-interval", "5", "--mqtt-url", broker.anonymousUrl, "--mqtt-interval", "5"],
    ]);
    try {
      await waitFor(() => meter.clients.size === 1 && online, "the meter and the broker");
      // Ten telegrams, one stamped 2069-12-31 23:59:59 with a valid CRC, forty-one more.
      const telegrams = demoTelegrams(52, { start: START });
      telegrams[10] = withLine(
        telegrams[10]!,
        /0-0:1\.0\.0\(\d{12}W\)/,
        "0-0:1.0.0(691231235959W)",
      );
      await meter.send(concat(...telegrams));
      // One per 5 s of meter time: seconds 0, 5, then 11 (10 was the jump), 16, ... 51.
      const expected = [0, 5, 11, 16, 21, 26, 31, 36, 41, 46, 51].map((s) =>
        `2401151000${String(s).padStart(2, "0")}`
      );
      const pushed = () => fake.readings.map((r) => /0-0:1\.0\.0\((\d{12})/.exec(r.telegram!)![1]);
      await waitFor(
        () =>
          pushed().at(-1) === expected.at(-1) &&
          states.at(-1)?.raw.startsWith(expected.at(-1)!) === true,
        "the last telegram at DSMR reader and over MQTT",
      );
      assert.deepEqual(pushed(), expected);
      assert.deepEqual(states.map((t) => t.raw.slice(0, 12)), expected);
      const status = await (await fetch(`${server.url}/api/v1/status`)).json();
      assert.equal(status.counters.telegramsOk, 52);
      assert.equal(status.counters.clockJumps, 1);
      assert.equal(status.mqtt.published, 11);

      const history = await (await fetch(`${server.url}/api/v1/history?minutes=60`)).json();
      assert.equal(history.points.length, 51, "every telegram but the one stamped 2069");
      assert.equal(history.today.day, "2024-01-15");
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      assert.match(metrics, /^p1_meter_clock_jumps_total 1$/m);
      const warnings = server.log().split("\n").filter((line) => line.includes("clock jumped"));
      assert.equal(warnings.length, 1, server.log());
      assert.match(warnings[0]!, /WARN.*jumped \d+ d ahead \(2069-12-31T22:59:59Z/);
    } finally {
      await server.stop();
      await meter.stop();
      await fake.stop();
      await client.endAsync();
      await broker.dispose();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
