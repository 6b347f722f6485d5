/**
 * Every option of the service, grouped by the feature it belongs to. Each row carries its flag,
 * environment name, default, help and reader; its key in the group is the configuration key it
 * fills, and {@linkcode Config} is derived from these groups. The original product's names for
 * the same settings are in `compat_original.ts`.
 *
 * A new option is one row in its feature's group: a key (the configuration key it fills), `name`,
 * `env`, `help`, a `read` from `readers.ts` (or its own, throwing `ConfigError`), and `default`
 * when it has one (without it, its value can be `undefined`); `secret: true` for keys and
 * passwords. A new feature is a group here plus its entry in {@linkcode OPTION_GROUPS}.
 *
 * @module
 */

import { parseKey, SMARTY_AUTHENTICATION_KEY } from "../dsmr/decryption.ts";
import { influxSettings } from "../outputs/influx/settings.ts";
import { FORMAT_NAMES, resolveFormat } from "../dsmr/formats.ts";
import { LOG_LEVELS } from "../log.ts";
import { readCurrency, readPriceSchedule } from "../outputs/history/prices.ts";
import { parseCidrList } from "../share/cidr.ts";
import { parseSourceSpec } from "../source/source.ts";
import { BAUD_CODES } from "../source/termios.ts";
import { sourceFromOriginal } from "./compat_original.ts";
import {
  asIs,
  ConfigError,
  type OptionGroup,
  optionGroup,
  type OptionRows,
  setOnly,
  type Simplify,
  whenSet,
} from "./option.ts";
import {
  boolean,
  bytes,
  count,
  nonEmpty,
  oneOf,
  port,
  positiveMilliseconds,
  seconds,
  text,
  url,
  withoutTrailingSlash,
} from "./readers.ts";

/** Where telegrams come from and how to read them. */
export const METER_OPTIONS = optionGroup({
  source: {
    name: "source",
    env: "P1READER_SOURCE",
    default: "/dev/ttyUSB0",
    value: "PATH|tcp://HOST:PORT|file:PATH|-|demo",
    help:
      "where telegrams come from: a serial device, a TCP peer (ser2net, network dongle), a capture, " +
      "stdin, or the built-in demo meter (the original's DUMMY also means demo)",
    read: (given: string) => {
      const source = sourceFromOriginal(given);
      return { text: source, spec: parseSourceSpec(source) };
    },
  },
  format: {
    name: "format",
    env: "P1READER_FORMAT",
    default: "auto",
    value: "FORMAT",
    help: `meter format: ${FORMAT_NAMES.join(", ")}; auto, XS210ESMR5, V502 detect it`,
    read: resolveFormat,
  },
  replayIntervalSeconds: {
    name: "replay-interval",
    env: "P1READER_REPLAY_INTERVAL",
    default: "0",
    value: "SECONDS",
    help: "for file: sources, seconds between telegrams (0: as fast as possible)",
    read: seconds,
  },
  replayLoop: {
    name: "replay-loop",
    env: "P1READER_REPLAY_LOOP",
    switch: true,
    help: "for file: sources, start again at the end",
    read: boolean,
  },
  staleAfterMs: {
    name: "stale-after",
    env: "P1READER_STALE_AFTER",
    value: "SECONDS",
    help: "no valid telegram for this long marks the data stale (default: 3 meter intervals)",
    read: positiveMilliseconds,
  },
}, ({ source, ...rest }) => ({ source: source.text, sourceSpec: source.spec, ...rest }));

/** Serial line settings given explicitly; they override the format's. */
export const SERIAL_OPTIONS = optionGroup({
  baudRate: {
    name: "baud",
    env: "P1READER_BAUD",
    value: "N",
    help: "serial speed (default: the format's)",
    read: oneOf(Object.keys(BAUD_CODES).map(Number)),
  },
  dataBits: {
    name: "data-bits",
    env: "P1READER_DATA_BITS",
    value: "7|8",
    help: "serial data bits (default: the format's)",
    read: oneOf([7, 8]),
  },
  parity: {
    name: "parity",
    env: "P1READER_PARITY",
    value: "none|even|odd",
    help: "serial parity (default: the format's)",
    read: oneOf(["none", "even", "odd"]),
  },
  stopBits: {
    name: "stop-bits",
    env: "P1READER_STOP_BITS",
    value: "1|2",
    help: "serial stop bits (default: 1)",
    read: oneOf([1, 2]),
  },
}, (values) => ({ serial: setOnly(values) }));

