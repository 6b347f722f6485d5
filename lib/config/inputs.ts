/**
 * Finds settings where users write them: command-line flags, environment variables and the JSON
 * file of `--config` (ours, with comments allowed, or the original's appsettings.json). Nothing
 * is read into values here; each place gives the text of each setting and where it came from.
 * An unknown name stops start-up, with the closest known one.
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  checkOriginalEnvName,
  fromAppsettings,
  optionOfOriginalPath,
  originalEnvKey,
  originalTopLevelKeys,
} from "./compat_original.ts";
import { parseJsonWithComments } from "./jsonc.ts";
import { type Found, type FoundSettings, jsonSettingText } from "./found.ts";
import { ConfigError, type OptionSpec } from "./option.ts";
import { didYouMean } from "./suggest.ts";

/** The prefix of our environment variables; an unknown name with it is a typo. */
const OUR_PREFIX = "P1READER_";

/** A negative number (`-0.05`, `-1`, `-.5`) or anything else a dash and a digit start. */
const NEGATIVE_NUMBER = /^-\.?\d/;

/**
 * The arguments with every negative number that follows an option taking a value joined to it
 * (`--price-import -0.05` becomes `--price-import=-0.05`): negative prices are real, and
 * `parseArgs` would call such a value ambiguous. The option's reader then judges the value.
 */
function joinNegativeValues(args: readonly string[], options: readonly OptionSpec[]): string[] {
  const takesValue = new Set(
    options.filter((option) => option.type === "string").map((option) => `--${option.name}`),
  );
  const joined: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--") return [...joined, ...args.slice(i)];
    const next = args[i + 1];
    if (takesValue.has(arg) && next !== undefined && NEGATIVE_NUMBER.test(next)) {
      joined.push(`${arg}=${next}`);
      i++;
    } else {
      joined.push(arg);
    }
  }
  return joined;
}

/**
 * The settings given as flags, or `"help"` for `--help`/`-h`. A negative number after an option
 * that takes a value is that value.
 *
 * @param args The arguments after the command.
 * @param options Every option.
 * @returns Settings by option name.
 * @throws {ConfigError} For an unknown flag (with the closest known one) or a stray argument.
 */
export function readFlags(args: string[], options: readonly OptionSpec[]): FoundSettings | "help" {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: joinNegativeValues(args, options),
      strict: true,
      allowPositionals: false,
      options: {
        ...Object.fromEntries(options.map((option) => [option.name, { type: option.type }])),
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (error) {
    const unknown = /^Unknown option '(-+)([^']*)'/.exec((error as Error).message);
    if (unknown === null) throw new ConfigError((error as Error).message);
    const ours = optionOfOriginalPath(unknown[2]!.split("=")[0]!);
    if (ours !== undefined) {
      throw new ConfigError(
        `Unknown option '${unknown[1]}${unknown[2]}': the original's --Section:Key form is not ` +
          `read here; use --${ours} (or its environment variable)`,
      );
    }
    const suggestion = didYouMean(unknown[2]!, options.map((option) => option.name));
    throw new ConfigError(
      `Unknown option '${unknown[1]}${unknown[2]}'${suggestion.replace("mean ", "mean --")}`,
    );
  }
  if (values.help) return "help";
  const found: FoundSettings = new Map();
  for (const option of options) {
    const value = values[option.name];
    if (value !== undefined) {
      found.set(option.name, { text: String(value), from: `--${option.name}`, compat: false });
    }
  }
  return found;
}

/**
 * The settings given in the environment: ours, and other programs' names for them (matched
 * ignoring case and with `:` for `__`, as .NET matches the original's), which ours override.
 *
 * @param env The environment.
 * @param options Every option.
 * @returns Settings by option name.
 * @throws {ConfigError} For a variable with our prefix that is not ours, or one in the original's
 * sections that the original did not know.
 */
