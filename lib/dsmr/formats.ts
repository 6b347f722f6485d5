/**
 * FORMATS: the meter formats this reader knows, each a set of {@linkcode FIELDS} groups with its
 * serial line settings, CRC rule and clock zone, plus `auto`, which recognises a format from the
 * telegram itself.
 *
 * @module
 */

import { latin1Bytes } from "../bytes.ts";
import {
  catalogueKey,
  type FieldGroup,
  FIELDS,
  type FieldSpec,
  type Setter,
  valueFormat,
} from "./fields.ts";
import type { LexedTelegram } from "./lexer.ts";
import type { Quantity, Telegram } from "./model.ts";
import { CENTRAL_EUROPEAN_TIME, type TimeZoneRule, type ValueShape } from "./values.ts";

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
  /** Stable lower-case id, e.g. `dsmr50`. */
  id: string;
  /** What meters send it. */
  description: string;
  /** Serial settings the meter uses. */
  serial: SerialSettings;
  /** Whether telegrams carry a CRC that must match (`required`) or carry none (`none`). */
  checksum: "required" | "none";
  /** Seconds between telegrams. */
  intervalSeconds: number;
  /** The catalogue groups the format's lines come from. */
  groups: readonly FieldGroup[];
  /** The UTC offsets the S/W flags stand for. */
  zone: TimeZoneRule;
}

const DSMR4_SERIAL: SerialSettings = { baudRate: 115200, dataBits: 8, parity: "none", stopBits: 1 };
const DSMR2_SERIAL: SerialSettings = { baudRate: 9600, dataBits: 7, parity: "even", stopBits: 1 };

function format(
  id: string,
  description: string,
  groups: readonly FieldGroup[],
  extra: Partial<FormatSpec> = {},
): FormatSpec {
  return {
    id,
    description,
    serial: DSMR4_SERIAL,
    checksum: "required",
    intervalSeconds: 1,
    groups,
    zone: CENTRAL_EUROPEAN_TIME,
    ...extra,
  };
}

const OLD_DSMR = { serial: DSMR2_SERIAL, checksum: "none", intervalSeconds: 10 } as const;

/** Every format, by id. */
export const FORMATS: Readonly<Record<string, FormatSpec>> = {
  dsmr22: format(
    "dsmr22",
    "Netherlands, DSMR 2.2 (9600 7E1, no CRC)",
    ["dsmr", "dsmr22"],
    OLD_DSMR,
  ),
  dsmr30: format(
    "dsmr30",
    "Netherlands, DSMR 3.0 (9600 7E1, no CRC)",
    ["dsmr", "dsmr22"],
    OLD_DSMR,
  ),
  dsmr40: format("dsmr40", "Netherlands, DSMR 4.0", ["dsmr", "totals"], { intervalSeconds: 10 }),
  dsmr42: format("dsmr42", "Netherlands, DSMR 4.2", ["dsmr", "totals"], { intervalSeconds: 10 }),
  dsmr50: format("dsmr50", "Netherlands, DSMR 5.0.2", ["dsmr", "totals"]),
  belgium: format("belgium", "Belgium, e-MUCS (Fluvius), capacity tariff", [
    "dsmr",
    "totals",
    "belgium",
  ]),
  luxembourg: format("luxembourg", "Luxembourg, Smarty (--decryption-key)", [
    "dsmr",
    "totals",
    "luxembourg",
  ], { intervalSeconds: 10 }),
  sweden: format("sweden", "Sweden, P1 (totals, reactive energy)", ["dsmr", "totals"], {
    intervalSeconds: 10,
  }),
  q3d: format("q3d", "Germany, EasyMeter Q3D (no CRC)", ["dsmr", "totals", "q3d"], {
    checksum: "none",
    intervalSeconds: 2,
  }),
  hungary: format("hungary", "Hungary, E.ON (Sagemcom)", ["dsmr", "totals", "hungary"], {
    intervalSeconds: 10,
  }),
  ireland: format("ireland", "Ireland, ESB (Iskra AM550)", ["dsmr"], {
    zone: { summer: 60, winter: 0 },
    intervalSeconds: 10,
  }),
};

