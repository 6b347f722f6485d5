/**
 * The service's configuration: {@linkcode OPTIONS}, every setting in one list (flag, environment
 * names, the original product's names, default, help), and {@linkcode parseConfig}, which reads
 * flags, environment and an optional JSON file into a validated {@linkcode Config}. Precedence:
 * flags > environment > file > defaults. `--help` and the documentation come from the same rows.
 *
 * The rows and the configuration's shape are in `config/options.ts`, the original product's
 * names in `config/compat_original.ts`.
 *
 * @module
 */

import { listenFromUrls, originalNamesOf, URLS_OPTION } from "./config/compat_original.ts";
import { describeFound, type Found, type FoundSettings, settingError } from "./config/found.ts";
import { readEnvironment, readFlags, readSettingsFile } from "./config/inputs.ts";
import {
  ConfigError,
  type Listening,
  type OptionGroup,
  type OptionRow,
  type OptionSpec,
  type ValuesOf,
} from "./config/option.ts";
import { type Config, FILE_OPTIONS, OPTION_GROUPS } from "./config/options.ts";

export { type Config, ConfigError, type OptionSpec };

function specOf(row: OptionRow<unknown>): OptionSpec {
  const theirs = originalNamesOf(row.name);
  const original = [...theirs?.env ?? [], ...row.alsoEnv ?? []];
  return {
    name: row.name,
    type: row.switch ? "boolean" : "string",
    env: row.env,
    ...(original.length > 0 ? { original } : {}),
    ...(theirs ? { appsettings: theirs.appsettings } : {}),
    ...(row.default !== undefined ? { default: row.default } : {}),
    ...(row.value !== undefined ? { value: row.value } : {}),
    help: row.help,
    ...(row.secret ? { secret: true } : {}),
  };
}

/** Every setting of the service, as help and the documentation list them. */
export const OPTIONS: readonly OptionSpec[] = [
  ...OPTION_GROUPS.flatMap((group: OptionGroup) => Object.values(group.rows).map(specOf)),
  URLS_OPTION,
];

/** Where the process gets its settings; `main.ts` passes the real ones. */
export interface ConfigInputs {
  /** Command-line arguments after the command. */
  args: string[];
  /** Environment variables. */
  env: Record<string, string>;
  /** Reads a settings file. @default {Deno.readTextFileSync} */
  readTextFile?: (path: string) => string;
}

/** The value of one row: what was found for it, else its default; every value is read. */
function valueOf(row: OptionRow<unknown>, found: Found | undefined): unknown {
  const setting = found ??
    (row.default === undefined
      ? undefined
      : { text: row.default, from: `default of --${row.name}`, compat: false });
  if (setting === undefined) return row.switch ? false : undefined;
  try {
    return row.read(setting.text);
  } catch (error) {
    throw settingError(setting, (error as Error).message, row.secret);
  }
}

/**
 * Keys that only work together: all set, or none. When only some are set and each of those came
 * by the original product's names, the feature stays off with a warning, as in the original;
 * with our names it is an error.
 */
function checkTogether(
  group: OptionGroup,
  values: Record<string, unknown>,
  found: FoundSettings,
  warnings: string[],
): void {
  const keys = group.together ?? [];
  const set = keys.filter((key) => values[key] !== undefined);
  const missing = keys.filter((key) => values[key] === undefined);
  if (set.length === 0 || missing.length === 0) return;
  const names = (key: string) => group.rows[key]?.name ?? key;
  const given = set.map((key) => found.get(names(key)));
  const missingNames = missing.map((key) => {
    const theirs = originalNamesOf(names(key))?.env ?? [];
    return [`--${names(key)}`, ...theirs].join(" or ");
  }).join(", ");
  if (given.every((setting) => setting?.compat)) {
    warnings.push(
      `${given.map((setting) => setting?.from).join(", ")} is set but ${missingNames} is not: ` +
        `both are needed ${group.purpose}, so it stays off, as in the original product`,
    );
    for (const key of set) values[key] = undefined;
    return;
  }
  throw new ConfigError(
    `${set.map((key) => `--${names(key)}`).join(", ")} is set but ${
      missing.map((key) => `--${names(key)}`).join(", ")
    } is not: both are needed ${group.purpose}`,
  );
}

