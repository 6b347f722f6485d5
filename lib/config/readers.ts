/**
 * Readers of option text: each takes the text as the user wrote it and returns the value, or
 * throws a {@linkcode ConfigError} saying what it expected (the caller adds which option and
 * where it came from).
 *
 * @module
 */

import { ConfigError, type ReadOption } from "./option.ts";

/** The text as given. */
export function text(value: string): string {
  return value;
}

/** The text, which must not be blank. */
export function nonEmpty(value: string): string {
  if (value.trim() === "") throw new ConfigError("is empty");
  return value;
}

/** A topic or path prefix without trailing slashes. */
export function withoutTrailingSlash(value: string): string {
  return value.replace(/\/+$/, "");
}

/**
 * An MQTT topic to publish under, without trailing slashes: not empty, no wildcard (`+`, `#`) or
 * NUL, which no broker takes in a topic it is sent, and not the brokers' own `$` topics.
 */
export function topicPrefix(value: string): string {
  const topic = withoutTrailingSlash(value);
  if (topic === "") throw new ConfigError("expected an MQTT topic, not an empty one");
  if (/[+#\0]/.test(topic)) {
    throw new ConfigError("expected an MQTT topic without the wildcards + and # (or NUL)");
  }
  if (topic.startsWith("$")) {
    throw new ConfigError("expected an MQTT topic that does not start with $ (the broker's own)");
  }
  return topic;
}

const TRUE = new Set(["true", "1", "yes", "on"]);
const FALSE = new Set(["false", "0", "no", "off"]);

/** `true`/`false`, `1`/`0`, `yes`/`no` or `on`/`off`, in any case. */
export function boolean(value: string): boolean {
  const lower = value.trim().toLowerCase();
  if (TRUE.has(lower)) return true;
  if (FALSE.has(lower)) return false;
  throw new ConfigError("expected true or false (or 1/0, yes/no, on/off)");
}

/** Seconds as a number (`5`, `0.5`) or as the original's `hh:mm:ss` (`00:00:05`). */
export function seconds(value: string): number {
  const clock = /^(\d+):(\d{1,2}):(\d{1,2}(?:\.\d+)?)$/.exec(value);
  const result = clock
    ? Number(clock[1]) * 3600 + Number(clock[2]) * 60 + Number(clock[3])
    : /^\d+(\.\d+)?$/.test(value)
    ? Number(value)
    : NaN;
  if (!Number.isFinite(result)) throw new ConfigError("expected seconds or hh:mm:ss");
  return result;
}

/** Seconds, more than 0, as milliseconds. */
export function positiveMilliseconds(value: string): number {
  const result = seconds(value);
  if (!(result > 0)) throw new ConfigError("must be more than 0 seconds");
  return result * 1000;
}

/** A TCP port from 0 (any free one) to 65535. */
export function port(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) > 65535) {
    throw new ConfigError("expected a port from 0 to 65535");
  }
  return Number(value);
}

/** A whole number, at least 1, of `what`. */
export function count(what: string): ReadOption<number> {
  return (value) => {
    if (!/^\d+$/.test(value) || Number(value) < 1) {
      throw new ConfigError(`expected a whole number of ${what}, at least 1`);
    }
    return Number(value);
  };
}

const BYTE_SCALES: Readonly<Record<string, number>> = {
  "": 1,
  b: 1,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
};

/** A size in bytes, optionally with `B`, `KiB`, `MiB` or `GiB`. */
export function bytes(value: string): number {
  const match = /^(\d+)\s*(|B|KiB|MiB|GiB)$/i.exec(value);
  if (!match || Number(match[1]) < 1) {
    throw new ConfigError("expected bytes, e.g. 268435456 or 256MiB");
  }
  return Number(match[1]) * (BYTE_SCALES[match[2]!.toLowerCase()] ?? 1);
}

/** One of `choices`, matched ignoring case, as the choice itself. */
export function oneOf<const T extends string | number>(choices: readonly T[]): ReadOption<T> {
  return (value) => {
    const match = choices.find((choice) => String(choice).toLowerCase() === value.toLowerCase());
    if (match === undefined) throw new ConfigError(`expected one of ${choices.join(", ")}`);
    return match;
  };
}

/**
 * A URL with one of `protocols` and a host, normalised (so that a space or `@` in its password is
 * percent-encoded, and the password can be hidden wherever the URL is printed).
 *
 * @param protocols For example `["http:", "https:"]`.
 * @param expected What to say when it is not one, e.g. `expected an http:// or https:// URL`.
 * @returns The reader.
 */
export function url(protocols: readonly string[], expected: string): ReadOption<string> {
  return (value) => {
    let parsed: URL;
    try {
      parsed = new URL(value);
    } catch {
      throw new ConfigError(expected);
    }
    if (!protocols.includes(parsed.protocol) || !parsed.hostname) throw new ConfigError(expected);
    try {
      decodeURIComponent(parsed.username);
      decodeURIComponent(parsed.password);
    } catch {
      throw new ConfigError(
        "its user name or password has a % that is not followed by two hex digits",
      );
    }
    return parsed.href;
  };
}
