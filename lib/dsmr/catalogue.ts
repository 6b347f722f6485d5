/**
 * The catalogue of each format, compiled once when the module loads: every reference a line of
 * that format may carry, as meters write it (`1-0:1.8.1`, `1-0:1.8.0*255`, `0-2:24.2.1`), mapped
 * to what reading it takes: its field, M-Bus channel, value shapes, line reader, value format and
 * setter. The lexer gives each line the symbol of its reference in {@linkcode KNOWN_REFERENCES},
 * and parsing a line is one lookup by that symbol.
 *
 * @module
 */

import { type FieldPath, FIELDS, type FieldSpec } from "./fields.ts";
import { FORMAT_IDS, type FormatId, FORMATS, type FormatSpec } from "./formats.ts";
import { ReferenceTable } from "./lexer.ts";
import { LINE_READERS, type LineReader, type ValueFormat, valueFormat } from "./lines.ts";
import type { MbusDevice, Telegram } from "./model.ts";
import { DEVICE_SETTERS, type DevicePath, TELEGRAM_SETTERS } from "./store.ts";
import type { ValueShape } from "./values.ts";

/** What reading one reference of a format takes. */
export interface CatalogueEntry {
  /** The field its row fills. */
  readonly field: FieldPath;
  /** The M-Bus channel, 1-9, or 0 for a field of the telegram. */
  readonly channel: number;
  /** The shapes its values are decoded at. */
  readonly shapes: readonly ValueShape[];
  /** How many of the trailing shapes repeat, 0 for none. */
  readonly repeat: number;
  /**
   * A number below {@linkcode CATALOGUE_SLOTS} that no other entry of its catalogue has: the
   * parser marks the entries one telegram has read by it, to find a reference sent twice.
   */
  readonly slot: number;
  /** Makes the field's value of the decoded values. */
  readonly read: LineReader<unknown>;
  /** The row's value format; one without digits or units when it has none. */
  readonly format: ValueFormat;
  /**
   * Stores the value in the telegram, or in the M-Bus device of the channel. The row types pair
   * each reader with a field of the type it makes (see `FieldRow`), so the value fits the setter.
   */
  set(target: Telegram | MbusDevice, value: unknown): void;
}

/**
 * The catalogue of one format: the entry of each reference it knows, by the reference's symbol in
 * {@linkcode KNOWN_REFERENCES} (the lexer gives each line's).
 */
export type Catalogue = readonly (CatalogueEntry | undefined)[];

/** The readers that read a number in the row's value format. */
const FORMATTED_READERS: ReadonlySet<string> = new Set([
  "quantity",
  "count",
  "deviceType",
  "valve",
  "mbusReading",
  "oldGasReading",
  "eventLog",
  "peak",
  "peakHistory",
]);

/** The format of rows that have none: no limit on digits, no unit. */
const NO_FORMAT: ValueFormat = { text: "", limit: Infinity, units: [], signed: true };

/**
 * The OBIS reference a catalogue row is looked up by: `.255`/`*255` dropped, M-Bus channel 1-9 as
 * `n`.
 *
 * @param reference The reference as written, e.g. `0-2:24.2.1` or `1-0:1.8.0*255`.
 * @returns The row's reference and the M-Bus channel (0 for none).
 */
export function catalogueKey(reference: string): { key: string; channel: number } {
  let key = reference;
  if (key.endsWith("*255") || key.endsWith(".255")) key = key.slice(0, -4);
  const c = key.charCodeAt(2);
  if (key.startsWith("0-") && c >= 0x31 && c <= 0x39 && key.charCodeAt(3) === 0x3a /* : */) {
    return { key: `0-n${key.slice(3)}`, channel: c - 0x30 };
  }
  return { key, channel: 0 };
}

/**
 * The rows of a format, by reference: the rows of its groups, where a later row replaces an
 * earlier one for the same reference.
 *
 * @param spec The format.
 * @returns A new map.
 */