/** Decrypting a Luxembourg Smarty meter's frames, on when the decryption key is set. */
export const DECRYPTION_OPTIONS = optionGroup({
  decryptionKey: {
    name: "decryption-key",
    env: "P1READER_DECRYPTION_KEY",
    value: "HEX",
    help: "decrypt the telegrams of a Luxembourg Smarty meter with this key (32 hex digits, " +
      "from the grid operator); encrypted frames are only counted without it",
    secret: true,
    read: parseKey,
  },
  authenticationKey: {
    name: "authentication-key",
    env: "P1READER_AUTHENTICATION_KEY",
    value: "HEX",
    help: "authentication key of encrypted telegrams, if not the one every Smarty meter uses " +
      `(${SMARTY_AUTHENTICATION_KEY})`,
    secret: true,
    read: parseKey,
  },
}, ({ decryptionKey, authenticationKey }) => {
  if (decryptionKey === undefined && authenticationKey !== undefined) {
    throw new ConfigError(
      "--authentication-key is set but --decryption-key is not: encrypted telegrams need the " +
        "meter's decryption key too",
    );
  }
  return {
    decryption: decryptionKey === undefined ? undefined : {
      decryptionKey,
      authenticationKey: authenticationKey ?? parseKey(SMARTY_AUTHENTICATION_KEY),
    },
  };
});

/** Where the HTTP server listens. */
export const HTTP_OPTIONS = optionGroup({
  host: {
    name: "host",
    env: "P1READER_HOST",
    default: "0.0.0.0",
    value: "ADDRESS",
    help: "HTTP listen address",
    read: text,
  },
  port: {
    name: "port",
    env: "P1READER_PORT",
    default: "8080",
    value: "PORT",
    help: "HTTP port (the container uses 80)",
    read: port,
  },
  streamClients: {
    name: "stream-clients",
    env: "P1READER_STREAM_CLIENTS",
    default: "64",
    value: "N",
    help: "most clients of the live event stream (dashboards) at once; more get 503",
    read: count("clients"),
  },
}, asIs);

/** The push to DSMR reader, on when both its URL and its key are set. */
export const DSMR_READER_OPTIONS = optionGroup(
  {
    url: {
      name: "dsmr-reader-url",
      env: "P1READER_DSMR_READER_URL",
      value: "URL",
      help: "DSMR reader base URL, e.g. http://192.168.1.99:7777 (a proxy's user:password@ may " +
        "precede the host)",
      read: (given: string) =>
        withoutTrailingSlash(
          url(["http:", "https:"], "expected an http:// or https:// URL")(given),
        ),
    },
    apiKey: {
      name: "dsmr-reader-key",
      env: "P1READER_DSMR_READER_KEY",
      value: "KEY",
      help: "DSMR reader API key",
      secret: true,
      read: nonEmpty,
    },
    timeoutMs: {
      name: "dsmr-reader-timeout",
      env: "P1READER_DSMR_READER_TIMEOUT",
      default: "3",
      value: "SECONDS|hh:mm:ss",
      help: "DSMR reader request timeout",
      read: positiveMilliseconds,
    },
    api: {
      name: "dsmr-reader-api",
      env: "P1READER_DSMR_READER_API",
      default: "v1",
      value: "v1|v2",
      help:
        "v1 posts the raw telegram (DSMR reader parses everything); v2 posts fields, like the original",
      read: oneOf(["v1", "v2"]),
    },
    intervalSeconds: {
      name: "dsmr-reader-interval",
      env: "P1READER_DSMR_READER_INTERVAL",
      default: "0",
      value: "SECONDS",
      help: "push at most one telegram per this many seconds of meter time (0: every telegram)",
      read: seconds,
    },
  },
  (values) => ({ dsmrReader: whenSet(values, "url", "apiKey") }),
  { keys: ["url", "apiKey"], purpose: "to push to DSMR reader" },
);

