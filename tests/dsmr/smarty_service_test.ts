/**
 * Luxembourg Smarty meters as a user runs them: `p1reader parse` and the real service, fed from a
 * capture file and from a TCP peer, with good, wrong and missing keys.
 */
import assert from "node:assert/strict";
import { parseKey } from "../../lib/dsmr/decryption.ts";
import { concat } from "../support/helpers.ts";
import { runMain } from "../support/run.ts";
import { startServer } from "../support/server.ts";
import {
  encryptFrame,
  LU_TELEGRAM,
  NEXXTLAB_FRAME,
  NEXXTLAB_KEY_HEX,
  TEST_KEY_HEX,
} from "../support/smarty.ts";

async function tempFile(bytes: Uint8Array): Promise<string> {
  const path = await Deno.makeTempFile({ suffix: ".bin" });
  await Deno.writeFile(path, bytes);
  return path;
}

/** What the service says in `/api/v1/status`. */
async function status(url: string) {
  return await (await fetch(`${url}/api/v1/status`)).json();
}

/** Waits until `condition()` holds, polling every 20 ms; fails after 20 s. */
async function eventually(condition: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

Deno.test("p1reader parse --format luxembourg --decryption-key prints the decrypted telegrams", async () => {
  const damaged = NEXXTLAB_FRAME.slice();
  damaged[300]! ^= 0x01;
  const capture = await tempFile(concat(NEXXTLAB_FRAME, new Uint8Array([0x0d, 0x0a]), damaged));
  const result = await runMain([
    "parse",
    "--format",
    "luxembourg",
    "--decryption-key",
    NEXXTLAB_KEY_HEX,
    capture,
  ]);
  await Deno.remove(capture);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(
    result.stdout,
    "2018-01-30T10:21:22+01:00  luxembourg  import -/- total 6.695 kWh  export -/- total 0.025 kWh  " +
      "power +0/-0 kW\n",
  );
  assert.match(
    result.stderr,
    /encrypted frame 2 rejected: it decrypts, but its authentication tag does not match; it was damaged on the way/,
  );
  assert.match(result.stderr, /2 encrypted frames: 1 decrypted, 1 rejected/);
  assert.ok(!result.stderr.includes(NEXXTLAB_KEY_HEX), result.stderr);
});

Deno.test("p1reader parse says a key is needed, and names a bad one without printing it", async () => {
  const capture = await tempFile(NEXXTLAB_FRAME);
  const missing = await runMain(["parse", capture]);
  assert.equal(missing.code, 1);
  assert.match(
    missing.stderr,
    /encrypted frame 1 rejected: no key is set to decrypt it; .*set --decryption-key/,
  );
  const badKey = NEXXTLAB_KEY_HEX.slice(0, 30) + "ZZ";
  const bad = await runMain(["parse", "--decryption-key", badKey, capture]);
  assert.equal(bad.code, 2);
  assert.match(
    bad.stderr,
    /--decryption-key: expected 32 hex digits \(16 bytes\), but it holds other characters/,
  );
  assert.ok(!bad.stderr.includes(badKey.slice(0, 8)), bad.stderr);
  await Deno.remove(capture);
});

Deno.test("serve stops with exit 2 on a malformed key, naming the option and never the key", async () => {
  const short = NEXXTLAB_KEY_HEX.slice(2);
  const cases: [string[], Record<string, string>, RegExp][] = [
    [
      ["--decryption-key", short],
      {},
      /--decryption-key \*\*\*: expected 32 hex digits \(16 bytes\), got 30 characters/,
    ],
    [
      [],
      { P1READER_DECRYPTION_KEY: short },
      /P1READER_DECRYPTION_KEY=\*\*\*: expected 32 hex digits/,
    ],
    [
      ["--decryption-key", NEXXTLAB_KEY_HEX, "--authentication-key", short],
      {},
      /--authentication-key \*\*\*: expected 32 hex digits/,
    ],
    [
      ["--authentication-key", NEXXTLAB_KEY_HEX],
      {},
      /--authentication-key is set but --decryption-key is not/,
    ],
  ];
  for (const [args, env, message] of cases) {
    const result = await runMain(["serve", "--source", "demo", ...args], {
      permissions: ["--allow-read", "--allow-env"],
      env,
    });
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, message);
    assert.ok(!result.stderr.includes(short.slice(0, 8)), result.stderr);
  }
});

