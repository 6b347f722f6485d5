/**
 * parseTelegram: a framed telegram (or its text) to the typed {@linkcode Telegram} model, after
 * the CRC check its format demands.
 *
 * @module
 */

import { latin1Bytes } from "../bytes.ts";
import { crc16, formatCrc } from "./crc16.ts";
import { ChecksumError, quotable, TelegramSyntaxError } from "./errors.ts";
import { type FieldContext, fitsFormat } from "./fields.ts";
import {
  AUTO_FORMAT,
  type CatalogueEntry,
  catalogueOf,
  detectTelegramFormat,
  FORMATS,
  type FormatSpec,
  resolveFormat,
} from "./formats.ts";
import { MAX_IDENTIFICATION_BYTES, type RawTelegram } from "./framer.ts";
import { isObisReference, LineCursor, LineKind } from "./lexer.ts";
import type {
  ChecksumResult,
  MbusDevice,
  MbusKind,
  ObisLine,
  ObisValue,
  Telegram,
} from "./model.ts";
import {
  decodeValue,
  decodeValueAt,
  numberGroupAt,
  type TimeZoneRule,
  type ValueShape,
  type ValueStop,
} from "./values.ts";

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
   * The format name (see `FORMAT_NAMES`) or spec; `auto` recognises it from the telegram.
   * @default {"auto"}
   */
  format?: string | FormatSpec;
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
 * @param spec Its format.
 * @returns The stated and computed CRC; `valid` is `null` for a format without CRC.
 * @throws {ChecksumError} When the CRC is wrong, or missing where the format requires one.
 */
export function verifyChecksum(raw: RawTelegram, spec: FormatSpec): ChecksumResult {
  const checksum = checkStatedCrc(raw);
  requireCrc(checksum, spec, false);
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
function requireCrc(checksum: ChecksumResult, spec: FormatSpec, detected: boolean): void {
  if (checksum.stated !== undefined || spec.checksum !== "required") return;
  const message = detected
    ? `Telegram has no CRC, but it is a ${spec.id} telegram (${spec.description}), which has one`
    : `Telegram has no CRC, but format "${spec.id}" requires one`;
  throw new ChecksumError(message, "", checksum.computed);
}

/**
 * The format `auto` recognised last. The next telegram, most likely from the same meter, is read
 * as that format first, and read again only when its own header and lines say otherwise: the
 * result is always the format the telegram itself shows, found without a second pass.
 */
let lastDetected: FormatSpec = FORMATS.dsmr50!;

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
  const fixed = typeof requested === "string" ? resolveFormat(requested) : requested;
  const checksum = checkStatedCrc(raw);
  let spec = fixed ?? lastDetected;
  let read = readTelegram(raw.bytes, text, spec, checksum);
  if (fixed === undefined) {
    const detected = detectTelegramFormat(read.telegram);
    if (detected !== spec) read = readTelegram(raw.bytes, text, spec = detected, checksum);
    lastDetected = detected;
  }
  requireCrc(checksum, spec, fixed === undefined);
  recognise(read, spec);
  return read.telegram;
}

/** A telegram as read, and what it showed that is not a meter's. */
interface ReadTelegram {
  telegram: Telegram;
  /** The first data line that does not start with an OBIS reference. */
  malformed: string | undefined;
  /** How many of its lines the format knows. */
  known: number;
}

function readTelegram(
  bytes: Uint8Array,
  text: string,
  spec: FormatSpec,
  checksum: ChecksumResult,
): ReadTelegram {
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
  const read = readLines(bytes, text, telegram, spec);
  if (telegram.header !== undefined && telegram.header.length >= 3) {
    telegram.manufacturer = telegram.header.slice(0, 3);
  }
  return read;
}

/** A meter's identification: three letters (the manufacturer), then its own text. */
const IDENTIFICATION = /^[A-Za-z]{3}[\x21-\x7e]/;

/** Refuses what is not recognisably a meter's telegram (see {@linkcode parseTelegram}). */
function recognise({ telegram, malformed, known }: ReadTelegram, spec: FormatSpec): void {
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
        `"${spec.id}" knows`,
    );
  }
}

/**
 * Reads the header and every data line into `telegram.obis`, decoding each value as its line's
 * catalogue row says, and stores the values of each known line in the named fields.
 */
