/**
 * A setting as found on the command line, in the environment or in a file, before it is read, and
 * the messages about it: where it came from and its value, never a secret's value nor the
 * credentials of a URL.
 *
 * @module
 */

import { redactUrl } from "../log.ts";
import { ConfigError } from "./option.ts";

/** One setting as found on the command line, in the environment or in the file, before reading. */
export interface Found {
  /** The text (a switch given on the command line is `true`). */
  text: string;
  /** Where, as the user wrote it: `--port`, `P1READER_PORT`, `"port" in p1.json`. */
  from: string;
  /** Whether it came by another program's name (the original product's, systemd's). */
  compat: boolean;
}

/** Settings found in one place, by option name. */
export type FoundSettings = Map<string, Found>;

/**
 * A JSON value of a settings file as a setting's text.
 *
 * @param value The value.
 * @param where The key and file, for the message.
 * @returns The text: a string as it is, a number or boolean written out.
 * @throws {ConfigError} For `null`, an object or an array.
 */
export function jsonSettingText(value: unknown, where: string): string {
  if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") {
    return String(value);
  }
  throw new ConfigError(`${where} must be a string, number or boolean`);
}

/**
 * A setting's value with the user and password of a URL hidden, even where they hold spaces or an
 * unencoded `@` (in a value, unlike in free text, the URL runs to its end), and its query and
 * fragment too: `?u=me&p=secret` is how InfluxDB 1 takes a password.
 */
function hideCredentials(value: string): string {
  const url = /^(\s*[a-z][a-z0-9+.-]*:\/\/)([^/?#]*@)?([^?#]*)([?#].*)?$/is.exec(value);
  if (url === null) return redactUrl(value);
  const [, scheme, userinfo, rest, query] = url;
  return `${scheme}${userinfo ? "***@" : ""}${rest}${query ? `${query[0]}***` : ""}`;
}

/**
 * Where a setting came from and its value, for messages: `--port "70000"`,
 * `P1READER_PORT="http"`; a secret shows as `***` and credentials in URLs are hidden.
 *
 * @param found The setting.
 * @param secret Whether its value is secret.
 * @returns The description.
 */
export function describeFound(found: Found, secret = false): string {
  const shown = secret ? "***" : JSON.stringify(hideCredentials(found.text));
  return found.from.startsWith("--") || found.from.includes(" in ")
    ? `${found.from} ${shown}`
    : `${found.from}=${shown}`;
}

/**
 * The error for a setting whose value is wrong: where it came from, its value and `problem`,
 * with no secret in it (not even where `problem` quotes the value).
 *
 * @param found The setting.
 * @param problem What is wrong, e.g. `expected a port from 0 to 65535`.
 * @param secret Whether its value is secret.
 * @returns The error.
 */
export function settingError(found: Found, problem: string, secret = false): ConfigError {
  // A blank value hides nothing, and replacing it would garble the message.
  const quoted = found.text.trim() === ""
    ? problem
    : problem.replaceAll(found.text, secret ? "***" : hideCredentials(found.text));
  return new ConfigError(redactUrl(`${describeFound(found, secret)}: ${quoted}`));
}
