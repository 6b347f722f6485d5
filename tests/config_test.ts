import assert from "node:assert/strict";
import { type Config, ConfigError, configHelp, OPTIONS, parseConfig } from "../lib/config.ts";
import { settingError } from "../lib/config/found.ts";
import { redactUrl } from "../lib/log.ts";
import { parseSourceSpec } from "../lib/source/source.ts";
import { ROOT } from "./support/paths.ts";

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
  assert.deepEqual(c.format, { kind: "detect", name: "auto" });
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
  assert.deepEqual(c.format, { kind: "detect", name: "V502", meant: "dsmr50" });
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
  assert.deepEqual(c.format, { kind: "fixed", id: "belgium", name: "belgium" });
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
  assert.deepEqual(c.format, { kind: "detect", name: "XS210ESMR5", meant: "dsmr50" });
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
  assert.equal(c.share?.maxClients, 16);
  assert.equal(config(["--share-port", "2001", "--share-max-clients", "2"]).share?.maxClients, 2);
  fails(
    [],
    { P1READER_SHARE_MAX_CLIENTS: "0" },
    /P1READER_SHARE_MAX_CLIENTS="0": expected a whole number of clients, at least 1/,
  );
  fails(
    ["--share-port", "2001", "--share-allow", "192.168.1.0/40"],
    {},
    /--share-allow "192.168.1.0\/40": Invalid address range/,
  );
  fails([], { P1READER_SHARE_PORT: "-1" }, /P1READER_SHARE_PORT="-1": expected a port/);
});

Deno.test("parseConfig() never shows the API key in an error", () => {
  fails(
    ["--dsmr-reader-key", "s3cret"],
    {},
    /^--dsmr-reader-key is set but --dsmr-reader-url is not: both are needed to push to DSMR reader$/,
  );
  fails(
    [],
    { P1READER_DSMR_READER_URL: "ftp://x", P1READER_DSMR_READER_KEY: "s3cret" },
    /^P1READER_DSMR_READER_URL="ftp:\/\/x": expected an http/,
  );
  fails([], { P1READER_DSMR_READER_KEY: " " }, /^P1READER_DSMR_READER_KEY=\*\*\*: is empty$/);
});

Deno.test("a secret's value never appears in its error, even where its reader quotes it", () => {
  const error = settingError(
    { text: "s3cret", from: "--decryption-key", compat: false },
    'expected 32 hex digits, not "s3cret"',
    true,
  );
  assert.equal(error.message, '--decryption-key ***: expected 32 hex digits, not "***"');
});

Deno.test("parseConfig() hides the credentials of a URL in its error", () => {
  for (
    const [args, shown] of [
      [["--mqtt-url", "mqtt://p1:pw@host:99999"], '--mqtt-url "mqtt://***@host:99999"'],
      [["--dsmr-reader-url", "http://user:pw@host:99999", "--dsmr-reader-key", "K"], "***@host"],
      [["--source", "tcp://user:pw@meter:99999"], 'Invalid source "tcp://***@meter:99999"'],
      [["--urls", "http://user:pw@+:80"], '--urls "http://***@+:80"'],
      [["--mqtt-url", "mqtt://p1:pw w@host:99999"], '--mqtt-url "mqtt://***@host:99999"'],
      [["--mqtt-url", "mqtt://p1:p@w@host:99999"], '--mqtt-url "mqtt://***@host:99999"'],
      [["--influx-url", "http://u:pw@h/?u=a&p=pw"], '--influx-url "http://***@h/?***"'],
      [["--influx-url", "http://h:8086/write#pw"], '--influx-url "http://h:8086/write#***"'],
    ]
  ) {
    assert.throws(() => config(args as string[]), (error: Error) => {
      assert.ok(error.message.includes(shown as string), error.message);
      assert.ok(!error.message.includes("pw"), error.message);
      return true;
    });
  }
});

Deno.test("parseConfig() keeps URLs normalised, so that a password with a space or @ can be hidden in logs", () => {
  const c = config(["--mqtt-url", "mqtt://p1:p@ss w@broker", "--dsmr-reader-key", "K"], {
    DsmrReaderPublisherSettings__Host: "http://u:p ss@H:80/dsmr/",
  });
  assert.equal(c.mqtt?.url, "mqtt://p1:p%40ss%20w@broker");
  assert.equal(c.dsmrReader?.url, "http://u:p%20ss@h/dsmr");
  assert.equal(
    redactUrl(`${c.mqtt?.url} ${c.dsmrReader?.url}`),
    "mqtt://***@broker http://***@h/dsmr",
  );
});

