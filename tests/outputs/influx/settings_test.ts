import assert from "node:assert/strict";
import { type Config, ConfigError, parseConfig } from "../../../lib/config.ts";
import { runMain } from "../../support/run.ts";

function influxOf(...args: string[]): Config["influx"] {
  const config = parseConfig({ args, env: {} });
  assert.ok(config !== "help");
  return config.influx;
}

function refused(args: string[], message: RegExp): void {
  assert.throws(() => parseConfig({ args, env: {} }), (error: unknown) => {
    assert.ok(error instanceof ConfigError);
    assert.match(error.message, message);
    return true;
  });
}

const URL = ["--influx-url", "http://127.0.0.1:8086/"];

Deno.test("the output is off without --influx-url", () => {
  assert.equal(influxOf(), undefined);
});

Deno.test("--influx-db chooses InfluxDB 1.x's API", () => {
  assert.deepEqual(influxOf(...URL, "--influx-db", "p1", "--influx-interval", "10"), {
    target: {
      api: "v1",
      url: "http://127.0.0.1:8086",
      db: "p1",
      username: undefined,
      password: undefined,
      token: undefined,
    },
    intervalSeconds: 10,
    timeoutMs: 10_000,
  });
});

Deno.test("--influx-org and --influx-bucket choose InfluxDB 2.x's API", () => {
  const config = parseConfig({
    args: [...URL, "--influx-org", "home", "--influx-bucket", "p1"],
    env: { P1READER_INFLUX_TOKEN: "T0KEN" },
  });
  assert.ok(config !== "help");
  assert.deepEqual(config.influx?.target, {
    api: "v2",
    url: "http://127.0.0.1:8086",
    org: "home",
    bucket: "p1",
    token: "T0KEN",
  });
});

Deno.test("options of both APIs contradict each other", () => {
  refused(
    [...URL, "--influx-db", "p1", "--influx-bucket", "b"],
    /--influx-db \(InfluxDB 1\.x's API\) and --influx-bucket \(2\.x's\) contradict each other/,
  );
  refused(
    [...URL, "--influx-api", "v1", "--influx-org", "o"],
    /--influx-api v1 does not take --influx-org/,
  );
  refused(
    [...URL, "--influx-api", "v2", "--influx-db", "p1", "--influx-org", "o"],
    /--influx-api v2 does not take --influx-db/,
  );
});

Deno.test("a missing database, org or bucket is named", () => {
  refused(URL, /--influx-url is set but --influx-db is not/);
  refused([...URL, "--influx-bucket", "b"], /2\.x's API needs --influx-org too/);
  refused([...URL, "--influx-api", "v2"], /needs --influx-org and --influx-bucket too/);
});

Deno.test("credentials come from one place only", () => {
  refused(
    [...URL, "--influx-db", "p1", "--influx-username", "u"],
    /--influx-username and --influx-password go together/,
  );
  refused(
    ["--influx-url", "http://u:p@db:8086", "--influx-db", "p1", "--influx-token", "T"],
    /--influx-token and a user:password@ in --influx-url contradict each other/,
  );
});

Deno.test("--influx-* options without --influx-url are a mistake", () => {
  refused(
    ["--influx-db", "p1", "--influx-token", "T"],
    /--influx-db, --influx-token are set but --influx-url is not/,
  );
});

Deno.test("a URL with a query is refused", () => {
  refused(["--influx-url", "http://db:8086/write?db=p1"], /without \?query/);
});

Deno.test("a contradiction stops the service with exit 2, naming the options and no secret", async () => {
  const result = await runMain(
    ["serve", ...URL, "--influx-db", "p1", "--influx-org", "o", "--influx-password", "hunter2"],
    { permissions: ["--allow-read", "--allow-env"] },
  );
  assert.equal(result.code, 2);
  assert.match(
    result.stderr,
    /--influx-db, --influx-password \(InfluxDB 1\.x's API\) and --influx-org/,
  );
  assert.ok(!(result.stderr + result.stdout).includes("hunter2"));
});

Deno.test("a data directory that cannot be written stops the service with exit 2", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/file`, "");
  const result = await runMain(
    // The history, on by default, would be the first to find the directory unwritable.
    [
      ...["serve", "--source", "demo", ...URL, "--influx-db", "p1", "--history", "off"],
      ...["--data-dir", `${dir}/file/data`],
    ],
    { permissions: ["--allow-read", "--allow-env", "--allow-write", "--allow-net"] },
  );
  await Deno.remove(dir, { recursive: true });
  assert.equal(result.code, 2);
  assert.match(result.stderr, /--data-dir ".*\/file\/data": cannot keep the InfluxDB queue there/);
});
