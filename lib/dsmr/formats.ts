/**
 * FORMATS: the meter formats this reader knows, each a set of `FIELDS` groups with its serial line
 * settings, CRC rule and clock zone; {@linkcode FormatId} is the union of their ids. A format
 * setting as users write it (`dsmr50`, `auto`, the original product's `V502`) is resolved once, by
 * {@linkcode resolveFormat}, into a {@linkcode FormatMode}: read every telegram as one format, or
 * as the format each telegram shows (`detect.ts` recognises it).
 *
 * @module
 */

import type { FieldGroup } from "./fields.ts";
import { CENTRAL_EUROPEAN_TIME, type TimeZoneRule } from "./values.ts";

/** Serial line settings of a P1 port. */
export interface SerialSettings {
  /** Baud rate, e.g. 115200. */
  baudRate: number;
  /** Data bits: 8, or 7 for DSMR 2.2/3.0. */
  dataBits: 7 | 8;
  /** Parity: none, or even for DSMR 2.2/3.0. */
  parity: "none" | "even" | "odd";
  /** Stop bits. */
  stopBits: 1 | 2;
}

/** A meter format: which lines it has and how its telegrams arrive. */
export interface FormatSpec {
  /** What meters send it. */
  readonly description: string;
  /** Serial settings the meter uses. */
  readonly serial: SerialSettings;
  /** Whether telegrams carry a CRC that must match (`required`) or carry none (`none`). */
  readonly checksum: "required" | "none";
  /** Seconds between telegrams. */
  readonly intervalSeconds: number;
  /** The catalogue groups the format's lines come from. */
  readonly groups: readonly FieldGroup[];
  /** The UTC offsets the S/W flags stand for. */
  readonly zone: TimeZoneRule;
}

const DSMR4_SERIAL: SerialSettings = { baudRate: 115200, dataBits: 8, parity: "none", stopBits: 1 };
const DSMR2_SERIAL: SerialSettings = { baudRate: 9600, dataBits: 7, parity: "even", stopBits: 1 };

/** What most formats share: DSMR 4/5 line settings, a CRC, Central European Time. */
const DSMR4: Pick<FormatSpec, "serial" | "checksum" | "zone"> = {
  serial: DSMR4_SERIAL,
  checksum: "required",
  zone: CENTRAL_EUROPEAN_TIME,
};

/** DSMR 2.2 and 3.0: 9600 7E1, no CRC, a telegram every 10 s. */
const OLD_DSMR: Omit<FormatSpec, "description" | "groups"> = {
  serial: DSMR2_SERIAL,
  checksum: "none",
  intervalSeconds: 10,
  zone: CENTRAL_EUROPEAN_TIME,
};

/** Every format, by id. */
export const FORMATS = {
  dsmr22: {
    description: "Netherlands, DSMR 2.2 (9600 7E1, no CRC)",
    groups: ["dsmr", "dsmr22"],
    ...OLD_DSMR,
  },
  dsmr30: {
    description: "Netherlands, DSMR 3.0 (9600 7E1, no CRC)",
    groups: ["dsmr", "dsmr22"],
    ...OLD_DSMR,
  },
  dsmr40: {
    description: "Netherlands, DSMR 4.0",
    groups: ["dsmr", "totals"],
    intervalSeconds: 10,
    ...DSMR4,
  },
  dsmr42: {
    description: "Netherlands, DSMR 4.2",
    groups: ["dsmr", "totals"],
    intervalSeconds: 10,
    ...DSMR4,
  },
  dsmr50: {
    description: "Netherlands, DSMR 5.0.2",
    groups: ["dsmr", "totals"],
    intervalSeconds: 1,
    ...DSMR4,
  },
  belgium: {
    description: "Belgium, e-MUCS (Fluvius), capacity tariff",
    groups: ["dsmr", "totals", "belgium"],
    intervalSeconds: 1,
    ...DSMR4,
  },
  luxembourg: {
    description: "Luxembourg, Smarty (--decryption-key)",
    groups: ["dsmr", "totals", "luxembourg"],
    intervalSeconds: 10,
    ...DSMR4,
  },
  sweden: {
    description: "Sweden, P1 (totals, reactive energy)",
    groups: ["dsmr", "totals"],
    intervalSeconds: 10,
    ...DSMR4,
  },
  q3d: {
    description: "Germany, EasyMeter Q3D (no CRC)",
    groups: ["dsmr", "totals", "q3d"],
    intervalSeconds: 2,
    ...DSMR4,
    checksum: "none",
  },
  hungary: {
    description: "Hungary, E.ON (Sagemcom)",
    groups: ["dsmr", "totals", "hungary"],
    intervalSeconds: 10,
    ...DSMR4,
  },
  ireland: {
    description: "Ireland, ESB (Iskra AM550)",
    groups: ["dsmr"],
    intervalSeconds: 10,
    ...DSMR4,
    zone: { summer: 60, winter: 0 },
  },
} as const satisfies Record<string, FormatSpec>;