Deno.test("parseConfig() reads JSON with comments and trailing commas, as the original shipped its appsettings.json", () => {
  // The shape of the original's appsettings.json: its DSMR reader section commented out.
  const appsettings = [
    "\uFEFF{",
    '  "Logging": { "LogLevel": { "Default": "Information", "Microsoft.AspNetCore": "Warning" } },',
    '  "AllowedHosts": "*",',
    '  "P1ReceiverSettings": {',
    '    "SerialPort": "/dev/ttyAMA0", // the Pi\'s own UART',
    '    "Format": "V502",',
    "  }",
    '  //"DsmrReaderPublisherSettings": {',
    '  //  "Host": "http://192.168.1.99:7777",',
    '  //  "ApiKey": "<DSMR API KEY>",',
    "  //}",
    '  /* a note with a // inside, and a url: "http://x" */',
    "}",
  ].join("\r\n");
  const c = config(["--config", "appsettings.json"], {}, { "appsettings.json": appsettings });
  assert.equal(c.source, "/dev/ttyAMA0");
  assert.deepEqual(c.format, { kind: "detect", name: "V502", meant: "dsmr50" });
  assert.equal(c.dsmrReader, undefined);
  assert.deepEqual(c.warnings, []);
  const ours = config(["--config", "p1.json"], {}, {
    "p1.json": '{ "port": 81, /* the old port */ "mqtt-url": "mqtt://broker//x", }',
  });
  assert.equal(ours.port, 81);
  assert.equal(ours.mqtt?.url, "mqtt://broker//x", "a // inside a string is no comment");
  fails(["--config", "open.json"], {}, /"open.json" is not valid JSON: a \/\* comment on line 2/, {
    "open.json": '{\n  /* "port": 81\n}',
  });
  fails(["--config", "bad.json"], {}, /"bad.json" is not valid JSON: .*line 3/, {
    "bad.json": '{\n  // fine\n  "port" 81\n}',
  });
});

Deno.test("parseConfig() reads true/false, 1/0, yes/no and on/off in any case as switches, in the file and the environment", () => {
  for (const value of [true, "true", "TRUE", 1, "1", "yes", "Yes", "on"]) {
    const file = { "p1.json": JSON.stringify({ "replay-loop": value }) };
    assert.equal(config(["--config", "p1.json"], {}, file).replayLoop, true, String(value));
  }
  for (const value of [false, "false", "False", 0, "0", "no", "off"]) {
    const file = { "p1.json": JSON.stringify({ "replay-loop": value }) };
    assert.equal(config(["--config", "p1.json"], {}, file).replayLoop, false, String(value));
  }
  assert.equal(
    config([], { P1READER_MQTT_URL: "mqtt://b", P1READER_MQTT_RETAIN: "YES" }).mqtt?.retain,
    true,
  );
  assert.equal(config([], { P1READER_MQTT_PER_VALUE: "0" }).mqtt, undefined);
  fails(
    [],
    { P1READER_MQTT_RETAIN: "maybe" },
    /^P1READER_MQTT_RETAIN="maybe": expected true or false/,
  );
  fails([], { P1READER_REPLAY_LOOP: "" }, /^P1READER_REPLAY_LOOP="": expected true or false/);
  fails(["--config", "p1.json"], {}, /^"replay-loop" in p1.json "2": expected true or false/, {
    "p1.json": '{"replay-loop": 2}',
  });
});

