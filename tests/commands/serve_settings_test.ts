/** Settings as users of the original product write them, tried on the real service. */
import assert from "node:assert/strict";
import { runMain } from "../support/run.ts";
import { startServer } from "../support/server.ts";

/** A port nobody listens on right now. */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr as Deno.NetAddr;
  listener.close();
  return port;
}

Deno.test("the service listens where ASPNETCORE_URLS says and warns once about a DSMR reader host without key", async () => {
  const port = freePort();
  const server = await startServer([], {
    ASPNETCORE_URLS: `http://127.0.0.1:${port}`,
    P1ReceiverSettings__SerialPort: "DUMMY",
    DsmrReaderPublisherSettings__Host: "http://192.168.1.99:7777",
  }, []);
  try {
    assert.equal(server.url, `http://127.0.0.1:${port}`);
    const status = await (await fetch(`${server.url}/api/v1/status`)).json();
    assert.equal(status.dsmrReader, null, "the push stays off");
    const lines = server.log().split("\n").filter((line) =>
      line.includes("DsmrReaderPublisherSettings")
    );
    assert.equal(lines.length, 1, server.log());
    assert.match(lines[0]!, / WARN {2}DsmrReaderPublisherSettings__Host is set but .* stays off/);
  } finally {
    await server.stop();
  }
});

Deno.test("a bad MQTT URL with a password stops start-up with exit 2, without printing the password", async () => {
  const result = await runMain(["--mqtt-url", "mqtt://p1:pw-s3cret@host:99999"], {
    permissions: ["--allow-env", "--allow-read"],
  });
  assert.equal(result.code, 2);
  assert.match(result.stderr, /--mqtt-url "mqtt:\/\/\*\*\*@host:99999": expected mqtt:\/\//);
  assert.ok(!result.stderr.includes("s3cret"), result.stderr);
});

Deno.test("a mistyped name of the original's stops start-up with exit 2, naming the right one", async () => {
  const result = await runMain([], {
    permissions: ["--allow-env", "--allow-read"],
    env: { P1ReceiverSettings__SerialPrt: "/dev/ttyUSB9" },
  });
  assert.equal(result.code, 2, result.stderr);
  assert.match(
    result.stderr,
    /Unknown setting P1ReceiverSettings__SerialPrt in the environment \(did you mean P1ReceiverSettings__SerialPort\?\)/,
  );
});

Deno.test("the share port on the HTTP port stops start-up with exit 2 before anything listens", async () => {
  const port = String(freePort());
  const dataDir = await Deno.makeTempDir();
  const result = await runMain(["--source", "demo", "--share-port", port, "--port", port], {
    permissions: ["--allow-env", "--allow-read", "--allow-write", "--allow-net"],
    env: { P1READER_DATA_DIR: dataDir },
  });
  await Deno.remove(dataDir, { recursive: true });
  assert.equal(result.code, 2, result.stderr);
  assert.match(
    result.stderr,
    new RegExp(`--share-port "${port}" and --port "${port}" name the same`),
  );
  assert.doesNotMatch(result.stderr, /sharing raw telegrams/);
});
