/**
 * OPTIONS: every setting of the service in one table (flag, environment names, the original
 * product's names, default, help), and parseConfig, which reads flags, environment and an
 * optional JSON file into a validated {@linkcode Config}. Precedence: flags > environment >
 * file > defaults. `--help` and the README's table come from the same rows.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { FORMAT_NAMES, resolveFormat, type SerialSettings } from "./dsmr/formats.ts";
import { LOG_LEVELS, type LogLevel } from "./log.ts";
import { parseSourceSpec, type SourceSpec } from "./source/source.ts";
import { BAUD_CODES } from "./source/termios.ts";
import { type Cidr, parseCidrList } from "./share/cidr.ts";

/** A setting that is wrong: names the option, where it came from, and the value. */
export class ConfigError extends Error {
  /**
   * Makes the error.
   *
   * @param message What is wrong, naming the option and the value.
   */
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/** The validated configuration of the service. */
export interface Config {
  /** Where telegrams come from, as given. */
  source: string;
  /** The parsed source. */
  sourceSpec: SourceSpec;
  /** Meter format name (an id, an alias or `auto`). */
  format: string;
  /** Serial settings given explicitly (they override the format's). */
  serial: Partial<SerialSettings>;
  /** Seconds between replayed telegrams (0: as fast as possible). */
  replayIntervalSeconds: number;
  /** Loop a file replay. */
  replayLoop: boolean;
  /** HTTP listen address. */
  host: string;
  /** HTTP port (0 picks a free one). */
  port: number;
  /** The most clients of `/api/v1/stream` at once. */
  streamClients: number;
  /** Stale limit in milliseconds; `undefined` means 3 meter intervals. */
  staleAfterMs: number | undefined;
  /** Log level. */
  logLevel: LogLevel;
  /** Log line format. */
  logFormat: "text" | "json";
  /** DSMR reader push settings, when both URL and key are set. */
  dsmrReader:
    | { url: string; apiKey: string; timeoutMs: number; api: "v1" | "v2"; intervalSeconds: number }
    | undefined;
  /** Where the push queue and dead letters are kept. */
  dataDir: string;
  /** Most telegrams the push queue keeps. */
  queueMax: number;
  /** Most bytes the push queue keeps. */
  queueMaxBytes: number;
  /** MQTT publishing, when `--mqtt-url` is set. */
  mqtt:
    | {
      url: string;
      username: string | undefined;
      password: string | undefined;
      clientId: string;
      prefix: string;
      discoveryPrefix: string;
      qos: 0 | 1 | 2;
      retain: boolean;
      perValueTopics: boolean;
      intervalSeconds: number;
    }
    | undefined;
  /** The share server, when `--share-port` is set. */
  share: { hostname: string; port: number; allow: Cidr[] | undefined } | undefined;
}

/** One row of {@linkcode OPTIONS}. */
export interface OptionSpec {
  /** The flag without `--`, e.g. `source`. */
  name: string;
  /** `string` options take a value; `boolean` ones are switches. */
  type: "string" | "boolean";
  /** Our environment variable, e.g. `P1READER_SOURCE`. */
  env: string;
  /** The original product's environment names for the same setting. */
  original?: readonly string[];
  /** The original's `appsettings.json` path, e.g. `P1ReceiverSettings:SerialPort`. */
  appsettings?: string;
  /** The default, as text (absent: unset). */
  default?: string;
  /** The value shown in help instead of the name, e.g. `PATH|tcp://HOST:PORT|file:PATH|-|demo`. */
  value?: string;
  /** What it does. */
  help: string;
  /** Never printed or logged (API keys). */
  secret?: boolean;
}

/** Every setting of the service. */
export const OPTIONS: readonly OptionSpec[] = [
  {
    name: "source",
    type: "string",
    env: "P1READER_SOURCE",
    original: ["P1ReceiverSettings__SerialPort"],
    appsettings: "P1ReceiverSettings:SerialPort",
    default: "/dev/ttyUSB0",
    value: "PATH|tcp://HOST:PORT|file:PATH|-|demo",
    help:
      "where telegrams come from: a serial device, a TCP peer (ser2net, network dongle), a capture, " +
      "stdin, or the built-in demo meter (the original's DUMMY also means demo)",
  },
  {
    name: "format",
    type: "string",
    env: "P1READER_FORMAT",
    original: ["P1ReceiverSettings__Format"],
    appsettings: "P1ReceiverSettings:Format",
    default: "XS210ESMR5",
    value: "FORMAT",
    help: `meter format: ${FORMAT_NAMES.join(", ")}`,
  },
  {
    name: "baud",
    type: "string",
    env: "P1READER_BAUD",
    value: "N",
    help: "serial speed (default: the format's)",
  },
  {
    name: "data-bits",
    type: "string",
    env: "P1READER_DATA_BITS",
    value: "7|8",
    help: "serial data bits (default: the format's)",
  },
  {
    name: "parity",
    type: "string",
    env: "P1READER_PARITY",
    value: "none|even|odd",
    help: "serial parity (default: the format's)",
  },
  {
    name: "stop-bits",
    type: "string",
    env: "P1READER_STOP_BITS",
    value: "1|2",
    help: "serial stop bits (default: 1)",
  },
  {
    name: "replay-interval",
    type: "string",
    env: "P1READER_REPLAY_INTERVAL",
    default: "0",
    value: "SECONDS",
    help: "for file: sources, seconds between telegrams (0: as fast as possible)",
  },
  {
    name: "replay-loop",
    type: "boolean",
    env: "P1READER_REPLAY_LOOP",
    help: "for file: sources, start again at the end",
  },
  {
    name: "host",
    type: "string",
    env: "P1READER_HOST",
    default: "0.0.0.0",
    value: "ADDRESS",
    help: "HTTP listen address",
  },
  {
    name: "port",
    type: "string",
    env: "P1READER_PORT",
    default: "8080",
    value: "PORT",
    help: "HTTP port (the container uses 80)",
  },
  {
    name: "stream-clients",
    type: "string",
    env: "P1READER_STREAM_CLIENTS",
    default: "64",
    value: "N",
    help: "most clients of the live event stream (dashboards) at once; more get 503",
  },
  {
    name: "stale-after",
    type: "string",
    env: "P1READER_STALE_AFTER",
    value: "SECONDS",
    help: "no valid telegram for this long marks the data stale (default: 3 meter intervals)",
  },
  {
    name: "dsmr-reader-url",
    type: "string",
    env: "P1READER_DSMR_READER_URL",
    original: ["DsmrReaderPublisherSettings__Host"],
    appsettings: "DsmrReaderPublisherSettings:Host",
    value: "URL",
    help: "DSMR reader base URL, e.g. http://192.168.1.99:7777",
  },
  {
    name: "dsmr-reader-key",
    type: "string",
    env: "P1READER_DSMR_READER_KEY",
    original: ["DsmrReaderPublisherSettings__ApiKey"],
    appsettings: "DsmrReaderPublisherSettings:ApiKey",
    value: "KEY",
    help: "DSMR reader API key",
    secret: true,
  },
  {
    name: "dsmr-reader-timeout",
    type: "string",
    env: "P1READER_DSMR_READER_TIMEOUT",
    original: ["DsmrReaderPublisherSettings__Timeout"],
    appsettings: "DsmrReaderPublisherSettings:Timeout",
    default: "3",
    value: "SECONDS|hh:mm:ss",
    help: "DSMR reader request timeout",
  },
  {
    name: "dsmr-reader-api",
    type: "string",
    env: "P1READER_DSMR_READER_API",
    default: "v1",
    value: "v1|v2",
    help:
      "v1 posts the raw telegram (DSMR reader parses everything); v2 posts fields, like the original",
  },
  {
    name: "dsmr-reader-interval",
    type: "string",
    env: "P1READER_DSMR_READER_INTERVAL",
    default: "0",
    value: "SECONDS",
    help: "push at most one telegram per this many seconds of meter time (0: every telegram)",
  },
  {
    name: "data-dir",
    type: "string",
    env: "P1READER_DATA_DIR",
    original: ["STATE_DIRECTORY"],
    default: "./data",
    value: "DIR",
    help:
      "where the push queue and dead letters are kept (systemd's StateDirectory sets STATE_DIRECTORY)",
  },
  {
    name: "queue-max",
    type: "string",
    env: "P1READER_QUEUE_MAX",
    default: "200000",
    value: "N",
    help: "most telegrams the push queue keeps; beyond that the oldest are dropped",
  },
  {
    name: "queue-max-bytes",
    type: "string",
    env: "P1READER_QUEUE_MAX_BYTES",
    default: "256MiB",
    value: "BYTES",
    help: "most bytes the push queue keeps (suffixes KiB, MiB, GiB)",
  },
  {
    name: "mqtt-url",
    type: "string",
    env: "P1READER_MQTT_URL",
    value: "URL",
    help: "publish to this MQTT broker (mqtt://, mqtts://, ws://, wss://); off when unset",
  },
  {
    name: "mqtt-username",
    type: "string",
    env: "P1READER_MQTT_USERNAME",
    value: "NAME",
    help: "MQTT username",
  },
  {
    name: "mqtt-password",
    type: "string",
    env: "P1READER_MQTT_PASSWORD",
    value: "PASSWORD",
    help: "MQTT password",
    secret: true,
  },
  {
    name: "mqtt-client-id",
    type: "string",
    env: "P1READER_MQTT_CLIENT_ID",
    default: "p1reader",
    value: "ID",
    help: "MQTT client id",
  },
  {
    name: "mqtt-prefix",
    type: "string",
    env: "P1READER_MQTT_PREFIX",
    default: "p1reader",
    value: "TOPIC",
    help: "topic prefix of state and availability",
  },
  {
    name: "mqtt-discovery-prefix",
    type: "string",
    env: "P1READER_MQTT_DISCOVERY_PREFIX",
    default: "homeassistant",
    value: "TOPIC",
    help: "Home Assistant's discovery prefix",
  },
  {
    name: "mqtt-qos",
    type: "string",
    env: "P1READER_MQTT_QOS",
    default: "0",
    value: "0|1|2",
    help: "QoS of state messages",
  },
  {
    name: "mqtt-retain",
    type: "boolean",
    env: "P1READER_MQTT_RETAIN",
    help: "retain state messages (discovery is always retained)",
  },
  {
    name: "mqtt-per-value",
    type: "boolean",
    env: "P1READER_MQTT_PER_VALUE",
    help: "also publish one topic per value",
  },
  {
    name: "mqtt-interval",
    type: "string",
    env: "P1READER_MQTT_INTERVAL",
    default: "0",
    value: "SECONDS",
    help: "publish at most one telegram per this many seconds of meter time (0: every telegram)",
  },
  {
    name: "share-port",
    type: "string",
    env: "P1READER_SHARE_PORT",
    value: "PORT",
    help:
      "serve the meter's raw telegrams over TCP on this port, for other readers (off when unset)",
  },
  {
    name: "share-host",
    type: "string",
    env: "P1READER_SHARE_HOST",
    default: "0.0.0.0",
    value: "ADDRESS",
    help: "listen address of the share port",
  },
  {
    name: "share-allow",
    type: "string",
    env: "P1READER_SHARE_ALLOW",
    value: "CIDR,...",
    help: "only these address ranges may connect to the share port (default: everyone)",
  },
  {
    name: "log-level",
    type: "string",
    env: "P1READER_LOG_LEVEL",
    default: "info",
    value: LOG_LEVELS.join("|"),
    help: "least severe log lines shown",
  },
  {
    name: "log-format",
    type: "string",
    env: "P1READER_LOG_FORMAT",
    default: "text",
    value: "text|json",
    help: "log line format",
  },
  {
    name: "config",
    type: "string",
    env: "P1READER_CONFIG",
    value: "FILE",
    help: "JSON settings file (ours, or the original's appsettings.json)",
  },
];

/** Keys of the original's appsettings.json that are not ours and are ignored. */
const IGNORED_APPSETTINGS = new Set(["logging", "allowedhosts", "urls"]);

type Raw = Record<string, { value: string | boolean; from: string }>;

function fromFile(path: string, readTextFile: (path: string) => string): Raw {
  let text: string;
  try {
    text = readTextFile(path);
  } catch (error) {
    throw new ConfigError(`--config: cannot read "${path}": ${(error as Error).message}`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new ConfigError(`--config: "${path}" is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof data !== "object" || data === null || Array.isArray(data)) {
    throw new ConfigError(`--config: "${path}" must hold a JSON object`);
  }
  const raw: Raw = {};
  for (const [key, value] of Object.entries(data)) {
    const option = OPTIONS.find((o) => o.name === key);
    if (option && key !== "config") {
      if (typeof value !== "string" && typeof value !== "number" && typeof value !== "boolean") {
        throw new ConfigError(`"${key}" in "${path}" must be a string, number or boolean`);
      }
      raw[key] = {
        value: typeof value === "boolean" ? value : String(value),
        from: `"${key}" in ${path}`,
      };
      continue;
    }
    if (typeof value === "object" && value !== null && !Array.isArray(value)) {
      // The original's shape: { "P1ReceiverSettings": { "SerialPort": ... }, ... }; keys ignore case.
      for (const [inner, innerValue] of Object.entries(value)) {
        const dotted = `${key}:${inner}`.toLowerCase();
        const mapped = OPTIONS.find((o) => o.appsettings?.toLowerCase() === dotted);
        if (mapped && innerValue !== null && innerValue !== undefined) {
          raw[mapped.name] = { value: String(innerValue), from: `${key}:${inner} in ${path}` };
        }
      }
      if (OPTIONS.some((o) => o.appsettings?.toLowerCase().startsWith(`${key.toLowerCase()}:`))) {
        continue;
      }
    }
    if (!IGNORED_APPSETTINGS.has(key.toLowerCase())) {
      throw new ConfigError(`Unknown setting "${key}" in "${path}"`);
    }
  }
  return raw;
}

function fromEnv(env: Record<string, string>): Raw {
  const raw: Raw = {};
  const lower = new Map(
    Object.entries(env).map(([key, value]) => [key.toLowerCase(), { key, value }]),
  );
  for (const option of OPTIONS) {
    // The original's names (matched ignoring case, as .NET does) first, so ours win.
    for (const name of option.original ?? []) {
      const found = lower.get(name.toLowerCase());
      if (found !== undefined) raw[option.name] = { value: found.value, from: found.key };
    }
    const ours = env[option.env];
    if (ours !== undefined) {
      raw[option.name] = {
        value: option.type === "boolean"
          ? !["", "0", "false", "no"].includes(ours.toLowerCase())
          : ours,
        from: option.env,
      };
    }
  }
  return raw;
}

function describe(option: OptionSpec, from: string, value: string | boolean): string {
  const shown = option.secret ? "***" : JSON.stringify(value);
  return from.startsWith("--") || from.includes(" in ") ? `${from} ${shown}` : `${from}=${shown}`;
}

function seconds(text: string): number {
  const clock = /^(\d+):(\d{1,2}):(\d{1,2}(?:\.\d+)?)$/.exec(text);
  const value = clock
    ? Number(clock[1]) * 3600 + Number(clock[2]) * 60 + Number(clock[3])
    : /^\d+(\.\d+)?$/.test(text)
    ? Number(text)
    : NaN;
  if (!Number.isFinite(value)) throw new ConfigError("expected seconds or hh:mm:ss");
  return value;
}

/** `text` when it is a URL with one of `protocols` and a host; else a ConfigError saying `expected`. */
function urlWith(text: string, protocols: string[], expected: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConfigError(expected);
  }
  if (!protocols.includes(url.protocol) || !url.hostname) throw new ConfigError(expected);
  return text;
}

/** Where the process gets its settings; `main.ts` passes the real ones. */
export interface ConfigInputs {
  /** Command-line arguments after the command. */
  args: string[];
  /** Environment variables. */
  env: Record<string, string>;
  /** Reads a settings file. @default {Deno.readTextFileSync} */
  readTextFile?: (path: string) => string;
}

/**
 * Reads and validates the configuration.
 *
 * @param inputs Arguments, environment and file reader.
 * @returns The configuration, or `"help"` when `--help` was given.
 * @throws {ConfigError} When a setting is unknown or invalid; the message names it and its value.
 *
 * @example
 * ```ts
 * import { parseConfig } from "./config.ts";
 * import assert from "node:assert/strict";
 * const config = parseConfig({ args: ["--port", "9000"], env: { P1ReceiverSettings__SerialPort: "/dev/ttyAMA0" } });
 * assert.ok(config !== "help");
 * assert.equal(config.port, 9000);
 * assert.equal(config.source, "/dev/ttyAMA0");
 * ```
 */
export function parseConfig(inputs: ConfigInputs): Config | "help" {
  let parsed;
  try {
    parsed = parseArgs({
      args: inputs.args,
      strict: true,
      allowPositionals: false,
      options: {
        ...Object.fromEntries(OPTIONS.map((o) => [o.name, { type: o.type }])),
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }
  if (parsed.values.help) return "help";
  const flags: Raw = {};
  for (const option of OPTIONS) {
    const value = (parsed.values as Record<string, string | boolean | undefined>)[option.name];
    if (value !== undefined) flags[option.name] = { value, from: `--${option.name}` };
  }
  const env = fromEnv(inputs.env);
  const configPath = flags.config?.value ?? env.config?.value;
  const file = typeof configPath === "string"
    ? fromFile(configPath, inputs.readTextFile ?? Deno.readTextFileSync)
    : {};
  const merged: Raw = { ...file, ...env, ...flags };

  const get = (
    name: string,
  ): { value: string | boolean; from: string; option: OptionSpec } | undefined => {
    const option = OPTIONS.find((o) => o.name === name)!;
    const found = merged[name];
    if (found) return { ...found, option };
    return option.default === undefined
      ? undefined
      : { value: option.default, from: `default of --${name}`, option };
  };
  const check = <T>(name: string, read: (text: string) => T): T | undefined => {
    const found = get(name);
    if (found === undefined) return undefined;
    try {
      return read(String(found.value));
    } catch (error) {
      throw new ConfigError(
        `${describe(found.option, found.from, found.value)}: ${(error as Error).message}`,
      );
    }
  };
  const oneOf = <T extends string | number>(choices: readonly T[]) => (text: string): T => {
    const match = choices.find((c) => String(c).toLowerCase() === text.toLowerCase());
    if (match === undefined) throw new ConfigError(`expected one of ${choices.join(", ")}`);
    return match;
  };
  const positive = (text: string) => {
    const value = seconds(text);
    if (!(value > 0)) throw new ConfigError("must be more than 0 seconds");
    return value;
  };

  const sourceText = check("source", (text) => (text.toLowerCase() === "dummy" ? "demo" : text))!;
  const sourceSpec = check(
    "source",
    (text) => parseSourceSpec(text.toLowerCase() === "dummy" ? "demo" : text),
  )!;
  const format = check("format", (text) => {
    resolveFormat(text);
    return text;
  })!;
  const serial: Partial<SerialSettings> = {};
  const baud = check("baud", (text) => oneOf(Object.keys(BAUD_CODES).map(Number))(text));
  if (baud !== undefined) serial.baudRate = baud;
  const dataBits = check("data-bits", (text) => oneOf([7, 8] as const)(text));
  if (dataBits !== undefined) serial.dataBits = dataBits;
  const parity = check("parity", oneOf(["none", "even", "odd"] as const));
  if (parity !== undefined) serial.parity = parity;
  const stopBits = check("stop-bits", (text) => oneOf([1, 2] as const)(text));
  if (stopBits !== undefined) serial.stopBits = stopBits;
  const portNumber = (text: string) => {
    const value = Number(text);
    if (!/^\d+$/.test(text) || value > 65535) {
      throw new ConfigError("expected a port from 0 to 65535");
    }
    return value;
  };
  const port = check("port", portNumber)!;
  const sharePort = check("share-port", portNumber);
  const mqttUrl = check(
    "mqtt-url",
    (text) =>
      urlWith(
        text,
        ["mqtt:", "mqtts:", "ws:", "wss:"],
        "expected mqtt://, mqtts://, ws:// or wss://HOST[:PORT]",
      ),
  );
  const shareAllow = check("share-allow", (text) => parseCidrList(text));
  const staleAfter = check("stale-after", positive);

  const url = check(
    "dsmr-reader-url",
    (text) =>
      urlWith(text, ["http:", "https:"], "expected an http:// or https:// URL").replace(/\/+$/, ""),
  );
  const apiKey = check("dsmr-reader-key", (text) => {
    if (text.trim() === "") throw new ConfigError("is empty");
    return text;
  });
  const api = check("dsmr-reader-api", oneOf(["v1", "v2"] as const))!;
  const interval = check("dsmr-reader-interval", (text) => seconds(text))!;
  const queueMax = check("queue-max", (text) => {
    if (!/^\d+$/.test(text) || Number(text) < 1) {
      throw new ConfigError("expected a whole number of telegrams, at least 1");
    }
    return Number(text);
  })!;
  const queueMaxBytes = check("queue-max-bytes", (text) => {
    const match = /^(\d+)\s*(|B|KiB|MiB|GiB)$/i.exec(text);
    const scale: Record<string, number> = {
      "": 1,
      b: 1,
      kib: 1024,
      mib: 1024 ** 2,
      gib: 1024 ** 3,
    };
    if (!match || Number(match[1]) < 1) {
      throw new ConfigError("expected bytes, e.g. 268435456 or 256MiB");
    }
    return Number(match[1]) * scale[match[2]!.toLowerCase()]!;
  })!;
  const dataDir = check("data-dir", (text) => {
    if (text.trim() === "") throw new ConfigError("is empty");
    return text;
  })!;
  const timeout = check("dsmr-reader-timeout", positive)!;
  if ((url === undefined) !== (apiKey === undefined)) {
    throw new ConfigError(
      url === undefined
        ? "--dsmr-reader-key is set but --dsmr-reader-url is not: both are needed to push to DSMR reader"
        : "--dsmr-reader-url is set but --dsmr-reader-key is not: both are needed to push to DSMR reader",
    );
  }

  return {
    source: sourceText,
    sourceSpec,
    format,
    serial,
    replayIntervalSeconds: check("replay-interval", (text) => seconds(text))!,
    replayLoop: get("replay-loop")?.value === true,
    host: check("host", (text) => text)!,
    port,
    streamClients: check("stream-clients", (text) => {
      if (!/^\d+$/.test(text) || Number(text) < 1) {
        throw new ConfigError("expected a whole number of clients, at least 1");
      }
      return Number(text);
    })!,
    staleAfterMs: staleAfter === undefined ? undefined : staleAfter * 1000,
    logLevel: check("log-level", oneOf(LOG_LEVELS))!,
    logFormat: check("log-format", oneOf(["text", "json"] as const))!,
    dsmrReader: url !== undefined && apiKey !== undefined
      ? { url, apiKey, timeoutMs: timeout * 1000, api, intervalSeconds: interval }
      : undefined,
    dataDir,
    queueMax,
    queueMaxBytes,
    mqtt: mqttUrl === undefined ? undefined : {
      url: mqttUrl,
      username: check("mqtt-username", (text) => text),
      password: check("mqtt-password", (text) => text),
      clientId: check("mqtt-client-id", (text) => text)!,
      prefix: check("mqtt-prefix", (text) => text.replace(/\/+$/, ""))!,
      discoveryPrefix: check("mqtt-discovery-prefix", (text) => text.replace(/\/+$/, ""))!,
      qos: check("mqtt-qos", (text) => oneOf([0, 1, 2] as const)(text))!,
      retain: get("mqtt-retain")?.value === true,
      perValueTopics: get("mqtt-per-value")?.value === true,
      intervalSeconds: check("mqtt-interval", (text) => seconds(text))!,
    },
    share: sharePort === undefined
      ? undefined
      : { hostname: check("share-host", (text) => text)!, port: sharePort, allow: shareAllow },
  };
}

/** The `--help` text of the service, from {@linkcode OPTIONS}. */
export function configHelp(): string {
  const rows = OPTIONS.map((option) => {
    const flag = `--${option.name}${option.type === "string" ? ` ${option.value ?? "VALUE"}` : ""}`;
    const names = [option.env, ...(option.original ?? [])].join(", ");
    const fallback = option.default === undefined ? "" : ` (default: ${option.default})`;
    return `  ${flag}\n      ${option.help}${fallback}\n      env: ${names}`;
  });
  return `Options (flags > environment > --config file > defaults):\n${
    rows.join("\n")
  }\n  -h, --help\n      show this help\n`;
}