Deno.test("parseConfig() checks every value, also of a feature that is off", () => {
  fails(["--mqtt-qos", "3"], {}, /^--mqtt-qos "3": expected one of 0, 1, 2$/);
  fails([], { P1READER_MQTT_INTERVAL: "soon" }, /^P1READER_MQTT_INTERVAL="soon": expected seconds/);
  fails(
    ["--share-allow", "10.0.0.0/99"],
    {},
    /^--share-allow "10.0.0.0\/99": Invalid address range/,
  );
  fails(["--dsmr-reader-timeout", "0"], {}, /^--dsmr-reader-timeout "0": must be more than 0/);
  fails(
    ["--mqtt-prefix", "a/+/b"],
    {},
    /^--mqtt-prefix "a\/\+\/b": expected an MQTT topic without/,
  );
  fails(
    [],
    { P1READER_MQTT_DISCOVERY_PREFIX: "#" },
    /DISCOVERY_PREFIX="#": expected an MQTT topic/,
  );
  fails(["--mqtt-prefix", "/"], {}, /^--mqtt-prefix "\/": expected an MQTT topic, not an empty/);
  fails(["--mqtt-prefix", "$SYS/p1"], {}, /^--mqtt-prefix "\$SYS\/p1": .* does not start with \$/);
  assert.equal(config(["--mqtt-prefix", "home/p1/"]).mqtt, undefined); // off, but read and checked
  fails(
    [],
    { DsmrReaderPublisherSettings__Host: "192.168.1.99" },
    /Host="192.168.1.99": expected an http/,
  );
});

Deno.test("parseConfig() names the closest known setting for an unknown one", () => {
  fails(
    ["--config", "appsettings.json"],
    {},
    /^Unknown setting "P1ReceiverSettings:SerialPrt" in "appsettings.json" \(did you mean SerialPort\?\)/,
    { "appsettings.json": '{"P1ReceiverSettings":{"SerialPrt":"DUMMY"}}' },
  );
  fails(["--config", "appsettings.json"], {}, /; P1ReceiverSettings knows SerialPort, Format$/, {
    "appsettings.json": '{"P1ReceiverSettings":{"Host":"http://x"}}',
  });
  fails(
    ["--config", "p1.json"],
    {},
    /^Unknown setting "prot" in "p1.json" \(did you mean port\?\)$/,
    {
      "p1.json": '{"prot": 80}',
    },
  );
  fails(["--config", "p1.json"], {}, /\(did you mean P1ReceiverSettings\?\)$/, {
    "p1.json": '{"P1ReceiverSetings": {"SerialPort": "DUMMY"}}',
  });
  fails(["--config", "p1.json"], {}, /^Unknown setting "bogus" in "p1.json"$/, {
    "p1.json": '{"bogus": 1}',
  });
  fails(["--prot", "80"], {}, /^Unknown option '--prot' \(did you mean --port\?\)$/);
  fails(
    [],
    { P1READER_MQTT_RETIAN: "true" },
    /^Unknown setting P1READER_MQTT_RETIAN in the environment \(did you mean P1READER_MQTT_RETAIN\?\)$/,
  );
});

Deno.test("parseConfig() stops on a mistyped name in the original's environment sections, in any case", () => {
  fails(
    [],
    { P1ReceiverSettings__SerialPrt: "/dev/ttyUSB9" },
    /^Unknown setting P1ReceiverSettings__SerialPrt in the environment \(did you mean P1ReceiverSettings__SerialPort\?\); the original's P1ReceiverSettings knows SerialPort, Format$/,
  );
  fails(
    [],
    { DsmrReaderPublisherSettings__Host: "http://x", DsmrReaderPublisherSettings__ApiKy: "s3cret" },
    /^Unknown setting DsmrReaderPublisherSettings__ApiKy in the environment \(did you mean DsmrReaderPublisherSettings__ApiKey\?\)/,
  );
  fails([], { p1receiversettings__formt: "V502" }, /\(did you mean P1ReceiverSettings__Format\?\)/);
  fails([], { "P1ReceiverSettings:Bogus": "1" }, /^Unknown setting P1ReceiverSettings:Bogus in/);
  // .NET reads the original's names in any case and with : for __; so does this reader.
  assert.equal(
    config([], { p1receiversettings__serialport: "/dev/ttyAMA0" }).source,
    "/dev/ttyAMA0",
  );
  assert.equal(config([], { "P1ReceiverSettings:SerialPort": "/dev/ttyS1" }).source, "/dev/ttyS1");
  assert.equal(config([], { P1ReceiverSettingsBackup: "x" }).source, "/dev/ttyUSB0");
});

