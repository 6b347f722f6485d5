/**
 * parseTelegram: a framed telegram (or its text) to the typed {@linkcode Telegram} model, after
 * the CRC check its format demands.
 *
 * @module
 */

import { crc16, formatCrc } from "./crc16.ts";
import { ChecksumError, TelegramSyntaxError } from "./errors.ts";
import type { FieldContext, FieldSpec } from "./fields.ts";
import {
  AUTO_FORMAT,
  type CatalogueEntry,
  catalogueOf,
  detectFormat,
  type FormatSpec,
  resolveFormat,
} from "./formats.ts";
import type { RawTelegram } from "./framer.ts";
import { groupEnd, lexTelegram, LineCursor, LineKind } from "./lexer.ts";
import type {
  ChecksumResult,
  MbusDevice,
  MbusKind,
  ObisLine,
  ObisValue,
  Telegram,
} from "./model.ts";
import { decodeValueAt, type TimeZoneRule, type ValueShape } from "./values.ts";

const LATIN1 = new TextDecoder("latin1");
const UTF8 = new TextDecoder();

/**
 * A telegram's bytes as text, one character per byte (Latin-1). Telegrams are ASCII, where UTF-8
 * decodes to the same text several times faster. Any other byte either shortens the UTF-8 text
 * (a valid sequence) or becomes U+FFFD (an invalid one); Latin-1 decodes those telegrams instead.
 */
function telegramText(bytes: Uint8Array): string {
  const text = UTF8.decode(bytes);
  if (text.length === bytes.length && !text.includes("\uFFFD")) return text;
  return LATIN1.decode(bytes);
}

/** Options for {@linkcode parseTelegram}. */
export interface ParseOptions {
  /**
   * The format name (see `FORMAT_NAMES`) or spec; `auto` recognises it from the telegram.
   * @default {"auto"}
   */
  format?: string | FormatSpec;
}

function toRaw(input: RawTelegram | string): RawTelegram {
  if (typeof input !== "string") return input;
  const bytes = new Uint8Array(input.length);
  for (let i = 0; i < input.length; i++) bytes[i] = input.charCodeAt(i) & 0xff;
  const bangIndex = input.lastIndexOf("!");
  const crcText = bangIndex < 0
    ? ""
    : (/^[0-9A-Fa-f]{0,4}/.exec(input.slice(bangIndex + 1))?.[0] ?? "");
  return { bytes, bangIndex, crcText };
}

/**
 * Checks a telegram's CRC against what its format demands.
 *
 * @param raw The framed telegram.
 * @param spec Its format.
 * @returns The stated and computed CRC; `valid` is `null` for a format without CRC.
 * @throws {ChecksumError} When the CRC is wrong, or missing where the format requires one.
 */
export function verifyChecksum(raw: RawTelegram, spec: FormatSpec): ChecksumResult {
  const crc = crc16(raw.bytes, 0, raw.bangIndex + 1);
  const computed = formatCrc(crc);
  if (raw.crcText === "") {
    if (spec.checksum === "required") {
      throw new ChecksumError(
        `Telegram has no CRC, but format "${spec.id}" requires one`,
        "",
        computed,
      );
    }
    return { computed, valid: null };
  }
  if (parseInt(raw.crcText, 16) !== crc) {
    throw new ChecksumError(
      `CRC mismatch: telegram states "${raw.crcText}", computed "${computed}"`,
      raw.crcText,
      computed,
    );
  }
  return { stated: raw.crcText, computed, valid: true };
}

/**
 * Parses one telegram.
 *
 * @param input A telegram from the framer, or its text from `/` through the CRC line.
 * @param options The format; see {@linkcode ParseOptions}.
 * @returns The telegram model.
 * @throws {ChecksumError} When the CRC is wrong or missing where the format requires one.
 * @throws {TelegramSyntaxError} When the text has no `/` identification line or no data line.
 * @throws {RangeError} When the format name is unknown.
 *
 * @example Reading the power a meter reports
 * ```ts
 * import { parseTelegram } from "./parse.ts";
 * import assert from "node:assert/strict";
 * const text = "/ISK5\\2M550T-1012\r\n\r\n1-3:0.2.8(50)\r\n1-0:1.7.0(00.404*kW)\r\n!";
 * const telegram = parseTelegram(text, { format: "dsmr30" });
 * assert.deepEqual(telegram.power.import, { value: 0.404, unit: "kW" });
 * ```
 */
export function parseTelegram(input: RawTelegram | string, options: ParseOptions = {}): Telegram {
  const raw = toRaw(input);
  if (raw.bytes[0] !== 0x2f || raw.bangIndex < 0) {
    throw new TelegramSyntaxError('Cannot parse telegram: it does not run from "/" to "!"');
  }
  const text = telegramText(raw.bytes);
  const requested = options.format ?? AUTO_FORMAT;
  const spec = typeof requested === "string"
    ? resolveFormat(requested) ?? detectFormat(lexTelegram(text), raw.crcText !== "")
    : requested;
  const checksum = verifyChecksum(raw, spec);

  const telegram: Telegram = {
    format: spec.id,
    energy: { import: {}, export: {} },
    power: {},
    phases: {},
    powerFailures: {},
    mbus: [],
    obis: [],
    problems: [],
    checksum,
    raw: text,
  };
  const entries = readLines(text, telegram, spec);
  if (telegram.obis.length === 0) {
    throw new TelegramSyntaxError("Cannot parse telegram: it has no data line");
  }
  if (telegram.header !== undefined && telegram.header.length >= 3) {
    telegram.manufacturer = telegram.header.slice(0, 3);
  }
  applyFields(telegram, entries);
  return telegram;
}