Deno.test("the service decrypts a capture given as file: with --decryption-key", async () => {
  const capture = await tempFile(NEXXTLAB_FRAME);
  const server = await startServer([
    "--source",
    `file:${capture}`,
    "--format",
    "luxembourg",
    "--decryption-key",
    NEXXTLAB_KEY_HEX,
  ]);
  try {
    await eventually(async () => (await status(server.url)).state === "ended", "the replay to end");
    const telegram = await (await fetch(`${server.url}/api/v1/telegram`)).json();
    assert.deepEqual(telegram.energy.import.total, { value: 6.695, unit: "kWh" });
    const { counters, staleAfterSeconds } = await status(server.url);
    assert.equal(counters.encryptedFrames.decrypted, 1);
    assert.equal(staleAfterSeconds, 30, "a Smarty meter sends every 10 s");
  } finally {
    assert.equal((await server.stop()).code, 0);
    await Deno.remove(capture);
  }
  assert.ok(!server.log().includes(NEXXTLAB_KEY_HEX), server.log());
});

Deno.test({
  name:
    "the service reads a Smarty meter over TCP; bad frames are counted, logged once a run, never data",
  ignore: LU_TELEGRAM === undefined,
  async fn() {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const meter = (async () => {
      const conn = await listener.accept();
      return conn;
    })();
    const server = await startServer(
      [
        "--source",
        `tcp://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`,
        "--format",
        "luxembourg",
        "--stale-after",
        "600",
      ],
      { P1READER_DECRYPTION_KEY: TEST_KEY_HEX.toLowerCase() },
    );
    const conn = await meter;
    try {
      const frame = (frameCounter: number, key?: string) =>
        encryptFrame(LU_TELEGRAM!, { frameCounter, ...(key ? { key: parseKey(key) } : {}) });
      await conn.write(await frame(1));
      await eventually(
        async () => (await status(server.url)).counters.telegramsOk === 1,
        "frame 1",
      );

      const otherKey = "00000000000000000000000000000001";
      const damaged = await frame(5);
      damaged[100]! ^= 0x80;
      for (const bytes of [await frame(2, otherKey), await frame(3, otherKey), damaged]) {
        await conn.write(bytes);
      }
      await conn.write(await frame(4, otherKey));
      for (const byte of await frame(6)) await conn.write(new Uint8Array([byte]));
      await conn.write(await frame(7, otherKey));
      await conn.write(await frame(6));
      await eventually(
        async () => (await status(server.url)).counters.encryptedFrames.replayed === 1,
        "the replayed frame",
      );
      const { counters, lastRejection } = await status(server.url);
      assert.deepEqual(counters.encryptedFrames, {
        decrypted: 2,
        noKey: 0,
        wrongKey: 4,
        badTag: 1,
        replayed: 1,
        truncated: 0,
      });
      assert.equal(counters.telegramsOk, 2);
      assert.equal(counters.crcErrors + counters.parseErrors + counters.incomplete, 0);
      assert.match(lastRejection.reason, /counter 6 is not above the last one accepted/);
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      assert.match(metrics, /^p1_encrypted_frames_total\{result="wrong_key"\} 4$/m);
      assert.match(metrics, /^p1_encrypted_frames_total\{result="ok"\} 2$/m);
      const telegram = await (await fetch(`${server.url}/api/v1/telegram`)).json();
      assert.deepEqual(telegram.energy.import.total, { value: 5675.956, unit: "kWh" });
    } finally {
      conn.close();
      listener.close();
      assert.equal((await server.stop()).code, 0);
    }
    const warnings = server.log().split("\n").filter((line) =>
      line.includes(" WARN  encrypted frame rejected")
    );
    assert.deepEqual(warnings.map((line) => /rejected: (.*?) fix=/.exec(line)?.[1]), [
      "it does not decrypt with this key",
      "it decrypts, but its authentication tag does not match",
      "it does not decrypt with this key",
      "it does not decrypt with this key",
      "its counter 6 is not above the last one accepted from this meter (6)",
    ]);
    assert.ok(!server.log().toLowerCase().includes(TEST_KEY_HEX.toLowerCase()), server.log());
  },
});