function readLines(
  bytes: Uint8Array,
  text: string,
  telegram: Telegram,
  spec: FormatSpec,
): ReadTelegram {
  const catalogue = catalogueOf(spec);
  const zone = spec.zone;
  const obis = telegram.obis;
  const store = new FieldStore(telegram);
  const cursor = new LineCursor(text, bytes);
  // The last data line and its entry: its values are stored once no continuation line follows.
  let line: ObisLine | undefined;
  let entry: CatalogueEntry | undefined;
  let malformed: string | undefined;
  let known = 0;
  while (cursor.nextLine()) {
    if (cursor.kind === LineKind.Data) {
      if (line && entry) store.apply(line, entry);
      const position = obis.length;
      const open = catalogue.matchAt(position, bytes, cursor.start);
      let reference: string;
      if (open >= 0) {
        cursor.moveTo(open);
        reference = catalogue.referenceAt(position)!;
        entry = catalogue.entryAt(position);
      } else {
        reference = cursor.reference(cursor.findOpen());
        entry = catalogue.lookup(reference, position);
      }
      if (entry !== undefined) known++;
      else if (malformed === undefined && !isObisReference(reference)) malformed = reference;
      // One object shape for every line (`field` undefined when unknown) keeps this monomorphic.
      line = { reference, raw: NO_GROUPS, values: NO_VALUES, field: entry?.field };
      readValues(cursor, line, entry, zone);
      obis.push(line);
    } else if (cursor.kind === LineKind.Continuation) {
      if (line) readValues(cursor, line, entry, zone);
    } else if (telegram.header === undefined && obis.length === 0) {
      telegram.header = cursor.header();
    } else {
      malformed ??= `/${cursor.header()}`;
    }
  }
  if (line && entry) store.apply(line, entry);
  store.finish();
  return { telegram, malformed, known };
}

/** Placeholders until a line's first value: most lines have one, in an array made for it. */
const NO_GROUPS: string[] = [];
const NO_VALUES: ObisValue[] = [];

/** Where the number group last read by `numberGroupAt` ends. */
const NUMBER_STOP: ValueStop = { end: 0 };

/**
 * Appends the cursor's groups to a line: each raw string, and its value read at its shape. A
 * number, the usual value, is read as the cursor would read its group, in the same pass.
 */
function readValues(
  cursor: LineCursor,
  line: ObisLine,
  entry: CatalogueEntry | undefined,
  zone: TimeZoneRule,
): void {
  const { text, bytes } = cursor;
  for (let open = cursor.groupOpen(); open >= 0; open = cursor.groupOpen()) {
    const index = line.raw === NO_GROUPS ? 0 : line.raw.length;
    const shape = shapeAt(entry, index);
    let value: ObisValue | undefined = shape === "number"
      ? numberGroupAt(bytes, text, open + 1, NUMBER_STOP)
      : undefined;
    let group: string;
    if (value !== undefined) {
      const end = NUMBER_STOP.end;
      group = text.slice(open + 1, end);
      cursor.moveTo(end + 1);
    } else if (cursor.nextGroup() && cursor.groupJoined) {
      group = cursor.group();
      value = decodeValue(group, shape, zone);
    } else {
      const { groupStart, groupEnd } = cursor;
      group = text.slice(groupStart, groupEnd);
      value = decodeValueAt(bytes, text, groupStart, groupEnd, group, shape, zone);
    }
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

/** Stores the values of known lines in a telegram's named fields and M-Bus devices. */
class FieldStore {
  readonly #telegram: Telegram;
  readonly #context: FieldContext;
  /** The M-Bus devices by channel (1-9), made when a channel's first line is stored. */
  #devices: (MbusDevice | undefined)[] | undefined;

  constructor(telegram: Telegram) {
    this.#telegram = telegram;
    this.#context = { telegram, raw: NO_GROUPS, device: undefined };
  }

  /** Stores one line's values as its catalogue entry says; a value it cannot read is a problem. */
  apply(line: ObisLine, entry: CatalogueEntry): void {
    const context = this.#context;
    const channel = entry.channel;
    if (channel > 0) {
      const devices = this.#devices ??= [];
      context.device = devices[channel] ??= { channel, kind: "unknown" };
    } else {
      context.device = undefined;
    }
    // The usual line, one number that fits its row's format (in the unit of a quantity row), is
    // stored without `apply`.
    const values = line.values;
    if (values.length === 1) {
      const value = values[0]!;
      if (value.kind === "number" && fitsFormat(value.value, entry.limit)) {
        const unit = entry.unit;
        if (entry.setQuantity && (value.unit === undefined || value.unit === unit)) {
          entry.setQuantity(this.#telegram, { value: value.value, unit });
          return;
        }
        if (entry.setCount) {
          entry.setCount(this.#telegram, value.value);
          return;
        }
      }
    }
    context.raw = line.raw;
    const problem = entry.apply(values, context);
    if (problem) this.#telegram.problems.push({ reference: line.reference, reason: problem });
  }

  /** Adds the M-Bus devices that sent anything to the telegram, in channel order. */
  finish(): void {
    if (!this.#devices) return;
    for (const device of this.#devices) {
      if (
        device === undefined ||
        (device.deviceType === undefined && device.id === undefined &&
          device.reading === undefined)
      ) continue;
      device.kind = mbusKind(device);
      if (device.reading?.value.unit === "") {
        device.reading.value.unit = UNIT_BY_KIND[device.kind] ?? "";
      }
      this.#telegram.mbus.push(device);
    }
  }
}

/**
 * The shape of a line's value `index`: its row's shapes in order, the last `repeat` of them
 * repeating; `auto` for a line the format does not know.
 */
function shapeAt(entry: CatalogueEntry | undefined, index: number): ValueShape {
  if (!entry) return "auto";
  const shapes = entry.shapes;
  const repeat = entry.repeat;
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