/**
 * The original product's format names, with the format each named: the author's Dutch DSMR 5.0.2
 * meter. To its users they only ever meant "my Dutch meter", so they recognise the format from each
 * telegram as `auto` does: a DSMR 4, Belgian or DSMR 2.2/3.0 meter set up with them keeps working.
 */
export const FORMAT_ALIASES: Readonly<Record<string, string>> = {
  XS210ESMR5: "dsmr50",
  V502: "dsmr50",
};

/** The format id that recognises the format from each telegram; the default. */
export const AUTO_FORMAT = "auto";

/** Every name `resolveFormat` accepts: the ids, `auto` and the original's aliases. */
export const FORMAT_NAMES: readonly string[] = [
  AUTO_FORMAT,
  ...Object.keys(FORMATS),
  ...Object.keys(FORMAT_ALIASES),
];

/**
 * Finds the format a name fixes, ignoring case.
 *
 * @param name For example `dsmr50`, `V502`, `xs210esmr5` or `auto`.
 * @returns The format, or `undefined` for `auto` and the original's names, which recognise it from
 *   each telegram.
 * @throws {RangeError} When the name is unknown; the message lists the valid names.
 *
 * @example
 * ```ts
 * import { resolveFormat } from "./formats.ts";
 * import assert from "node:assert/strict";
 * assert.equal(resolveFormat("DSMR42")?.id, "dsmr42");
 * assert.equal(resolveFormat("auto"), undefined);
 * assert.equal(resolveFormat("V502"), undefined);
 * ```
 */
export function resolveFormat(name: string): FormatSpec | undefined {
  const lower = name.toLowerCase();
  if (!FORMAT_NAMES_IN_LOWER_CASE.has(lower)) {
    throw new RangeError(`Unknown format "${name}": expected one of ${FORMAT_NAMES.join(", ")}`);
  }
  return FORMATS[lower];
}

const FORMAT_NAMES_IN_LOWER_CASE = new Set(FORMAT_NAMES.map((name) => name.toLowerCase()));

/**
 * The format a name stands for in what the user reads: the format itself, the one an original
 * name meant (`V502`: `dsmr50`), or `undefined` for `auto`.
 *
 * @param name A name `resolveFormat` accepts.
 * @returns The format.
 */
export function formatMeant(name: string): FormatSpec | undefined {
  const alias = Object.keys(FORMAT_ALIASES).find((key) => key.toLowerCase() === name.toLowerCase());
  return alias === undefined ? resolveFormat(name) : FORMATS[FORMAT_ALIASES[alias]!];
}

/**
 * What tells a format apart, as one rule of {@linkcode DETECTION}: every clue given must hold.
 */
interface DetectionRule {
  /** The format the rule recognises. */
  format: string;
  /** The header (without `/`) starts with this. */
  header?: string;
  /** The telegram has each of these references, as written. */
  has?: readonly string[];
  /** It has none of these. */
  lacks?: readonly string[];
  /** Its P1 version (`1-3:0.2.8`) is this, or `any` version at all. */
  version?: string;
  /** It carries a CRC (`true`) or none (`false`). */
  crc?: boolean;
}

/**
 * How `auto` recognises a format, most specific first; the first rule that fits wins. Only the
 * old Dutch formats and Q3D have no CRC: a telegram with a version line, or of any country's
 * format, must carry its CRC whether it sent one or not.
 */
const DETECTION: readonly DetectionRule[] = [
  { format: "q3d", header: "ESY" },
  { format: "q3d", has: ["1-0:1.8.0*255"] },
  { format: "luxembourg", header: "Lux" },
  { format: "belgium", has: ["0-0:96.1.4"] },
  { format: "belgium", header: "FLU" },
  { format: "hungary", has: ["0-0:42.0.0", "0-0:96.14.0"] },
  { format: "luxembourg", has: ["0-0:42.0.0"] },
  { format: "sweden", has: ["1-0:1.8.0"], lacks: ["1-0:1.8.1"] },
  { format: "dsmr40", version: "40" },
  { format: "dsmr42", version: "42" },
  { format: "dsmr50", version: "any" },
  { format: "ireland", has: ["1-0:0.0.0"], crc: true },
  // DSMR 2.2 and 3.0 telegrams are read the same way; nothing in them tells them apart.
  { format: "dsmr30", crc: false },
  { format: "dsmr50" },
];

