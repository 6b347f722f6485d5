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
import type { Quantity } from "./model.ts";
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
  luxembourg: format("luxembourg", "Luxembourg, Smarty (plaintext)", [
    "dsmr",
    "totals",
    "luxembourg",
  ]),
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

/** The original product's format names; both read DSMR 5.0.2 telegrams. */
export const FORMAT_ALIASES: Readonly<Record<string, string>> = {
  XS210ESMR5: "dsmr50",
  V502: "dsmr50",
};

/** The format id that recognises the format from each telegram. */
export const AUTO_FORMAT = "auto";

/** Every name `resolveFormat` accepts: the ids, `auto` and the original's aliases. */
export const FORMAT_NAMES: readonly string[] = [
  AUTO_FORMAT,
  ...Object.keys(FORMATS),
  ...Object.keys(FORMAT_ALIASES),
];

/**
 * Finds a format by id or alias, ignoring case.
 *
 * @param name For example `dsmr50`, `V502`, `xs210esmr5` or `auto`.
 * @returns The format, or `undefined` for `auto`.
 * @throws {RangeError} When the name is unknown; the message lists the valid names.
 *
 * @example
 * ```ts
 * import { resolveFormat } from "./formats.ts";
 * import assert from "node:assert/strict";
 * assert.equal(resolveFormat("V502")?.id, "dsmr50");
 * assert.equal(resolveFormat("auto"), undefined);
 * ```
 */
export function resolveFormat(name: string): FormatSpec | undefined {
  const lower = name.toLowerCase();
  if (lower === AUTO_FORMAT) return undefined;
  const found = FORMATS_BY_LOWER_CASE_NAME.get(lower);
  if (!found) {
    throw new RangeError(`Unknown format "${name}": expected one of ${FORMAT_NAMES.join(", ")}`);
  }
  return found;
}

/** Every format by its id and aliases, in lower case. */
const FORMATS_BY_LOWER_CASE_NAME = new Map<string, FormatSpec>([
  ...Object.entries(FORMATS),
  ...Object.entries(FORMAT_ALIASES).map(([alias, id]) => [alias, FORMATS[id]!] as const),
].map(([name, spec]) => [name.toLowerCase(), spec]));

/**
 * Recognises the format of a lexed telegram from its header and the lines it carries.
 *
 * @param lexed The lexed telegram.
 * @param hasCrc Whether a CRC follows the `!`.
 * @returns The most specific format that fits.
 */
export function detectFormat(lexed: LexedTelegram, hasCrc: boolean): FormatSpec {
  const header = lexed.header ?? "";
  const refs = new Set<string>();
  let version: string | undefined;
  for (const line of lexed.lines) {
    refs.add(line.reference);
    if (line.reference === "1-3:0.2.8") version = line.groups[0];
  }
  if (header.startsWith("ESY") || refs.has("1-0:1.8.0*255")) return FORMATS.q3d!;
  if (header.startsWith("Lux")) return FORMATS.luxembourg!;
  if (refs.has("0-0:96.1.4") || header.startsWith("FLU")) return FORMATS.belgium!;
  if (refs.has("0-0:42.0.0")) {
    return refs.has("0-0:96.14.0") ? FORMATS.hungary! : FORMATS.luxembourg!;
  }
  if (refs.has("1-0:1.8.0") && !refs.has("1-0:1.8.1")) return FORMATS.sweden!;
  if (version === "40") return FORMATS.dsmr40!;
  if (version === "42") return FORMATS.dsmr42!;
  if (version !== undefined) return FORMATS.dsmr50!;
  if (refs.has("1-0:0.0.0") && hasCrc) return FORMATS.ireland!;
  // DSMR 2.2 and 3.0 telegrams are read the same way; nothing in them tells them apart.
  if (!hasCrc) return FORMATS.dsmr30!;
  return FORMATS.dsmr50!;
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
