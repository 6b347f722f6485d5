import assert from "node:assert/strict";
import { type Config, ConfigError, configHelp, OPTIONS, parseConfig } from "../lib/config.ts";

function config(
  args: string[],
  env: Record<string, string> = {},
  files: Record<string, string> = {},
): Config {
  const result = parseConfig({
    args,
    env,
    readTextFile: (path) => {
      if (!(path in files)) throw new Deno.errors.NotFound(`No such file or directory: ${path}`);
      return files[path]!;
    },
  });
  assert.notEqual(result, "help");
  return result as Config;
}

function fails(
  args: string[],
  env: Record<string, string>,
  message: RegExp,
  files: Record<string, string> = {},
) {
  assert.throws(() => config(args, env, files), (error: unknown) => {
    assert.ok(error instanceof ConfigError, String(error));
    assert.match(error.message, message);
    return true;
  });
}

Deno.test("parseConfig() defaults: /dev/ttyUSB0, format auto, 0.0.0.0:8080, no push", () => {
  const c = config([]);
  assert.equal(c.source, "/dev/ttyUSB0");
  assert.deepEqual(c.sourceSpec, { kind: "serial", path: "/dev/ttyUSB0" });
  assert.equal(c.format, "auto");
  assert.equal(c.host, "0.0.0.0");
  assert.equal(c.port, 8080);
  assert.equal(c.staleAfterMs, undefined);
  assert.equal(c.dsmrReader, undefined);
  assert.deepEqual(c.serial, {});
  assert.equal(c.logLevel, "info");
});

Deno.test("parseConfig() reads the original product's environment names unchanged", () => {
  const c = config([], {
    P1ReceiverSettings__SerialPort: "/dev/ttyAMA0",
    P1ReceiverSettings__Format: "V502",
    DsmrReaderPublisherSettings__Host: "http://192.168.1.99:7777/",
    DsmrReaderPublisherSettings__ApiKey: "ABCDEF0123",
    DsmrReaderPublisherSettings__Timeout: "00:00:05",
  });
  assert.equal(c.source, "/dev/ttyAMA0");
  assert.equal(c.format, "V502");
  assert.deepEqual(c.dsmrReader, {
    url: "http://192.168.1.99:7777",
    apiKey: "ABCDEF0123",
    timeoutMs: 5000,
    api: "v1",
    intervalSeconds: 0,
  });
});

Deno.test("parseConfig() takes the original's DUMMY port as the demo meter, and env names in any case", () => {
  assert.deepEqual(config([], { p1receiversettings__serialport: "DUMMY" }).sourceSpec, {
    kind: "demo",
  });
});

Deno.test("parseConfig() precedence: flags over environment over file over defaults", () => {
  const files = {
    "/etc/p1.json": JSON.stringify({
      port: 81,
      host: "127.0.0.1",
      format: "belgium",
      "log-level": "debug",
    }),
  };
  const c = config(["--port", "83", "--config", "/etc/p1.json"], {
    P1READER_PORT: "82",
    P1READER_HOST: "::",
  }, files);
  assert.equal(c.port, 83);
  assert.equal(c.host, "::");
  assert.equal(c.format, "belgium");
  assert.equal(c.logLevel, "debug");
  const ours = config([], {
    P1READER_SOURCE: "demo",
    P1ReceiverSettings__SerialPort: "/dev/ttyUSB1",
  });
  assert.equal(ours.source, "demo", "our variable wins over the original's");
});

Deno.test("parseConfig() reads the original's appsettings.json given with --config", () => {
  const appsettings = JSON.stringify({
    Logging: { LogLevel: { Default: "Information" } },
    AllowedHosts: "*",
    P1ReceiverSettings: { SerialPort: "/dev/ttyUSB0", Format: "XS210ESMR5" },
    DsmrReaderPublisherSettings: {
      Host: "http://192.168.1.99:7777",
      ApiKey: "KEY",
      Timeout: "00:00:10",
    },
  });
  const c = config(["--config", "appsettings.json"], {}, { "appsettings.json": appsettings });
  assert.equal(c.format, "XS210ESMR5");
  assert.deepEqual(c.dsmrReader, {
    url: "http://192.168.1.99:7777",
    apiKey: "KEY",
    timeoutMs: 10_000,
    api: "v1",
    intervalSeconds: 0,
  });
});

Deno.test("parseConfig() reads serial overrides, replay pacing and the stale limit", () => {
  const c = config([
    "--baud",
    "9600",
    "--data-bits",
    "7",
    "--parity",
    "EVEN",
    "--stop-bits",
    "1",
    "--source",
    "file:cap.txt",
    "--replay-interval",
    "1",
    "--replay-loop",
    "--stale-after",
    "30",
  ]);
  assert.deepEqual(c.serial, { baudRate: 9600, dataBits: 7, parity: "even", stopBits: 1 });
  assert.deepEqual(c.sourceSpec, { kind: "file", path: "cap.txt" });
  assert.equal(c.replayIntervalSeconds, 1);
  assert.equal(c.replayLoop, true);
  assert.equal(c.staleAfterMs, 30_000);
});