/** The durable queues of the pushes (DSMR reader, InfluxDB). */
export const QUEUE_OPTIONS = optionGroup({
  dataDir: {
    name: "data-dir",
    env: "P1READER_DATA_DIR",
    alsoEnv: ["STATE_DIRECTORY"],
    default: "./data",
    value: "DIR",
    help: "where the push queues, their dead letters and the history database are kept " +
      "(systemd's StateDirectory sets STATE_DIRECTORY)",
    read: nonEmpty,
  },
  queueMax: {
    name: "queue-max",
    env: "P1READER_QUEUE_MAX",
    default: "200000",
    value: "N",
    help: "most telegrams each push queue (DSMR reader, InfluxDB) keeps; beyond that the oldest " +
      "are dropped",
    read: count("telegrams"),
  },
  queueMaxBytes: {
    name: "queue-max-bytes",
    env: "P1READER_QUEUE_MAX_BYTES",
    default: "256MiB",
    value: "BYTES",
    help: "most bytes each push queue keeps (suffixes KiB, MiB, GiB)",
    read: bytes,
  },
}, asIs);

/** MQTT publishing, on when the broker's URL is set. */
export const MQTT_OPTIONS = optionGroup({
  url: {
    name: "mqtt-url",
    env: "P1READER_MQTT_URL",
    value: "URL",
    help: "publish to this MQTT broker (mqtt://, mqtts://, ws://, wss://); off when unset",
    read: url(
      ["mqtt:", "mqtts:", "ws:", "wss:"],
      "expected mqtt://, mqtts://, ws:// or wss://HOST[:PORT]",
    ),
  },
  username: {
    name: "mqtt-username",
    env: "P1READER_MQTT_USERNAME",
    value: "NAME",
    help: "MQTT username",
    read: text,
  },
  password: {
    name: "mqtt-password",
    env: "P1READER_MQTT_PASSWORD",
    value: "PASSWORD",
    help: "MQTT password",
    secret: true,
    read: text,
  },
  clientId: {
    name: "mqtt-client-id",
    env: "P1READER_MQTT_CLIENT_ID",
    default: "p1reader",
    value: "ID",
    help: "MQTT client id",
    read: text,
  },
  prefix: {
    name: "mqtt-prefix",
    env: "P1READER_MQTT_PREFIX",
    default: "p1reader",
    value: "TOPIC",
    help: "topic prefix of state and availability",
    read: withoutTrailingSlash,
  },
  discoveryPrefix: {
    name: "mqtt-discovery-prefix",
    env: "P1READER_MQTT_DISCOVERY_PREFIX",
    default: "homeassistant",
    value: "TOPIC",
    help: "Home Assistant's discovery prefix",
    read: withoutTrailingSlash,
  },
  qos: {
    name: "mqtt-qos",
    env: "P1READER_MQTT_QOS",
    default: "0",
    value: "0|1|2",
    help: "QoS of state messages",
    read: oneOf([0, 1, 2]),
  },
  retain: {
    name: "mqtt-retain",
    env: "P1READER_MQTT_RETAIN",
    switch: true,
    help: "retain state messages (discovery is always retained)",
    read: boolean,
  },
  perValueTopics: {
    name: "mqtt-per-value",
    env: "P1READER_MQTT_PER_VALUE",
    switch: true,
    help: "also publish one topic per value",
    read: boolean,
  },
  intervalSeconds: {
    name: "mqtt-interval",
    env: "P1READER_MQTT_INTERVAL",
    default: "0",
    value: "SECONDS",
    help: "publish at most one telegram per this many seconds of meter time (0: every telegram)",
    read: seconds,
  },
}, (values) => ({ mqtt: whenSet(values, "url") }));

/** The share server, on when its port is set. */
export const SHARE_OPTIONS = optionGroup({
  port: {
    name: "share-port",
    env: "P1READER_SHARE_PORT",
    value: "PORT",
    help:
      "serve the meter's raw telegrams over TCP on this port, for other readers (off when unset)",
    read: port,
  },
  hostname: {
    name: "share-host",
    env: "P1READER_SHARE_HOST",
    default: "0.0.0.0",
    value: "ADDRESS",
    help: "listen address of the share port",
    read: text,
  },
  allow: {
    name: "share-allow",
    env: "P1READER_SHARE_ALLOW",
    value: "CIDR,...",
    help: "only these address ranges may connect to the share port (default: everyone)",
    read: parseCidrList,
  },
}, (values) => ({ share: whenSet(values, "port") }));