/**
 * Reads the header and every data line into `telegram.obis`, decoding each value as its line's
 * catalogue row says while the line is lexed.
 *
 * @returns Each line's catalogue entry, in `obis` order (`undefined` for an unknown line).
 */
function readLines(
  text: string,
  telegram: Telegram,
  spec: FormatSpec,
): (CatalogueEntry | undefined)[] {
  const catalogue = catalogueOf(spec);
  const zone = spec.zone;
  const obis = telegram.obis;
  const entries: (CatalogueEntry | undefined)[] = [];
  const cursor = new LineCursor(text);
  while (cursor.nextLine()) {
    if (cursor.kind === LineKind.Data) {
      const reference = cursor.reference();
      const entry = catalogue.lookup(reference, obis.length);
      // One object shape for every line (`field` undefined when unknown) keeps this monomorphic.
      const line: ObisLine = {
        reference,
        raw: NO_GROUPS,
        values: NO_VALUES,
        field: entry?.row.field,
      };
      readValues(cursor, line, entry?.row, zone);
      obis.push(line);
      entries.push(entry);
    } else if (cursor.kind === LineKind.Continuation) {
      const previous = obis[obis.length - 1];
      if (previous) readValues(cursor, previous, entries[entries.length - 1]?.row, zone);
    } else if (telegram.header === undefined && obis.length === 0) {
      telegram.header = cursor.header();
    }
  }
  return entries;
}

/** Placeholders until a line's first value: most lines have one, in an array made for it. */
const NO_GROUPS: string[] = [];
const NO_VALUES: ObisValue[] = [];

/** Appends the cursor's groups to a line: each raw string, and its value read at its shape. */
function readValues(
  cursor: LineCursor,
  line: ObisLine,
  row: FieldSpec | undefined,
  zone: TimeZoneRule,
): void {
  const { text, stop } = cursor;
  for (let at = cursor.open, end; (end = groupEnd(text, at, stop)) >= 0; at = end + 1) {
    const group = text.slice(at + 1, end);
    const index = line.raw === NO_GROUPS ? 0 : line.raw.length;
    const value = decodeValueAt(text, at + 1, end, group, shapeAt(row, index), zone);
    if (index === 0) {
      line.raw = [group];
      line.values = [value];
    } else {
      line.raw.push(group);
      line.values.push(value);
    }
  }
  if (line.raw === NO_GROUPS) {
    line.raw = [];
    line.values = [];
  }
}

/** Stores the values of every known line in the telegram's named fields and M-Bus devices. */
function applyFields(telegram: Telegram, entries: (CatalogueEntry | undefined)[]): void {
  const devices: (MbusDevice | undefined)[] = [];
  const context: FieldContext = { telegram, raw: [], device: undefined };
  for (let position = 0; position < entries.length; position++) {
    const entry = entries[position];
    if (entry === undefined) continue;
    const line = telegram.obis[position]!;
    let device: MbusDevice | undefined;
    const channel = entry.channel;
    if (channel > 0) {
      device = devices[channel];
      if (!device) devices[channel] = device = { channel, kind: "unknown" };
    }
    context.raw = line.raw;
    context.device = device;
    const problem = entry.row.apply(line.values, context);
    if (problem) telegram.problems.push({ reference: line.reference, reason: problem });
  }
  // Channels are 1-9: the array holds the devices in channel order.
  for (const device of devices) {
    if (
      device === undefined ||
      (device.deviceType === undefined && device.id === undefined && device.reading === undefined)
    ) continue;
    device.kind = mbusKind(device);
    if (device.reading?.value.unit === "") {
      device.reading.value.unit = UNIT_BY_KIND[device.kind] ?? "";
    }
    telegram.mbus.push(device);
  }
}

/**
 * The shape of a line's value `index`: its row's shapes in order, the last `repeat` of them
 * repeating; `auto` for a line the format does not know.
 */
function shapeAt(row: FieldSpec | undefined, index: number): ValueShape {
  if (!row) return "auto";
  const shapes = row.shapes;
  const repeat = row.repeat ?? 0;
  const fixed = shapes.length - repeat;
  return index < fixed || repeat === 0
    ? shapes[Math.min(index, shapes.length - 1)]!
    : shapes[fixed + ((index - fixed) % repeat)]!;
}

const KIND_BY_TYPE: Record<number, MbusKind> = {
  2: "electricity",
  3: "gas",
  4: "heat",
  6: "warm_water",
  7: "water",
  10: "cold",
  11: "cold",
  12: "heat",
};

const UNIT_BY_KIND: Partial<Record<MbusKind, string>> = {
  gas: "m3",
  water: "m3",
  warm_water: "m3",
  heat: "GJ",
  cold: "GJ",
  electricity: "kWh",
};

const KIND_BY_UNIT: Record<string, MbusKind> = { m3: "gas", GJ: "heat", kWh: "electricity" };

function mbusKind(device: MbusDevice): MbusKind {
  if (device.deviceType !== undefined) return KIND_BY_TYPE[device.deviceType] ?? "unknown";
  return KIND_BY_UNIT[device.reading?.value.unit ?? ""] ?? "unknown";
}
