/**
 * The InfluxDB output's settings from its options: which API (1.x or 2.x) the given options ask
 * for, and a clear error for a combination that contradicts itself.
 *
 * @module
 */

import { ConfigError, optionGroup } from "../../config/option.ts";
import {
  nonEmpty,
  oneOf,
  positiveMilliseconds,
  seconds,
  text,
  url,
  withoutTrailingSlash,
} from "../../config/readers.ts";
import type { InfluxTarget } from "./client.ts";

/** The values of the `--influx-*` options, as {@linkcode INFLUX_OPTIONS} reads them. */
export interface InfluxOptionValues {
  url: string | undefined;
  api: "auto" | "v1" | "v2";
  db: string | undefined;
  username: string | undefined;
  password: string | undefined;
  org: string | undefined;
  bucket: string | undefined;
  token: string | undefined;
  intervalSeconds: number;
  timeoutMs: number;
}

/** The output's part of the configuration. */
export interface InfluxSettings {
  /** Where and how to write. */
  target: InfluxTarget;
  /** At most one telegram per this many seconds of meter time (0: every one). */
  intervalSeconds: number;
  /** Request timeout (ms). */
  timeoutMs: number;
}

const V1_ONLY = ["db", "username", "password"] as const;
const V2_ONLY = ["org", "bucket"] as const;
type Key = typeof V1_ONLY[number] | typeof V2_ONLY[number] | "token";

const FLAGS: Readonly<Record<Key, string>> = {
  db: "--influx-db",
  username: "--influx-username",
  password: "--influx-password",
  org: "--influx-org",
  bucket: "--influx-bucket",
  token: "--influx-token",
};

function setOf(values: InfluxOptionValues, keys: readonly Key[]): string[] {
  return keys.filter((key) => values[key] !== undefined).map((key) => FLAGS[key]);
}

function hasUserinfo(url: string): boolean {
  const parsed = new URL(url);
  return parsed.username !== "" || parsed.password !== "";
}

/**
 * The settings, or `undefined` when `--influx-url` is not set.
 *
 * @param values The option values.
 * @returns The settings.
 * @throws {ConfigError} For options that contradict each other or miss a partner; the message
 *   names the options (never a password or token).
 */
export function influxSettings(values: InfluxOptionValues): InfluxSettings | undefined {
  const { url } = values;
  if (url === undefined) {
    const orphans = setOf(values, [...V1_ONLY, ...V2_ONLY, "token"]);
    if (orphans.length === 0) return undefined;
    const verb = orphans.length === 1 ? "is" : "are";
    throw new ConfigError(`${orphans.join(", ")} ${verb} set but --influx-url is not`);
  }
  const v1 = setOf(values, V1_ONLY);
  const v2 = setOf(values, V2_ONLY);
  if (values.api === "auto" && v1.length > 0 && v2.length > 0) {
    throw new ConfigError(
      `${v1.join(", ")} (InfluxDB 1.x's API) and ${v2.join(", ")} (2.x's) contradict each ` +
        "other: give the options of one API",
    );
  }
  const api = values.api === "auto" ? (v2.length > 0 ? "v2" : "v1") : values.api;
  const others = api === "v1" ? v2 : v1;
  if (others.length > 0) {
    throw new ConfigError(
      `--influx-api ${api} does not take ${others.join(", ")}: ${
        api === "v1" ? "they are InfluxDB 2.x's" : "they are InfluxDB 1.x's"
      }`,
    );
  }
  if ((values.username === undefined) !== (values.password === undefined)) {
    throw new ConfigError(
      "--influx-username and --influx-password go together: set both or neither",
    );
  }
  const credentials = [
    ...setOf(values, ["token"]),
    ...(values.username !== undefined ? ["--influx-username/--influx-password"] : []),
    ...(hasUserinfo(url) ? ["a user:password@ in --influx-url"] : []),
  ];
  if (credentials.length > 1) {
    throw new ConfigError(`${credentials.join(" and ")} contradict each other: give one of them`);
  }
  const common = { intervalSeconds: values.intervalSeconds, timeoutMs: values.timeoutMs };
  if (api === "v1") {
    if (values.db === undefined) {
      throw new ConfigError(
        "--influx-url is set but --influx-db is not: InfluxDB 1.x's API needs the database " +
          "(or give --influx-org and --influx-bucket for 2.x's)",
      );
    }
    return {
      target: {
        api,
        url,
        db: values.db,
        username: values.username,
        password: values.password,
        token: values.token,
      },
      ...common,
    };
  }
  const { org, bucket } = values;
  if (org === undefined || bucket === undefined) {
    const missing = [
      ...(org === undefined ? [FLAGS.org] : []),
      ...(bucket === undefined ? [FLAGS.bucket] : []),
    ];
    throw new ConfigError(`InfluxDB 2.x's API needs ${missing.join(" and ")} too`);
  }
  return {
    target: { api, url, org, bucket, token: values.token },
    ...common,
  };
}

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
