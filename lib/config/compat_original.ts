/**
 * The original product's configuration (ORIGINAL-BEHAVIOUR.md section 1): its environment names
 * (`P1ReceiverSettings__SerialPort`, matched ignoring case as .NET does), its `appsettings.json`
 * sections, its `DUMMY` port, and ASP.NET Core's listen URLs (`ASPNETCORE_URLS`, `--urls`,
 * `Urls`). Our own names win over these wherever both are given.
 *
 * @module
 */

import {
  describeFound,
  type Found,
  type FoundSettings,
  jsonSettingText,
  settingError,
} from "./found.ts";
import { ConfigError, type OptionSpec } from "./option.ts";
import type { OptionName } from "./options.ts";
import { closest, didYouMean } from "./suggest.ts";

/** The original's names of one setting. */
export interface OriginalNames {
  /** Environment names (`__` for `:`). */
  readonly env: readonly string[];
  /** The path in `appsettings.json`, `Section:Key`. */
  readonly appsettings: string;
}

/** The original's names, by our option. */
export const ORIGINAL_NAMES: { readonly [N in OptionName]?: OriginalNames } = {
  source: {
    env: ["P1ReceiverSettings__SerialPort"],
    appsettings: "P1ReceiverSettings:SerialPort",
  },
  format: { env: ["P1ReceiverSettings__Format"], appsettings: "P1ReceiverSettings:Format" },
  "dsmr-reader-url": {
    env: ["DsmrReaderPublisherSettings__Host"],
    appsettings: "DsmrReaderPublisherSettings:Host",
  },
  "dsmr-reader-key": {
    env: ["DsmrReaderPublisherSettings__ApiKey"],
    appsettings: "DsmrReaderPublisherSettings:ApiKey",
  },
  "dsmr-reader-timeout": {
    env: ["DsmrReaderPublisherSettings__Timeout"],
    appsettings: "DsmrReaderPublisherSettings:Timeout",
  },
};

const BY_OPTION: ReadonlyMap<string, OriginalNames> = new Map(Object.entries(ORIGINAL_NAMES));

/**
 * The original's settings sections as environment prefixes (`P1ReceiverSettings__`): every
 * variable under one of them was meant for the original, so one it did not know is a typo.
 */
export const ORIGINAL_ENV_PREFIXES: readonly string[] = [
  ...new Set([...BY_OPTION.values()].flatMap((names) => names.env.map(sectionPrefix))),
];

function sectionPrefix(name: string): string {
  return name.slice(0, name.indexOf("__") + 2);
}

/**
 * An environment variable's name as the original's names are written: .NET reads `:` as well as
 * `__` between section and key, and ignores case, so `p1receiversettings:serialport` is
 * `p1receiversettings__serialport`.
 *
 * @param name The variable's name.
 * @returns The name in lower case, with `__` for `:`.
 */
export function originalEnvKey(name: string): string {
  return name.replaceAll(":", "__").toLowerCase();
}

/**
 * Stops start-up for an environment variable in one of the original's sections that the original
 * did not know (`P1ReceiverSettings__SerialPrt`), as a JSON file's unknown key does.
 *
 * @param name The variable's name.
 * @throws {ConfigError} When it is under one of {@linkcode ORIGINAL_ENV_PREFIXES} and is none of
 * the original's names, naming the closest one and what the section holds.
 */
export function checkOriginalEnvName(name: string): void {
  const key = originalEnvKey(name);
  const prefix = ORIGINAL_ENV_PREFIXES.find((known) => key.startsWith(known.toLowerCase()));
  if (prefix === undefined) return;
  const keys = [...BY_OPTION.values()].flatMap((names) =>
    names.env.filter((env) => sectionPrefix(env) === prefix).map((env) => env.slice(prefix.length))
  );
  const given = key.slice(prefix.length);
  if (keys.some((known) => known.toLowerCase() === given)) return;
  const closestKey = closest(given, keys);
  throw new ConfigError(
    `Unknown setting ${name} in the environment${
      closestKey === undefined ? "" : ` (did you mean ${prefix}${closestKey}?)`
    }; the original's ${prefix.slice(0, -2)} knows ${keys.join(", ")}`,
  );
}

/** The original's names of the option called `name`, if it had any. */
export function originalNamesOf(name: string): OriginalNames | undefined {
  return BY_OPTION.get(name);
}

/**
 * Our option for one of the original's `appsettings.json` paths, matched ignoring case as .NET
 * does, whether written with `:` or `__` (the original took `--P1ReceiverSettings:SerialPort=...`
 * on its command line).
 *
 * @param path For example `P1ReceiverSettings:SerialPort`.
 * @returns The option's name, e.g. `source`, or `undefined`.
 */
export function optionOfOriginalPath(path: string): string | undefined {
  const wanted = path.replaceAll("__", ":").toLowerCase();
  return [...BY_OPTION].find(([, names]) => names.appsettings.toLowerCase() === wanted)?.[0];
}

/** The source the original's `DUMMY` port means (any case): our demo meter. */
export function sourceFromOriginal(source: string): string {
  return source.toLowerCase() === "dummy" ? "demo" : source;
}

/**
 * ASP.NET Core's listen URLs, as the original's users set its port. It fills `--host` and
 * `--port`; {@linkcode listenFromUrls} does that before the options are read.
 */
export const URLS_OPTION: OptionSpec = {
  name: "urls",
  type: "string",
  env: "ASPNETCORE_URLS",
  appsettings: "Urls",
  value: "URL",
  help:
    "the original's listen address (ASP.NET Core's), e.g. http://+:80: sets --host and --port " +
    "(+ and * mean every address; one http:// address only)",
};