/** The energy history and its prices; on unless `--history off`. */
export const HISTORY_OPTIONS = optionGroup({
  enabled: {
    name: "history",
    env: "P1READER_HISTORY",
    default: "on",
    value: "on|off",
    help:
      "keep the energy history (usage per hour, day, month and year, with costs) in an SQLite " +
      "file in --data-dir",
    read: boolean,
  },
  database: {
    name: "history-db",
    env: "P1READER_HISTORY_DB",
    value: "FILE",
    help: "the history's database file (default: history.sqlite in --data-dir)",
    read: nonEmpty,
  },
  minuteDays: {
    name: "history-minute-days",
    env: "P1READER_HISTORY_MINUTE_DAYS",
    default: "31",
    value: "DAYS",
    help: "days the per-minute history is kept (usage per hour, day and month is kept forever)",
    read: count("days"),
  },
  importAll: {
    name: "price-import",
    env: "P1READER_PRICE_IMPORT",
    value: "PRICES",
    help: "price per kWh imported, in every tariff: 0.28, or with the dates later prices take " +
      "effect: 0.28,2025-07-01=0.25",
    read: readPriceSchedule,
  },
  importT1: {
    name: "price-import-t1",
    env: "P1READER_PRICE_IMPORT_T1",
    value: "PRICES",
    help:
      "price per kWh imported in tariff 1 (Netherlands: low; Belgium: day), over --price-import",
    read: readPriceSchedule,
  },
  importT2: {
    name: "price-import-t2",
    env: "P1READER_PRICE_IMPORT_T2",
    value: "PRICES",
    help: "price per kWh imported in tariff 2 (Netherlands: normal; Belgium: night), over " +
      "--price-import",
    read: readPriceSchedule,
  },
  exportAll: {
    name: "price-export",
    env: "P1READER_PRICE_EXPORT",
    value: "PRICES",
    help: "paid back per kWh exported, in every tariff (negative: a fee per kWh)",
    read: readPriceSchedule,
  },
  exportT1: {
    name: "price-export-t1",
    env: "P1READER_PRICE_EXPORT_T1",
    value: "PRICES",
    help: "paid back per kWh exported in tariff 1, over --price-export",
    read: readPriceSchedule,
  },
  exportT2: {
    name: "price-export-t2",
    env: "P1READER_PRICE_EXPORT_T2",
    value: "PRICES",
    help: "paid back per kWh exported in tariff 2, over --price-export",
    read: readPriceSchedule,
  },
  gas: {
    name: "price-gas",
    env: "P1READER_PRICE_GAS",
    value: "PRICES",
    help: "price per m3 of gas",
    read: readPriceSchedule,
  },
  fixed: {
    name: "price-fixed",
    env: "P1READER_PRICE_FIXED",
    value: "PRICES",
    help: "fixed costs per day (standing charges, less any rebate per day)",
    read: readPriceSchedule,
  },
  currency: {
    name: "price-currency",
    env: "P1READER_PRICE_CURRENCY",
    default: "EUR",
    value: "CODE",
    help: "the currency of the prices (ISO 4217), for the dashboard and the usage answers",
    read: readCurrency,
  },
}, (values) => ({
  history: values.enabled
    ? {
      database: values.database,
      minuteDays: values.minuteDays,
      prices: {
        currency: values.currency,
        import: setOnly({ all: values.importAll, t1: values.importT1, t2: values.importT2 }),
        export: setOnly({ all: values.exportAll, t1: values.exportT1, t2: values.exportT2 }),
        ...setOnly({ gas: values.gas, fixed: values.fixed }),
      },
    }
    : undefined,
}));

