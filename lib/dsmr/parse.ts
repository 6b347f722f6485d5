/**
 * parseTelegram: a framed telegram (or its text) to the typed {@linkcode Telegram} model, after
 * the CRC check its format demands. It reads in layers: the lexer cuts the lines, the format's
 * compiled catalogue gives each reference its row, the values are decoded at the row's shapes,
 * the row's line reader makes the field's value and its setter stores it.
 *
 * @module
 */

import { latin1Bytes } from "../bytes.ts";
import {
  CATALOGUE_SLOTS,
  type CatalogueEntry,
  catalogueOf,
  KNOWN_REFERENCES,
} from "./catalogue.ts";
import { crc16, formatCrc } from "./crc16.ts";
import { ChecksumError, quotable, TelegramSyntaxError } from "./errors.ts";
import { detectFormat } from "./detect.ts";
import {
  type FormatChoice,
  type FormatId,
  formatMode,
  FORMATS,
  type FormatSpec,
} from "./formats.ts";
import { MAX_IDENTIFICATION_BYTES, type RawTelegram } from "./framer.ts";
import { type DataLine, isObisReference, type LexedTelegram, lexTelegram } from "./lexer.ts";
import { Unreadable } from "./lines.ts";
import type {
  ChecksumResult,
  MbusDevice,
  MbusKind,
  ObisLine,
  ObisValue,
  Telegram,
} from "./model.ts";
import { decodeValue, decodeValueAt, type TimeZoneRule, type ValueShape } from "./values.ts";

/** The 32-bit words of a bit per catalogue slot. */
const READ_WORDS = Math.ceil(CATALOGUE_SLOTS / 32);

const UTF8 = new TextDecoder();

/**
 * A telegram's bytes as text, one character per byte (Latin-1). Telegrams are ASCII, where UTF-8
 * decodes to the same text several times faster. Any other byte either shortens the UTF-8 text
 * (a valid sequence) or becomes U+FFFD (an invalid one); those telegrams are decoded a byte at a
 * time (`TextDecoder("latin1")` is windows-1252, which turns 0x80-0x9F into other characters).
 */
function telegramText(bytes: Uint8Array): string {
  const text = UTF8.decode(bytes);
  if (text.length === bytes.length && !text.includes("\uFFFD")) return text;
  let latin1 = "";
  for (let at = 0; at < bytes.length; at += 4096) {
    latin1 += String.fromCharCode(...bytes.subarray(at, at + 4096));
  }
  return latin1;
}

/** Options for {@linkcode parseTelegram}. */
export interface ParseOptions {
  /**
   * The format: an id, `auto`, or a setting from `resolveFormat` (`auto` and the original
   * product's names recognise it from the telegram).
   * @default {"auto"}
   */
  format?: FormatChoice;
}

