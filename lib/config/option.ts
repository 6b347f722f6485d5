/**
 * What an option is: a row with its names, default, help and the reader of its text, and a group
 * of rows that fills one part of the service's configuration. The configuration's type is derived
 * from the groups, so a row's value type, and whether it can be unset, come from its reader and
 * its default. Also the error of a bad setting, and the row shape help and documentation read.
 *
 * @module
 */

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

/** One option as help and documentation show it (the rows of `OPTIONS`). */
export interface OptionSpec {
  /** The flag without `--`, e.g. `source`. */
  name: string;
  /** `string` options take a value; `boolean` ones are switches. */
  type: "string" | "boolean";
  /** Our environment variable, e.g. `P1READER_SOURCE`. */
  env: string;
  /** Other names of the same setting in the environment: the original product's, systemd's. */
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

/** Reads an option's text into its value; throws a {@linkcode ConfigError} saying what it expected. */
export type ReadOption<T> = (text: string) => T;

/** One option. */
export interface OptionRow<T> {
  /** The flag without `--`, e.g. `source`. */
  readonly name: string;
  /** Our environment variable, e.g. `P1READER_SOURCE`. */
  readonly env: string;
  /** Other programs' environment names for it, read below ours (systemd's `STATE_DIRECTORY`). */
  readonly alsoEnv?: readonly string[];
  /** The default, as text (absent: unset). */
  readonly default?: string;
  /** The value shown in help instead of the name, e.g. `SECONDS`. */
  readonly value?: string;
  /** What it does. */
  readonly help: string;
  /** Never printed or logged (API keys, passwords). */
  readonly secret?: boolean;
  /** A switch: `--replay-loop` on the command line, a boolean elsewhere; off when unset. */
  readonly switch?: true;
  /** Reads the text. */
  readonly read: ReadOption<T>;
}

/** Rows by the configuration key each fills. */
export type OptionRows = Readonly<Record<string, OptionRow<unknown>>>;

/** The value a row gives: its reader's type, or `undefined` too when it has no default. */
export type ValueOf<R> = R extends OptionRow<infer T>
  ? R extends { readonly default: string } | { readonly switch: true } ? T : T | undefined
  : never;

/** The values of a group's rows, by key. */
export type ValuesOf<R extends OptionRows> = { -readonly [K in keyof R]: ValueOf<R[K]> };

/** Options that fill one part of the configuration, e.g. everything about MQTT. */
export interface OptionGroup<R extends OptionRows = OptionRows, C = unknown> {
  /** The rows, by the key each fills. */
  readonly rows: R;
  /**
   * Keys that only work together (a URL and its key): when some are set and some not, start-up
   * stops, unless the set ones came by the original product's names, which then leave the
   * feature off with a warning, as the original did.
   */
  readonly together?: readonly string[];
  /** What the rows of `together` are for, e.g. `to push to DSMR reader`. */
  readonly purpose?: string;
  /** The part of the configuration the values make. */
  build(values: ValuesOf<R>): C;
  /** The ports the group's feature listens on, with these values (none when it is off). */
  listens?(values: ValuesOf<R>): readonly Listening[];
}

/** A port a feature listens on, so that start-up can refuse two features on one port. */
export interface Listening {
  /** The option that sets the port, e.g. `share-port`. */
  readonly option: string;
  /** The address it listens on (`0.0.0.0` or `::` for every address). */
  readonly host: string;
  /** The port; 0 takes any free one and clashes with nothing. */
  readonly port: number;
  /** What listens there, for the message: `the share port`. */
  readonly what: string;
}

/**
 * The group, listening where `listens` says.
 *
 * @param group A group.
 * @param listens The ports its feature listens on, given its values.
 * @returns The group with `listens`.
 */
export function listening<R extends OptionRows, C>(
  group: OptionGroup<R, C>,
  listens: (values: ValuesOf<R>) => readonly Listening[],
): OptionGroup<R, C> {
  return { ...group, listens };
}

/** A type's properties listed flat (for readable hovers and docs). */
export type Simplify<T> = { [K in keyof T]: T[K] } & unknown;

/**
 * Declares a group of options. The group's rows keep their literal types, so the configuration
 * derived from them knows each value's type.
 *
 * @param rows The rows, by the configuration key each fills.
 * @param build Makes the group's part of the configuration from the values.
 * @param together Keys that only work together, and what for.
 * @returns The group.
 */
export function optionGroup<const R extends OptionRows, C>(
  rows: R,
  build: (values: ValuesOf<R>) => C,
  together?: { keys: readonly (keyof R & string)[]; purpose: string },
): OptionGroup<R, C> {
  return together === undefined
    ? { rows, build }
    : { rows, build, together: together.keys, purpose: together.purpose };
}

/** The values themselves, as the group's part of the configuration. */
export function asIs<V>(values: V): V {
  return values;
}

/**
 * The values when every one of `keys` is set (a feature that is on), else `undefined`.
 *
 * @param values A group's values.
 * @param keys The keys that switch the feature on.
 * @returns The values with those keys known to be set, or `undefined`.
 */
export function whenSet<V extends object, K extends keyof V>(
  values: V,
  ...keys: K[]
): Simplify<Omit<V, K> & { [P in K]: Exclude<V[P], undefined> }> | undefined {
  return keys.every((key) => values[key] !== undefined)
    ? values as Simplify<Omit<V, K> & { [P in K]: Exclude<V[P], undefined> }>
    : undefined;
}

/**
 * The values that are set, without the keys of unset ones.
 *
 * @param values A group's values.
 * @returns An object with only the set values.
 */
export function setOnly<V extends object>(
  values: V,
): { [K in keyof V]?: Exclude<V[K], undefined> } {
  return Object.fromEntries(
    Object.entries(values).filter(([, value]) => value !== undefined),
  ) as { [K in keyof V]?: Exclude<V[K], undefined> };
}