export function rowsOf(spec: FormatSpec): Map<string, FieldSpec> {
  const rows = new Map<string, FieldSpec>();
  for (const row of FIELDS) if (spec.groups.includes(row.group)) rows.set(row.obis, row);
  return rows;
}

function isDevicePath(path: FieldPath): path is DevicePath {
  return path.startsWith("mbus[].");
}

/** The entry of a row, for the channel a reference names. */
function entryOf(row: FieldSpec, channel: number, slot: number): CatalogueEntry {
  if (FORMATTED_READERS.has(row.reader) !== (row.format !== undefined)) {
    throw new TypeError(`FIELDS row ${row.obis}: reader ${row.reader} and format "${row.format}"`);
  }
  const field = row.field;
  return {
    field,
    channel,
    shapes: row.shapes,
    repeat: row.repeat ?? 0,
    slot,
    read: LINE_READERS[row.reader],
    format: row.format === undefined ? NO_FORMAT : valueFormat(row.format, row.signed),
    set: isDevicePath(field) ? DEVICE_SETTERS[field] : TELEGRAM_SETTERS[field],
  };
}

/** The references as meters write them that a row's reference stands for, with their channel. */
function writtenForms(obis: string): { reference: string; channel: number }[] {
  const bases = obis.startsWith("0-n:")
    ? [1, 2, 3, 4, 5, 6, 7, 8, 9].map((channel) => `0-${channel}${obis.slice(3)}`)
    : [obis];
  return bases
    .flatMap((base) => [base, `${base}*255`, `${base}.255`])
    .map((reference) => ({ reference, ...catalogueKey(reference) }))
    .filter(({ key }) => key === obis)
    .map(({ reference, channel }) => ({ reference, channel }));
}

/** Every reference as meters write it that some row of `FIELDS` stands for, for the lexer. */
export const KNOWN_REFERENCES: ReferenceTable = new ReferenceTable(
  FIELDS.flatMap((row) => writtenForms(row.obis).map(({ reference }) => reference)),
);

/** How many slots the entries of a catalogue may take: one per reference, at most. */
export const CATALOGUE_SLOTS: number = KNOWN_REFERENCES.size;

/**
 * Compiles the catalogue of a format.
 *
 * @param spec The format.
 * @returns Its entries by the symbol of each reference its rows stand for.
 */
export function compileCatalogue(spec: FormatSpec): Catalogue {
  const catalogue = new Array<CatalogueEntry | undefined>(KNOWN_REFERENCES.size).fill(undefined);
  for (const row of rowsOf(spec).values()) {
    const byChannel = new Map<number, CatalogueEntry>();
    for (const { reference, channel } of writtenForms(row.obis)) {
      let entry = byChannel.get(channel);
      const symbol = KNOWN_REFERENCES.symbolOf(reference);
      // The symbol of its first reference is a slot no other entry takes.
      if (entry === undefined) byChannel.set(channel, entry = entryOf(row, channel, symbol));
      catalogue[symbol] = entry;
    }
  }
  return catalogue;
}

/** The catalogue of every format. */
const CATALOGUES: Readonly<Record<FormatId, Catalogue>> = Object.fromEntries(
  FORMAT_IDS.map((id) => [id, compileCatalogue(FORMATS[id])]),
) as Record<FormatId, Catalogue>;

/**
 * The catalogue of a format, compiled when the module loaded.
 *
 * @param id The format.
 * @returns Its entries by the symbol of each reference in {@linkcode KNOWN_REFERENCES}.
 */
export function catalogueOf(id: FormatId): Catalogue {
  return CATALOGUES[id];
}

/**
 * What a format reads a reference as.
 *
 * @param id The format.
 * @param reference The reference as written, e.g. `0-2:24.2.1`.
 * @returns Its entry, or `undefined` when the format does not know it.
 */
export function catalogueEntry(id: FormatId, reference: string): CatalogueEntry | undefined {
  const symbol = KNOWN_REFERENCES.symbolOf(reference);
  return symbol < 0 ? undefined : CATALOGUES[id][symbol];
}