/** The address one listen URL names. */
export interface ListenAddress {
  /** The address to listen on (`0.0.0.0` for ASP.NET Core's `+` and `*`). */
  host: string;
  /** The port (80 when the URL names none). */
  port: number;
}

function listenAddressOf(url: string): ListenAddress {
  const match = /^(https?):\/\/(\[[0-9a-f:.]+\]|[^/:?#[\]@\s]+)(?::(\d+))?\/?$/i.exec(url);
  if (!match) {
    throw new ConfigError(
      `"${url}" is not a listen URL: expected http://HOST[:PORT], e.g. http://+:80`,
    );
  }
  if (match[1]!.toLowerCase() === "https") {
    throw new ConfigError(
      `"${url}": this reader serves http only; give an http:// URL and put a TLS proxy in front`,
    );
  }
  const port = Number(match[3] ?? 80);
  if (port > 65535) throw new ConfigError(`"${url}": expected a port from 0 to 65535`);
  const host = match[2]!;
  return {
    host: host === "+" || host === "*" ? "0.0.0.0" : host.replace(/^\[|\]$/g, ""),
    port,
  };
}

/**
 * The one address a list of listen URLs (`;`-separated, as ASP.NET Core takes them) names.
 *
 * @param urls For example `http://+:80` or `http://*:8080;http://localhost:5000`.
 * @returns Host and port.
 * @throws {ConfigError} When it is not an http URL, or names more than one address.
 */
export function listenAddress(urls: string): ListenAddress {
  const list = urls.split(";").map((url) => url.trim()).filter((url) => url !== "");
  if (list.length === 0) throw new ConfigError("expected a URL such as http://+:80");
  const addresses = list.map(listenAddressOf);
  const first = addresses[0]!;
  if (addresses.some((address) => address.host !== first.host || address.port !== first.port)) {
    throw new ConfigError(
      `lists ${list.length} addresses, and this reader listens on one: give one URL, or --host and --port`,
    );
  }
  return first;
}

/**
 * Turns a `urls` setting found in one place into `host` and `port` settings of the same place,
 * so that the usual precedence (flags over environment over file) applies to them.
 *
 * @param found The settings of one place (changed in place).
 * @throws {ConfigError} When the URLs are wrong, or our `--host`/`--port` in the same place say
 * otherwise.
 */
export function listenFromUrls(found: FoundSettings): void {
  const urls = found.get(URLS_OPTION.name);
  if (urls === undefined) return;
  found.delete(URLS_OPTION.name);
  let address: ListenAddress;
  try {
    address = listenAddress(urls.text);
  } catch (error) {
    throw settingError(urls, (error as Error).message);
  }
  const filled: readonly (readonly [OptionName, string])[] = [
    ["host", address.host],
    ["port", String(address.port)],
  ];
  for (const [name, value] of filled) {
    const ours = found.get(name);
    if (ours === undefined) {
      found.set(name, { text: value, from: urls.from, compat: true });
    } else if (ours.text !== value) {
      throw new ConfigError(
        `${describeFound(urls)} listens on ${name} ${value}, but ${
          describeFound(ours)
        } says otherwise: set only one of them`,
      );
    }
  }
}

/** Top-level keys of the original's appsettings.json that are not ours and are ignored. */
const IGNORED_APPSETTINGS = ["Logging", "AllowedHosts"];

/** The top-level keys the original's appsettings.json may hold (sections and single keys). */
export function originalTopLevelKeys(options: readonly OptionSpec[]): string[] {
  const paths = options.flatMap((option) => option.appsettings ?? []);
  return [...new Set([...paths.map((path) => path.replace(/:.*/, "")), ...IGNORED_APPSETTINGS])];
}

/**
 * The settings one top-level entry of the original's appsettings.json gives (keys ignore case,
 * as .NET's do; a `null` value is unset).
 *
 * @param key The top-level key, e.g. `P1ReceiverSettings`.
 * @param value Its value.
 * @param path The file, for messages.
 * @param options Every option, with its appsettings path.
 * @returns Settings by option name; none for an ignored key; `undefined` when the key is not
 * the original's.
 * @throws {ConfigError} For an unknown key inside one of the original's sections (with the
 * closest known one), or a value of the wrong shape.
 */
export function fromAppsettings(
  key: string,
  value: unknown,
  path: string,
  options: readonly OptionSpec[],
): [string, Found][] | undefined {
  const lower = key.toLowerCase();
  if (IGNORED_APPSETTINGS.some((ignored) => ignored.toLowerCase() === lower)) return [];
  const single = options.find((option) => option.appsettings?.toLowerCase() === lower);
  if (single !== undefined) {
    if (value === null) return [];
    const from = `${key} in ${path}`;
    return [[single.name, { text: jsonSettingText(value, from), from, compat: true }]];
  }
  const section = options.flatMap((option) =>
    option.appsettings?.toLowerCase().startsWith(`${lower}:`)
      ? [{ name: option.name, key: option.appsettings.slice(lower.length + 1) }]
      : []
  );
  if (section.length === 0) return undefined;
  const keys = section.map((entry) => entry.key);
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new ConfigError(
      `"${key}" in "${path}" must be an object with the keys ${keys.join(", ")}`,
    );
  }
  const found: [string, Found][] = [];
  for (const [inner, innerValue] of Object.entries(value)) {
    const entry = section.find((known) => known.key.toLowerCase() === inner.toLowerCase());
    if (entry === undefined) {
      throw new ConfigError(
        `Unknown setting "${key}:${inner}" in "${path}"${didYouMean(inner, keys)}; ${key} knows ${
          keys.join(", ")
        }`,
      );
    }
    if (innerValue === null) continue;
    const from = `${key}:${inner} in ${path}`;
    found.push([entry.name, { text: jsonSettingText(innerValue, from), from, compat: true }]);
  }
  return found;
}