/** The id of a format: a key of {@linkcode FORMATS}, e.g. `dsmr50` or `belgium`. */
export type FormatId = keyof typeof FORMATS;

/** Every format id, in table order. */
export const FORMAT_IDS: readonly FormatId[] = Object.keys(FORMATS) as FormatId[];

/**
 * The original product's format names, with the format each named: the author's Dutch DSMR 5.0.2
 * meter. To its users they only ever meant "my Dutch meter", so they recognise the format from each
 * telegram as `auto` does: a DSMR 4, Belgian or DSMR 2.2/3.0 meter set up with them keeps working.
 */
export const FORMAT_ALIASES: Readonly<Record<string, FormatId>> = {
  XS210ESMR5: "dsmr50",
  V502: "dsmr50",
};

/**
 * A format setting, resolved: read every telegram as one format (`fixed`), or as the format each
 * telegram shows (`detect`: `auto` and the original product's names). `name` is the setting as it
 * was written, for messages and the status; `meant` is the format an original name stood for.
 */
export type FormatMode =
  | { readonly kind: "fixed"; readonly id: FormatId; readonly name: string }
  | { readonly kind: "detect"; readonly name: string; readonly meant?: FormatId };

/**
 * A format as the library takes it: an id, `auto`, or a setting {@linkcode resolveFormat} resolved
 * (the original product's names and any spelling users write).
 */
export type FormatChoice = FormatId | "auto" | FormatMode;

/** The setting that recognises the format from each telegram: `auto`, the default. */
export const AUTO_FORMAT: FormatMode = Object.freeze({ kind: "detect", name: "auto" });

/** Every name {@linkcode resolveFormat} accepts: `auto`, the ids and the original's aliases. */
export const FORMAT_NAMES: readonly string[] = [
  AUTO_FORMAT.name,
  ...FORMAT_IDS,
  ...Object.keys(FORMAT_ALIASES),
];

/** The original's names in lower case, with the format each meant. */
const ALIASES_IN_LOWER_CASE: ReadonlyMap<string, FormatId> = new Map(
  Object.entries(FORMAT_ALIASES).map(([alias, meant]) => [alias.toLowerCase(), meant]),
);

/**
 * Whether a text is a format id, as written (lower case).
 *
 * @param text The text.
 * @returns `true` for a key of {@linkcode FORMATS}.
 */
export function isFormatId(text: string): text is FormatId {
  return Object.hasOwn(FORMATS, text);
}

/**
 * Resolves a format setting as users write it, ignoring case.
 *
 * @param name For example `dsmr50`, `V502`, `xs210esmr5` or `auto`.
 * @returns The setting: a fixed format, or `detect` for `auto` and the original's names, which
 *   recognise the format from each telegram.
 * @throws {RangeError} When the name is unknown; the message lists the valid names.
 *
 * @example
 * ```ts
 * import { resolveFormat } from "./formats.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(resolveFormat("DSMR42"), { kind: "fixed", id: "dsmr42", name: "DSMR42" });
 * assert.deepEqual(resolveFormat("auto"), { kind: "detect", name: "auto" });
 * assert.deepEqual(resolveFormat("V502"), { kind: "detect", name: "V502", meant: "dsmr50" });
 * ```
 */
export function resolveFormat(name: string): FormatMode {
  const lower = name.toLowerCase();
  if (lower === AUTO_FORMAT.name) return { kind: "detect", name };
  if (isFormatId(lower)) return { kind: "fixed", id: lower, name };
  const meant = ALIASES_IN_LOWER_CASE.get(lower);
  if (meant !== undefined) return { kind: "detect", name, meant };
  throw new RangeError(`Unknown format "${name}": expected one of ${FORMAT_NAMES.join(", ")}`);
}

/** The setting of each id, made once: a library call may pass an id with every telegram. */
const FIXED_MODES = Object.fromEntries(
  FORMAT_IDS.map((
    id,
  ): [FormatId, FormatMode] => [id, Object.freeze({ kind: "fixed", id, name: id })]),
) as Record<FormatId, FormatMode>;

/**
 * The setting a library call's format stands for.
 *
 * @param choice An id, `auto` (or nothing), or a resolved setting.
 * @returns The setting.
 * @throws {RangeError} When `choice` is a string that is no format (from JavaScript).
 */
export function formatMode(choice: FormatChoice = AUTO_FORMAT): FormatMode {
  if (typeof choice !== "string") return choice;
  if (choice === AUTO_FORMAT.name) return AUTO_FORMAT;
  return isFormatId(choice) ? FIXED_MODES[choice] : resolveFormat(choice);
}

/**
 * The format a setting reads telegrams as, or stands for: the fixed one, the one an original
 * name meant (`V502`: `dsmr50`), or `undefined` for `auto`.
 *
 * @param mode The setting.
 * @returns The format's id.
 */
export function formatMeant(mode: FormatMode): FormatId | undefined {
  return mode.kind === "fixed" ? mode.id : mode.meant;
}
