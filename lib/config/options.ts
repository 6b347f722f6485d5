/**
 * Every option of the service, grouped by the feature it belongs to. Each row carries its flag,
 * environment name, default, help and reader; its key in the group is the configuration key it
 * fills, and {@linkcode Config} is derived from these groups. The original product's names for
 * the same settings are in `compat_original.ts`.
 *
 * A new option is one row in its feature's group: a key (the configuration key it fills), `name`,
 * `env`, `help`, a `read` from `readers.ts` (or its own, throwing `ConfigError`), and `default`
 * when it has one (without it, its value can be `undefined`); `secret: true` for keys and
 * passwords. A new feature is a group here plus its entry in {@linkcode OPTION_GROUPS}; an output
 * keeps its group in its own module, and its entry in the list of outputs brings it here.
 *
 * @module
 */

import { parseKey, SMARTY_AUTHENTICATION_KEY } from "../dsmr/decryption.ts";
import { FORMAT_NAMES, resolveFormat } from "../dsmr/formats.ts";
import { LOG_LEVELS } from "../log.ts";
import { OUTPUTS } from "../outputs/list.ts";
import { parseSourceSpec } from "../source/source.ts";
import { BAUD_CODES } from "../source/termios.ts";
import { sourceFromOriginal } from "./compat_original.ts";
import {
  asIs,
  ConfigError,
  listening,
  type OptionGroup,
  optionGroup,
  type OptionRows,
  setOnly,
  type Simplify,
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
    help:
      "for file: sources, start again at the end (a second later after a pass that gave no valid telegram)",
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
export const HTTP_OPTIONS = listening(
  optionGroup({
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
  }, asIs),
  (values) => [{ option: "port", ...values, what: "the HTTP server" }],
);

/** Where the outputs keep their files, and how much each push's durable queue may hold. */
export const DATA_OPTIONS = optionGroup({
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

/** The options of every output, as its entry in the list of outputs carries them. */
function outputOptions<const L extends readonly { readonly options: OptionGroup }[]>(
  outputs: L,
): { -readonly [K in keyof L]: L[K]["options"] } {
  return outputs.map((output) => output.options) as { -readonly [K in keyof L]: L[K]["options"] };
}

/** Every group, in the order help and documentation list them. */
export const OPTION_GROUPS = [
  METER_OPTIONS,
  SERIAL_OPTIONS,
  DECRYPTION_OPTIONS,
  HTTP_OPTIONS,
  DATA_OPTIONS,
  ...outputOptions(OUTPUTS),
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