export function readEnvironment(
  env: Record<string, string>,
  options: readonly OptionSpec[],
): FoundSettings {
  const byOriginalKey = new Map(
    Object.entries(env).map(([key, value]) => [originalEnvKey(key), { key, value }]),
  );
  const found: FoundSettings = new Map();
  for (const option of options) {
    for (const name of option.original ?? []) {
      const hit = byOriginalKey.get(originalEnvKey(name));
      if (hit !== undefined) {
        found.set(option.name, { text: hit.value, from: hit.key, compat: true });
      }
    }
    const ours = env[option.env];
    if (ours !== undefined) found.set(option.name, { text: ours, from: option.env, compat: false });
  }
  const known = options.map((option) => option.env);
  for (const key of Object.keys(env)) {
    if (key.startsWith(OUR_PREFIX) && !known.includes(key)) {
      throw new ConfigError(`Unknown setting ${key} in the environment${didYouMean(key, known)}`);
    }
    checkOriginalEnvName(key);
  }
  return found;
}

/**
 * The settings of a JSON file: our option names as keys, or the original's appsettings.json
 * sections; comments and trailing commas are allowed.
 *
 * @param path The file.
 * @param readTextFile Reads it.
 * @param options The options a file may set (not the file itself).
 * @returns Settings by option name (ours override the original's names).
 * @throws {ConfigError} When the file cannot be read, is not JSON, or has an unknown key.
 */
export function readSettingsFile(
  path: string,
  readTextFile: (path: string) => string,
  options: readonly OptionSpec[],
): FoundSettings {
  let text: string;
  try {
    text = readTextFile(path);
  } catch (error) {
    throw new ConfigError(`--config: cannot read "${path}": ${(error as Error).message}`);
  }
  let data: unknown;
  try {
    data = parseJsonWithComments(text);
  } catch (error) {
    throw new ConfigError(`--config: "${path}" is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof data !== "object" || data === null || Array.isArray(data)) {
    throw new ConfigError(`--config: "${path}" must hold a JSON object`);
  }
  const ours: FoundSettings = new Map();
  const original: FoundSettings = new Map();
  const names = options.map((option) => option.name);
  for (const [key, value] of Object.entries(data)) {
    const section = sectionOf(key, value, path, names);
    if (section !== undefined) {
      for (const [name, setting] of section) ours.set(name, setting);
      continue;
    }
    if (names.includes(key)) {
      const from = `"${key}" in ${path}`;
      ours.set(key, { text: jsonSettingText(value, `"${key}" in "${path}"`), from, compat: false });
      continue;
    }
    const theirs: [string, Found][] | undefined = fromAppsettings(key, value, path, options);
    if (theirs === undefined) {
      const known = [...names, ...originalTopLevelKeys(options)];
      throw new ConfigError(`Unknown setting "${key}" in "${path}"${didYouMean(key, known)}`);
    }
    for (const [name, setting] of theirs) original.set(name, setting);
  }
  return new Map([...original, ...ours]);
}

/**
 * A section of a settings file: an object whose keys finish the names of options that start with
 * its own key (`"price": { "gas": 1.35 }` is `"price-gas": 1.35`), or `undefined` for any other key.
 */
function sectionOf(
  key: string,
  value: unknown,
  path: string,
  names: readonly string[],
): [string, Found][] | undefined {
  const members = names.filter((name) => name.startsWith(`${key}-`));
  if (typeof value !== "object" || value === null || Array.isArray(value) || members.length === 0) {
    return undefined;
  }
  return Object.entries(value).map(([inner, setting]) => {
    const name = `${key}-${inner}`;
    if (!members.includes(name)) {
      const known = members.map((member) => member.slice(key.length + 1));
      throw new ConfigError(
        `Unknown setting "${inner}" in the "${key}" section of "${path}"${
          didYouMean(inner, known)
        }`,
      );
    }
    const where = `"${key}": { "${inner}" } in "${path}"`;
    return [name, {
      text: jsonSettingText(setting, where),
      from: `"${key}.${inner}" in ${path}`,
      compat: false,
    }];
  });
}