Deno.test("parseConfig() stops on bad settings, naming the option and the value", () => {
  fails(
    ["--format", "dsmr99"],
    {},
    /--format "dsmr99": Unknown format "dsmr99": expected one of auto/,
  );
  fails(
    [],
    { P1ReceiverSettings__Format: "XS210" },
    /P1ReceiverSettings__Format="XS210": Unknown format/,
  );
  fails(["--port", "70000"], {}, /--port "70000": expected a port from 0 to 65535/);
  fails([], { P1READER_PORT: "http" }, /P1READER_PORT="http": expected a port/);
  fails(["--source", "COM3"], {}, /--source "COM3": Invalid source "COM3"/);
  fails(["--source", "tcp://meter"], {}, /--source "tcp:\/\/meter": Invalid source/);
  fails(
    ["--dsmr-reader-url", "192.168.1.99:7777", "--dsmr-reader-key", "k"],
    {},
    /--dsmr-reader-url "192.168.1.99:7777": expected an http/,
  );
  fails(
    ["--dsmr-reader-url", "http://x"],
    {},
    /--dsmr-reader-url is set but --dsmr-reader-key is not/,
  );
  fails(
    [],
    { DsmrReaderPublisherSettings__Timeout: "soon" },
    /DsmrReaderPublisherSettings__Timeout="soon": expected seconds or hh:mm:ss/,
  );
  fails(["--baud", "12345"], {}, /--baud "12345": expected one of 1200, 2400/);
  fails(
    ["--log-level", "loud"],
    {},
    /--log-level "loud": expected one of debug, info, warn, error/,
  );
  fails(["--bogus"], {}, /Unknown option '--bogus'/);
  fails(["--config", "/missing.json"], {}, /--config: cannot read "\/missing.json"/);
  fails(["--config", "bad.json"], {}, /"bad.json" is not valid JSON/, { "bad.json": "{" });
  fails(["--config", "typo.json"], {}, /Unknown setting "prot" in "typo.json"/, {
    "typo.json": '{"prot": 80}',
  });
});

Deno.test("parseConfig() reads the push options and the data directory (systemd's STATE_DIRECTORY too)", () => {
  const c = config(
    [
      "--dsmr-reader-url",
      "https://example.org/dsmr/",
      "--dsmr-reader-key",
      "K",
      "--dsmr-reader-api",
      "v2",
      "--dsmr-reader-interval",
      "5",
      "--queue-max",
      "1000",
      "--queue-max-bytes",
      "64MiB",
    ],
    { STATE_DIRECTORY: "/var/lib/kingtech-p1reader" },
  );
  assert.deepEqual(c.dsmrReader, {
    url: "https://example.org/dsmr",
    apiKey: "K",
    timeoutMs: 3000,
    api: "v2",
    intervalSeconds: 5,
  });
  assert.equal(c.dataDir, "/var/lib/kingtech-p1reader");
  assert.equal(c.queueMax, 1000);
  assert.equal(c.queueMaxBytes, 64 * 1024 * 1024);
  assert.equal(config([]).dataDir, "./data");
  fails(["--queue-max-bytes", "lots"], {}, /--queue-max-bytes "lots": expected bytes/);
  fails(["--dsmr-reader-api", "v3"], {}, /--dsmr-reader-api "v3": expected one of v1, v2/);
  fails([], {
    DsmrReaderPublisherSettings__Host: "http://x",
    DsmrReaderPublisherSettings__ApiKey: "",
  }, /DsmrReaderPublisherSettings__ApiKey=\*\*\*: is empty/);
});

Deno.test("parseConfig() reads the share port options", () => {
  assert.equal(config([]).share, undefined);
  const c = config(["--share-port", "2001", "--share-allow", "192.168.1.0/24,::1"]);
  assert.equal(c.share?.hostname, "0.0.0.0");
  assert.equal(c.share?.port, 2001);
  assert.deepEqual(c.share?.allow?.map((range) => range.text), ["192.168.1.0/24", "::1"]);
  fails(
    ["--share-port", "2001", "--share-allow", "192.168.1.0/40"],
    {},
    /--share-allow "192.168.1.0\/40": Invalid address range/,
  );
  fails([], { P1READER_SHARE_PORT: "-1" }, /P1READER_SHARE_PORT="-1": expected a port/);
});

Deno.test("parseConfig() never shows the API key in an error", () => {
  fails(
    [],
    { DsmrReaderPublisherSettings__ApiKey: "s3cret" },
    /--dsmr-reader-key is set but --dsmr-reader-url is not/,
  );
  try {
    config(["--dsmr-reader-url", "ftp://x", "--dsmr-reader-key", "s3cret"]);
  } catch (error) {
    assert.ok(!(error as Error).message.includes("s3cret"));
  }
});

Deno.test("configHelp() lists every option with its environment names and default", () => {
  const help = configHelp();
  for (const option of OPTIONS) {
    assert.ok(help.includes(`--${option.name}`), option.name);
    assert.ok(help.includes(option.env), option.env);
    for (const name of option.original ?? []) assert.ok(help.includes(name), name);
    if (option.default !== undefined) {
      assert.ok(help.includes(`(default: ${option.default})`), option.name);
    }
  }
  assert.equal(parseConfig({ args: ["--help"], env: {} }), "help");
});