function toRaw(input: RawTelegram | string): RawTelegram {
  if (typeof input !== "string") return input;
  const bytes = latin1Bytes(input);
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
 * @param id Its format.
 * @returns The stated and computed CRC; `valid` is `null` for a format without CRC.
 * @throws {ChecksumError} When the CRC is wrong, or missing where the format requires one.
 */
export function verifyChecksum(raw: RawTelegram, id: FormatId): ChecksumResult {
  const checksum = checkStatedCrc(raw);
  requireCrc(checksum, id, false);
  return checksum;
}

/** Compares the CRC the telegram states, if any, with the one computed over `/` through `!`. */
function checkStatedCrc(raw: RawTelegram): ChecksumResult {
  const crc = crc16(raw.bytes, 0, raw.bangIndex + 1);
  const computed = formatCrc(crc);
  if (raw.crcText === "") return { computed, valid: null };
  if (parseInt(raw.crcText, 16) !== crc) {
    throw new ChecksumError(
      `CRC mismatch: telegram states "${raw.crcText}", computed "${computed}"`,
      raw.crcText,
      computed,
    );
  }
  return { stated: raw.crcText, computed, valid: true };
}

/** Refuses a telegram without CRC in a format that has one. */
function requireCrc(checksum: ChecksumResult, id: FormatId, detected: boolean): void {
  const spec: FormatSpec = FORMATS[id];
  if (checksum.stated !== undefined || spec.checksum !== "required") return;
  const message = detected
    ? `Telegram has no CRC, but it is a ${id} telegram (${spec.description}), which has one`
    : `Telegram has no CRC, but format "${id}" requires one`;
  throw new ChecksumError(message, "", checksum.computed);
}

/**
 * Parses one telegram, which must be recognisably a meter's: an identification line of the
 * `/XXX5...` shape (three letters, then the meter's identification), data lines that each start
 * with an OBIS reference, at least one line its format knows, and a valid CRC where the format has
 * one. Noise that happens to run from `/` to `!` is refused.
 *
 * @param input A telegram from the framer, or its text from `/` through the CRC line.
 * @param options The format; see {@linkcode ParseOptions}.
 * @returns The telegram model.
 * @throws {ChecksumError} When the CRC is wrong or missing where the format requires one.
 * @throws {TelegramSyntaxError} When the text is not recognisably a meter's telegram.
 * @throws {RangeError} When the format is unknown.
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
  const mode = formatMode(options.format);
  const checksum = checkStatedCrc(raw);
  const text = telegramText(raw.bytes);
  const lexed = lexTelegram(text, raw.bytes, KNOWN_REFERENCES);
  const id = mode.kind === "fixed" ? mode.id : detectFormat(lexed, checksum.stated !== undefined);
  requireCrc(checksum, id, mode.kind === "detect");
  return readTelegram(lexed, raw.bytes, text, id, checksum);
}

/** A meter's identification: three letters (the manufacturer), then its own text. */
const IDENTIFICATION = /^[A-Za-z]{3}[\x21-\x7e]/;

/**
 * Reads a lexed telegram as format `id`: every data line into `obis`, the values of each line the
 * format knows into its named field (or a problem), and refuses what is not recognisably a meter's
 * telegram (see {@linkcode parseTelegram}).
 */
function readTelegram(
  lexed: LexedTelegram,
  bytes: Uint8Array,
  text: string,
  id: FormatId,
  checksum: ChecksumResult,
): Telegram {
  const { lines } = lexed;
  const obis = new Array<ObisLine>(lines.length);
  const telegram: Telegram = {
    format: id,
    energy: { import: {}, export: {} },
    power: {},
    phases: {},
    powerFailures: {},
    mbus: [],
    obis,
    problems: [],
    checksum,
    raw: text,
  };
  const header = lexed.header;
  if (header !== undefined) telegram.header = header;
  const catalogue = catalogueOf(id);
  const zone = FORMATS[id].zone;
  const { problems } = telegram;
  /** The M-Bus devices by channel (1-9), made when a channel's first value is stored. */
  const devices: (MbusDevice | undefined)[] = [];
  /**
   * The entries read so far, a bit per slot: a reference sent twice is a problem, and the first
   * value stays. (Bits, not a `Set`: a `Set` cost 15% of the parse.)
   */
  const read = new Array<number>(READ_WORDS).fill(0);
  let unknownLine: { reference: string; position: number } | undefined;
  let known = 0;
  for (let position = 0; position < lines.length; position++) {
    const line = lines[position]!;
    const { reference, groups, symbol } = line;
    const entry = symbol < 0 ? undefined : catalogue[symbol];
    const values = decodeValues(bytes, text, line, entry, zone);
    obis[position] = { reference, raw: groups, values, field: entry?.field };
    if (entry === undefined) {
      if (unknownLine === undefined && !isObisReference(reference)) {
        unknownLine = { reference, position };
      }
      continue;
    }
    known++;
    const word = entry.slot >>> 5, bit = 1 << (entry.slot & 31);
    if ((read[word]! & bit) !== 0) {
      problems.push({ reference, reason: "Sent twice in one telegram: the first value is kept" });
      continue;
    }
    read[word] = read[word]! | bit;
    const value = entry.read(values, groups, entry.format);
    if (value === undefined) continue;
    if (value instanceof Unreadable) {
      const quoted = quotable(groups.join(")("), 80);
      problems.push({ reference, reason: `Cannot read ${value.expected} from "${quoted}"` });
      continue;
    }
    const channel = entry.channel;
    entry.set(
      channel === 0 ? telegram : (devices[channel] ??= { channel, kind: "unknown" }),
      value,
    );
  }
  addDevices(telegram, devices);
  if (header !== undefined && header.length >= 3) telegram.manufacturer = header.slice(0, 3);
  const misplaced = lexed.misplacedHeader;
  const malformed = unknownLine !== undefined &&
      (misplaced === undefined || unknownLine.position < misplaced.position)
    ? unknownLine.reference
    : misplaced && `/${misplaced.header}`;
  recognise(telegram, malformed, known, id);
  return telegram;
}

/**
 * A line's values, each decoded at its row's shape: the row's shapes in order, the last `repeat`
 * of them repeating; `auto` for a line the format does not know. Each is read where it stands in
 * the telegram, when the lexer says where that is.
 */
function decodeValues(
  bytes: Uint8Array,
  text: string,
  { groups, at }: DataLine,
  entry: CatalogueEntry | undefined,
  zone: TimeZoneRule,
): ObisValue[] {
  const shapes = entry?.shapes ?? AUTO;
  if (groups.length === 1 && at >= 0) {
    const group = groups[0]!;
    return [decodeValueAt(bytes, text, at + 1, at + 1 + group.length, group, shapes[0]!, zone)];
  }
  const values = new Array<ObisValue>(groups.length);
  const repeat = entry?.repeat ?? 0;
  const fixed = shapes.length - repeat;
  let from = at + 1;
  for (let index = 0; index < groups.length; index++) {
    const shape = index < fixed || repeat === 0
      ? shapes[Math.min(index, shapes.length - 1)]!
      : shapes[fixed + ((index - fixed) % repeat)]!;
    const group = groups[index]!;
    values[index] = at < 0
      ? decodeValue(group, shape, zone)
      : decodeValueAt(bytes, text, from, from + group.length, group, shape, zone);
    from += group.length + 2;
  }
  return values;
}

/** The shape of every value of a line the format does not know. */
const AUTO: readonly ValueShape[] = ["auto"];

/**
 * Refuses what is not recognisably a meter's telegram (see {@linkcode parseTelegram}).
 *
 * @param malformed The first line that is neither a data line nor the identification line.
 * @param known How many of its lines the format knows.
 */
function recognise(
  telegram: Telegram,
  malformed: string | undefined,
  known: number,
  id: FormatId,
): void {
  const header = telegram.header ?? "";
  if (!IDENTIFICATION.test(header) || header.length > MAX_IDENTIFICATION_BYTES) {
    throw new TelegramSyntaxError(
      `Cannot parse telegram: its identification line "/${quotable(header)}" is not a meter's ` +
        '("/", three letters and the meter\'s identification, such as "/ISK5\\2M550T-1012")',
    );
  }
  if (telegram.obis.length === 0) {
    throw new TelegramSyntaxError("Cannot parse telegram: it has no data line");
  }
  if (malformed !== undefined) {
    throw new TelegramSyntaxError(
      `Cannot parse telegram: its line "${
        quotable(malformed)
      }" does not start with an OBIS reference`,
    );
  }
  if (known === 0) {
    throw new TelegramSyntaxError(
      `Cannot parse telegram: none of its ${telegram.obis.length} data lines is one that format ` +
        `"${id}" knows`,
    );
  }
}

/** Adds the M-Bus devices that sent anything to the telegram, in channel order. */
function addDevices(telegram: Telegram, devices: readonly (MbusDevice | undefined)[]): void {
  for (const device of devices) {
    if (
      device === undefined ||
      (device.deviceType === undefined && device.id === undefined && device.reading === undefined)
    ) continue;
    device.kind = mbusKind(device);
    if (device.reading?.value.unit === "") {
      device.reading.value.unit = UNIT_BY_KIND[device.kind] ?? "";
    }
    const unit = device.reading?.value.unit;
    if (unit !== undefined && !(UNITS_BY_KIND[device.kind] ?? [unit]).includes(unit)) {
      // A gas meter's kWh would be read as m3 of gas everywhere downstream.
      const reference = telegram.obis.find((line) =>
        line.field === "mbus[].reading" && line.reference.startsWith(`0-${device.channel}:`)
      )?.reference ?? `0-${device.channel}:24.2.1`;
      telegram.problems.push({
        reference,
        reason: `A ${device.kind.replace("_", " ")} meter's reading in ${unit}, not ${
          UNITS_BY_KIND[device.kind]!.join(" or ")
        }: left out`,
      });
      delete device.reading;
    }
    telegram.mbus.push(device);
  }
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

/** The units a reading of each kind may be in: volume meters count m3, energy meters energy. */
const UNITS_BY_KIND: Partial<Record<MbusKind, readonly string[]>> = {
  gas: ["m3"],
  water: ["m3"],
  warm_water: ["m3"],
  heat: ["GJ", "kWh"],
  cold: ["GJ", "kWh"],
  electricity: ["kWh"],
};

const KIND_BY_UNIT: Record<string, MbusKind> = { m3: "gas", GJ: "heat", kWh: "electricity" };

function mbusKind(device: MbusDevice): MbusKind {
  if (device.deviceType !== undefined) return KIND_BY_TYPE[device.deviceType] ?? "unknown";
  return KIND_BY_UNIT[device.reading?.value.unit ?? ""] ?? "unknown";
}