Deno.test("parseConfig() takes a negative number after an option as its value, then checks it as usual", () => {
  const c = config(["--price-import", "-0.05", "--price-export", "-0.01", "--source", "-"]);
  assert.deepEqual(c.history?.prices.import, { all: [{ price: -0.05 }] });
  assert.deepEqual(c.history?.prices.export, { all: [{ price: -0.01 }] });
  assert.deepEqual(c.sourceSpec, { kind: "stdin" });
  fails(["--queue-max", "-1"], {}, /^--queue-max "-1": expected a whole number of telegrams/);
  fails(["--replay-interval", "-1"], {}, /^--replay-interval "-1": expected seconds or hh:mm:ss$/);
  fails(["--port", "-8080"], {}, /^--port "-8080": expected a port from 0 to 65535$/);
  // A switch takes no value, so a number after it is an option of its own.
  fails(["--replay-loop", "-1"], {}, /^Unknown option '-1'/);
});

Deno.test("parseConfig() refuses the share port on the HTTP server's port, naming both settings", () => {
  fails(
    ["--share-port", "8080"],
    {},
    /^--share-port "8080" and the default --port 8080 name the same port: the share port and the HTTP server need one each$/,
  );
  fails(
    ["--port", "2001"],
    { P1READER_SHARE_PORT: "2001" },
    /^P1READER_SHARE_PORT="2001" and --port "2001" name the same port/,
  );
  fails(["--share-port", "80"], { ASPNETCORE_URLS: "http://+:80" }, /name the same port/);
  fails(["--share-port", "9000", "--port", "9000", "--host", "127.0.0.1"], {}, /same port/);
  const apart = config([
    ...["--share-port", "9000", "--share-host", "192.168.1.2"],
    ...["--port", "9000", "--host", "127.0.0.1"],
  ]);
  assert.equal(apart.share?.port, apart.port, "one port on two addresses of their own is fine");
  assert.equal(config(["--share-port", "0", "--port", "0"]).share?.port, 0, "0: any free port");
});

Deno.test("parseConfig() refuses a tcp:// source with a user name or password, without showing them", () => {
  for (const source of ["tcp://user:pw-s3cret@meter:2001", "tcp://pw-s3cret@meter:2001"]) {
    fails(
      ["--source", source],
      {},
      /^--source "tcp:\/\/\*\*\*@meter:2001": Invalid source "tcp:\/\/\*\*\*@meter:2001": a tcp:\/\/ source takes no user name or password; give tcp:\/\/host:port$/,
    );
  }
  assert.throws(
    () => parseSourceSpec("tcp://user:p w@s3cret@meter:2001"),
    (error: Error) => error.message.startsWith('Invalid source "tcp://***@meter:2001"'),
  );
});

Deno.test("parseConfig() leaves the push off with a warning when the original's names give DSMR reader's host but no key", () => {
  const env = config([], { DsmrReaderPublisherSettings__Host: "http://192.168.1.99:7777" });
  assert.equal(env.dsmrReader, undefined);
  assert.deepEqual(env.warnings, [
    "DsmrReaderPublisherSettings__Host is set but --dsmr-reader-key or " +
    "DsmrReaderPublisherSettings__ApiKey is not: both are needed to push to DSMR reader, so it " +
    "stays off, as in the original product",
  ]);
  const file = config(["--config", "a.json"], {}, {
    "a.json": '{"DsmrReaderPublisherSettings": {"Host": "http://h:7777", "ApiKey": null}}',
  });
  assert.equal(file.dsmrReader, undefined);
  assert.match(file.warnings[0]!, /^DsmrReaderPublisherSettings:Host in a.json is set but/);
  const keyOnly = config([], { DsmrReaderPublisherSettings__ApiKey: "s3cret" });
  assert.equal(keyOnly.dsmrReader, undefined);
  assert.match(
    keyOnly.warnings[0]!,
    /^DsmrReaderPublisherSettings__ApiKey is set but --dsmr-reader-url/,
  );
  assert.ok(!keyOnly.warnings[0]!.includes("s3cret"));
  // Our own names: whoever sets our URL wants the push, so a missing key stops start-up.
  fails(
    ["--dsmr-reader-url", "http://x"],
    {},
    /--dsmr-reader-url is set but --dsmr-reader-key is not/,
  );
  const mixed = config([], {
    DsmrReaderPublisherSettings__Host: "http://h:7777",
    P1READER_DSMR_READER_KEY: "K",
  });
  assert.equal(mixed.dsmrReader?.url, "http://h:7777");
  assert.deepEqual(mixed.warnings, []);
});