/** A bit for each reference a rule looks for. */
const CLUE_BITS = new Map<string, number>();
for (const rule of DETECTION) {
  for (const reference of [...(rule.has ?? []), ...(rule.lacks ?? [])]) {
    if (!CLUE_BITS.has(reference)) CLUE_BITS.set(reference, 1 << CLUE_BITS.size);
  }
}

/** The references of a rule as bits of {@linkcode CLUE_BITS}. */
function bitsOf(references: readonly string[] | undefined): number {
  return (references ?? []).reduce((bits, reference) => bits | CLUE_BITS.get(reference)!, 0);
}

/** {@linkcode DETECTION} with its references as bits, so that a rule is tried in a few steps. */
const DETECTION_BITS = DETECTION.map((rule) => ({
  ...rule,
  hasBits: bitsOf(rule.has),
  lacksBits: bitsOf(rule.lacks),
}));

const VERSION_REFERENCE = "1-3:0.2.8";

/**
 * Recognises the format of a lexed telegram from its header and the lines it carries (see
 * {@linkcode DETECTION}).
 *
 * @param lexed The lexed telegram.
 * @param hasCrc Whether a CRC follows the `!`.
 * @returns The most specific format that fits.
 */
export function detectFormat(lexed: LexedTelegram, hasCrc: boolean): FormatSpec {
  let clues = 0;
  let version: string | undefined;
  for (const { reference, groups } of lexed.lines) {
    clues |= CLUE_BITS.get(reference) ?? 0;
    if (reference === VERSION_REFERENCE) version ??= groups[0];
  }
  return detect(lexed.header, clues, version, hasCrc);
}

/**
 * {@linkcode detectFormat} of a parsed telegram, which holds the same header and lines.
 *
 * @param telegram The telegram.
 * @returns The most specific format that fits.
 */
export function detectTelegramFormat(
  telegram: Pick<Telegram, "header" | "obis" | "checksum">,
): FormatSpec {
  let clues = 0;
  let version: string | undefined;
  for (const { reference, raw } of telegram.obis) {
    clues |= CLUE_BITS.get(reference) ?? 0;
    if (reference === VERSION_REFERENCE) version ??= raw[0];
  }
  return detect(telegram.header, clues, version, telegram.checksum.stated !== undefined);
}

function detect(
  header: string | undefined,
  clues: number,
  version: string | undefined,
  hasCrc: boolean,
): FormatSpec {
  const rule = DETECTION_BITS.find((rule) =>
    (rule.hasBits & clues) === rule.hasBits && (rule.lacksBits & clues) === 0 &&
    (rule.header === undefined || (header ?? "").startsWith(rule.header)) &&
    (rule.version === undefined ||
      (version !== undefined && (rule.version === "any" || rule.version === version))) &&
    (rule.crc === undefined || rule.crc === hasCrc)
  );
  return FORMATS[rule!.format]!;
}

/**
 * The catalogue rows of a format, by catalogue key (see `catalogueKey`): the rows of its groups,
 * where a later row replaces an earlier one for the same reference. Parsing reads them through
 * {@linkcode catalogueOf}, which builds this map once per format.
 *
 * @param spec The format.
 * @returns A new map.
 */
export function fieldsOf(spec: FormatSpec): Map<string, FieldSpec> {
  const map = new Map<string, FieldSpec>();
  for (const row of FIELDS) if (spec.groups.includes(row.group)) map.set(row.obis, row);
  return map;
}

/**
 * What parsing needs of a data line's catalogue row, and the line's M-Bus channel (0 for none).
 * Entries are all made in one place and share one object shape, where the rows come in several:
 * reading these parts from the rows on every line would be a megamorphic property load.
 */
export interface CatalogueEntry {
  /** The M-Bus channel, 1-4, or 0. */
  channel: number;
  /** The row's field. */
  field: string;
  /** The row's value shapes. */
  shapes: readonly ValueShape[];
  /** How many of the row's trailing shapes repeat, 0 for none. */
  repeat: number;
  /** The row's `apply`. */
  apply: FieldSpec["apply"];
  /** A quantity row's unit, else `""`. */
  unit: string;
  /** A quantity row's setter (see `FieldSpec.quantity`). */
  setQuantity: Setter<Quantity> | undefined;
  /** A count row's setter (see `FieldSpec.count`). */
  setCount: Setter<number> | undefined;
  /** A number row's values are below this in magnitude (see `valueFormat`); else `Infinity`. */
  limit: number;
}