/**
 * Reads and validates the configuration. Every value is checked, also of features that are off.
 *
 * @param inputs Arguments, environment and file reader.
 * @returns The configuration, or `"help"` when `--help` was given.
 * @throws {ConfigError} When a setting is unknown or invalid; the message names it and its value
 * (never a secret, nor credentials in a URL).
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
  const flags = readFlags(inputs.args, OPTIONS);
  if (flags === "help") return "help";
  const env = readEnvironment(inputs.env, OPTIONS);
  const fileOption = FILE_OPTIONS.rows.configFile.name;
  const configFile = flags.get(fileOption) ?? env.get(fileOption);
  // A settings file naming another one would be read by nobody.
  const fileOptions = OPTIONS.filter((option) => option.name !== fileOption);
  const file = configFile === undefined
    ? new Map()
    : readSettingsFile(configFile.text, inputs.readTextFile ?? Deno.readTextFileSync, fileOptions);
  for (const place of [flags, env, file]) listenFromUrls(place);
  const found: FoundSettings = new Map([...file, ...env, ...flags]);

  const warnings: string[] = [];
  const listeners: Listening[] = [];
  const parts = OPTION_GROUPS.map((group: OptionGroup) => {
    const values: Record<string, unknown> = {};
    for (const [key, row] of Object.entries(group.rows)) {
      values[key] = valueOf(row, found.get(row.name));
    }
    checkTogether(group, values, found, warnings);
    // The values were read by the group's own rows, so they have the types its build expects.
    listeners.push(...group.listens?.(values as ValuesOf<typeof group.rows>) ?? []);
    return group.build(values as ValuesOf<typeof group.rows>);
  });
  checkPortsApart(listeners, found);
  return Object.assign({}, ...parts, { warnings }) as Config;
}

/** Addresses that two listeners on one port would both take: either is every address, or both are one. */
function sameListenAddress(a: string, b: string): boolean {
  const everywhere = (host: string) => host === "0.0.0.0" || host === "::" || host === "";
  return everywhere(a) || everywhere(b) || a.toLowerCase() === b.toLowerCase();
}

/**
 * No two features may listen on one port: the second would fail to start after the first already
 * had.
 *
 * @throws {ConfigError} Naming both settings and where each came from.
 */
function checkPortsApart(listeners: readonly Listening[], found: FoundSettings): void {
  const given = ({ option, port }: Listening) => {
    const setting = found.get(option);
    return setting === undefined ? `the default --${option} ${port}` : describeFound(setting);
  };
  listeners.forEach((first, i) => {
    const clash = listeners.slice(i + 1).find((later) =>
      later.port !== 0 && later.port === first.port && sameListenAddress(later.host, first.host)
    );
    if (clash === undefined) return;
    throw new ConfigError(
      `${given(clash)} and ${given(first)} name the same port: ${clash.what} and ${first.what} ` +
        "need one each",
    );
  });
}

/** The width help text is wrapped to: a terminal's 100 columns at most. */
const HELP_WIDTH = 100;

/**
 * Text wrapped at spaces to {@linkcode HELP_WIDTH} columns, each line indented; a word longer than
 * a line (a URL) keeps a line of its own.
 *
 * @param text The text.
 * @param indent What each line starts with.
 * @returns The lines, joined by line feeds.
 */
export function wrap(text: string, indent: string): string {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(" ")) {
    if (line !== "" && indent.length + line.length + 1 + word.length > HELP_WIDTH) {
      lines.push(indent + line);
      line = word;
    } else {
      line = line === "" ? word : `${line} ${word}`;
    }
  }
  lines.push(indent + line);
  return lines.join("\n");
}

/** The `--help` text of the service, from {@linkcode OPTIONS}. */
export function configHelp(): string {
  const rows = OPTIONS.map((option) => {
    const flag = `--${option.name}${option.type === "string" ? ` ${option.value ?? "VALUE"}` : ""}`;
    const names = [option.env, ...(option.original ?? [])].join(", ");
    const fallback = option.default === undefined ? "" : ` (default: ${option.default})`;
    return `  ${flag}\n${wrap(`${option.help}${fallback}`, "      ")}\n${
      wrap(`env: ${names}`, "      ")
    }`;
  });
  return `Options (flags > environment > --config file > defaults):\n${
    rows.join("\n")
  }\n  -h, --help\n      show this help\n`;
}