Deno.test("parseConfig() honours the original's listen URL (ASPNETCORE_URLS, --urls, Urls) as host and port", () => {
  const listen = (args: string[], env: Record<string, string>, files = {}) => {
    const c = config(args, env, files);
    return `${c.host} ${c.port}`;
  };
  assert.equal(listen([], { ASPNETCORE_URLS: "http://+:80" }), "0.0.0.0 80");
  assert.equal(listen([], { ASPNETCORE_URLS: "http://*:8080/" }), "0.0.0.0 8080");
  assert.equal(listen([], { ASPNETCORE_URLS: "http://localhost:5000" }), "localhost 5000");
  assert.equal(listen([], { ASPNETCORE_URLS: "http://[::]:81" }), ":: 81");
  assert.equal(listen([], { ASPNETCORE_URLS: "http://192.168.1.5" }), "192.168.1.5 80");
  assert.equal(listen([], { ASPNETCORE_URLS: "http://+:80;http://*:80" }), "0.0.0.0 80");
  assert.equal(listen(["--urls", "http://127.0.0.1:9000"], {}), "127.0.0.1 9000");
  assert.equal(
    listen(["--config", "a.json"], {}, { "a.json": '{"Urls": "http://+:5000"}' }),
    "0.0.0.0 5000",
  );
  // The usual precedence: a flag beats the environment; agreeing settings in one place are fine.
  assert.equal(listen(["--port", "9001"], { ASPNETCORE_URLS: "http://+:80" }), "0.0.0.0 9001");
  assert.equal(
    listen([], { ASPNETCORE_URLS: "http://+:80", P1READER_HOST: "0.0.0.0", P1READER_PORT: "80" }),
    "0.0.0.0 80",
  );
  fails(
    [],
    { ASPNETCORE_URLS: "http://+:8080", P1READER_PORT: "80" },
    /^ASPNETCORE_URLS="http:\/\/\+:8080" listens on port 8080, but P1READER_PORT="80" says otherwise: set only one of them$/,
  );
  fails(
    [],
    { ASPNETCORE_URLS: "http://*:8080;http://localhost:5000" },
    /^ASPNETCORE_URLS="http:\/\/\*:8080;http:\/\/localhost:5000": lists 2 addresses, and this reader listens on one/,
  );
  fails([], { ASPNETCORE_URLS: "https://+:443" }, /serves http only; give an http:\/\/ URL/);
  fails(["--urls", "http://+:80/p1"], {}, /is not a listen URL: expected http:\/\/HOST\[:PORT\]/);
  fails(["--urls", "http://+:99999"], {}, /expected a port from 0 to 65535/);
});

Deno.test("OPTIONS names each option, environment variable and original name once", () => {
  const names = OPTIONS.flatMap((option) => [option.name]);
  const envs = OPTIONS.flatMap((option) => [option.env, ...(option.original ?? [])]);
  assert.equal(new Set(names).size, names.length);
  assert.equal(new Set(envs.map((env) => env.toLowerCase())).size, envs.length);
  for (const option of OPTIONS) {
    assert.ok(option.help.length > 0 && option.env.length > 0, option.name);
    if (option.type === "string") assert.ok(option.value, `${option.name} shows a value in help`);
  }
});

Deno.test("configHelp() lists every option with its environment names and default", () => {
  // Lines are wrapped at 100 columns: read it as one line.
  const help = configHelp().replace(/\s+/g, " ");
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

Deno.test("the shipped environment file is a valid configuration, every example in it uncommented", () => {
  const text = Deno.readTextFileSync(`${ROOT}packaging/kingtech-p1reader.default`);
  const env = Object.fromEntries(
    [...text.matchAll(/^#?(P1READER_\w+)=(.*)$/gm)].map((match) => [match[1]!, match[2]!]),
  );
  assert.ok(Object.keys(env).length >= 8);
  const c = config([], env);
  assert.equal(c.mqtt?.retain, true);
  assert.equal(c.dsmrReader?.url, "http://192.168.1.99:7777");
});

Deno.test("parseConfig() answers the original's --Section:Key flags with the option to use", () => {
  fails(
    ["--P1ReceiverSettings:SerialPort=/dev/ttyUSB0"],
    {},
    /'--P1ReceiverSettings:SerialPort'.*not read here; use --source/,
  );
  fails(["--dsmrreaderpublishersettings:apikey", "KEY"], {}, /use --dsmr-reader-key/);
});