/** Most references a catalogue remembers: a meter sends the same few dozen in every telegram. */
const MAX_REMEMBERED_REFERENCES = 1024;

/** A format's catalogue rows, looked up by a data line's reference as written. */
export class FormatCatalogue {
  readonly #fields: Map<string, FieldSpec>;
  readonly #seen = new Map<string, CatalogueEntry | null>();
  /**
   * The reference, its bytes and its entry at each line position of the last telegram read. The
   * bytes are the reference's characters again: comparing them with the telegram's bytes is a few
   * percent of a telegram faster than comparing the string's characters.
   */
  readonly #lastReferences: string[] = [];
  readonly #lastBytes: Uint8Array[] = [];
  readonly #lastEntries: (CatalogueEntry | null)[] = [];

  /** Makes the catalogue of a format (see {@linkcode catalogueOf}, which keeps one per format). */
  constructor(spec: FormatSpec) {
    this.#fields = fieldsOf(spec);
  }

  /**
   * Whether the data line at `start` in `bytes` has the reference last looked up at the same
   * position, directly followed by its first `(`. A meter writes the same lines in the same order
   * in every telegram, so this is usually so, and cheaper than making and hashing the reference.
   *
   * @param position The line's position among the telegram's data lines.
   * @param bytes The telegram.
   * @param start Where the line starts.
   * @returns Where the line's first `(` is, or -1.
   */
  matchAt(position: number, bytes: Uint8Array, start: number): number {
    const expected = this.#lastBytes[position];
    if (expected === undefined) return -1;
    const open = start + expected.length;
    if (bytes[open] !== 0x28 /* ( */) return -1;
    for (let k = 0; k < expected.length; k++) if (expected[k] !== bytes[start + k]) return -1;
    return open;
  }

  /** The reference last looked up at a position (see {@linkcode FormatCatalogue.matchAt}). */
  referenceAt(position: number): string | undefined {
    return this.#lastReferences[position];
  }

  /** The entry of the reference last looked up at a position. */
  entryAt(position: number): CatalogueEntry | undefined {
    return this.#lastEntries[position] ?? undefined;
  }

  /**
   * The row a reference reads as: from references seen before, else from the catalogue itself.
   * It is remembered as the reference at its position (see {@linkcode FormatCatalogue.matchAt}).
   *
   * @param reference The reference as written, e.g. `0-1:24.2.1` or `1-0:1.8.0*255`.
   * @param position The line's position among the telegram's data lines.
   * @returns The row and channel, or `undefined` for a reference the format does not know.
   */
  lookup(reference: string, position: number): CatalogueEntry | undefined {
    let entry = this.#seen.get(reference);
    if (entry === undefined) {
      const { key, channel } = catalogueKey(reference);
      const row = this.#fields.get(key);
      entry = row
        ? {
          channel,
          field: row.field,
          shapes: row.shapes,
          repeat: row.repeat ?? 0,
          apply: row.apply,
          unit: row.quantity?.unit ?? "",
          setQuantity: row.quantity?.set,
          setCount: row.count,
          limit: row.format === undefined ? Infinity : valueFormat(row.format).limit,
        }
        : null;
      if (this.#seen.size < MAX_REMEMBERED_REFERENCES) this.#seen.set(reference, entry);
    }
    if (position < MAX_REMEMBERED_REFERENCES && this.#lastReferences[position] !== reference) {
      this.#lastReferences[position] = reference;
      this.#lastBytes[position] = latin1Bytes(reference);
      this.#lastEntries[position] = entry;
    }
    return entry ?? undefined;
  }
}

const CATALOGUES = new Map<FormatSpec, FormatCatalogue>();

/**
 * The catalogue of a format, made once per format.
 *
 * @param spec The format.
 * @returns Its catalogue.
 */
export function catalogueOf(spec: FormatSpec): FormatCatalogue {
  let catalogue = CATALOGUES.get(spec);
  if (!catalogue) CATALOGUES.set(spec, catalogue = new FormatCatalogue(spec));
  return catalogue;
}