/** Writing every reading to InfluxDB or VictoriaMetrics, on when its URL is set. */
export const INFLUX_OPTIONS = optionGroup({
  url: {
    name: "influx-url",
    env: "P1READER_INFLUX_URL",
    value: "URL",
    help: "write every reading to this InfluxDB or VictoriaMetrics, e.g. http://127.0.0.1:8086 " +
      "(line protocol; off when unset)",
    read: (given: string) => {
      const base = url(["http:", "https:"], "expected an http:// or https:// URL")(given);
      if (/[?#]/.test(base)) {
        throw new ConfigError("expected a base URL without ?query or #fragment");
      }
      return withoutTrailingSlash(base);
    },
  },
  api: {
    name: "influx-api",
    env: "P1READER_INFLUX_API",
    default: "auto",
    value: "auto|v1|v2",
    help: "v1: InfluxDB 1.x's /write (--influx-db); v2: InfluxDB 2.x's /api/v2/write " +
      "(--influx-org, --influx-bucket); auto: by which of those are set",
    read: oneOf(["auto", "v1", "v2"]),
  },
  db: {
    name: "influx-db",
    env: "P1READER_INFLUX_DB",
    value: "NAME",
    help: "InfluxDB 1.x database",
    read: nonEmpty,
  },
  username: {
    name: "influx-username",
    env: "P1READER_INFLUX_USERNAME",
    value: "NAME",
    help: "InfluxDB 1.x user",
    read: nonEmpty,
  },
  password: {
    name: "influx-password",
    env: "P1READER_INFLUX_PASSWORD",
    value: "PASSWORD",
    help: "InfluxDB 1.x password",
    secret: true,
    read: text,
  },
  org: {
    name: "influx-org",
    env: "P1READER_INFLUX_ORG",
    value: "NAME",
    help: "InfluxDB 2.x organisation",
    read: nonEmpty,
  },
  bucket: {
    name: "influx-bucket",
    env: "P1READER_INFLUX_BUCKET",
    value: "NAME",
    help: "InfluxDB 2.x bucket",
    read: nonEmpty,
  },
  token: {
    name: "influx-token",
    env: "P1READER_INFLUX_TOKEN",
    value: "TOKEN",
    help: "InfluxDB 2.x API token (also for 2.x's 1.x-compatible /write)",
    secret: true,
    read: nonEmpty,
  },
  intervalSeconds: {
    name: "influx-interval",
    env: "P1READER_INFLUX_INTERVAL",
    default: "0",
    value: "SECONDS",
    help: "write at most one telegram per this many seconds of meter time (0: every telegram)",
    read: seconds,
  },
  timeoutMs: {
    name: "influx-timeout",
    env: "P1READER_INFLUX_TIMEOUT",
    default: "10",
    value: "SECONDS",
    help: "request timeout of a write",
    read: positiveMilliseconds,
  },
}, (values) => ({ influx: influxSettings(values) }));

/** Log lines. */
export const LOG_OPTIONS = optionGroup({
  logLevel: {
    name: "log-level",
    env: "P1READER_LOG_LEVEL",
    default: "info",
    value: LOG_LEVELS.join("|"),
    help: "least severe log lines shown",
    read: oneOf(LOG_LEVELS),
  },
  logFormat: {
    name: "log-format",
    env: "P1READER_LOG_FORMAT",
    default: "text",
    value: "text|json",
    help: "log line format",
    read: oneOf(["text", "json"]),
  },
}, asIs);

/** The settings file itself. */
export const FILE_OPTIONS = optionGroup({
  configFile: {
    name: "config",
    env: "P1READER_CONFIG",
    value: "FILE",
    help: "JSON settings file, comments allowed (ours, or the original's appsettings.json)",
    read: text,
  },
}, asIs);

/** Every group, in the order help and documentation list them. */
export const OPTION_GROUPS = [
  METER_OPTIONS,
  SERIAL_OPTIONS,
  DECRYPTION_OPTIONS,
  HTTP_OPTIONS,
  DSMR_READER_OPTIONS,
  QUEUE_OPTIONS,
  MQTT_OPTIONS,
  INFLUX_OPTIONS,
  SHARE_OPTIONS,
  HISTORY_OPTIONS,
  LOG_OPTIONS,
  FILE_OPTIONS,
] as const;

type NameOf<G> = G extends OptionGroup<infer R extends OptionRows, unknown> ? R[keyof R]["name"]
  : never;
type Built<G> = G extends OptionGroup<OptionRows, infer C> ? C : never;
type AllBuilt<G extends readonly unknown[]> = G extends readonly [infer First, ...infer Rest]
  ? Built<First> & AllBuilt<Rest>
  : unknown;

/** The flag names of every option (a mistyped one fails at type-check). */
export type OptionName = NameOf<typeof OPTION_GROUPS[number]>;

/** The validated configuration of the service, as the option groups build it. */
export type Config = Simplify<
  AllBuilt<typeof OPTION_GROUPS> & {
    /** Settings that were ignored, with why (logged once the logger exists). */
    warnings: string[];
  }
>;
