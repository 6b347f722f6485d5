/**
 * KingTech P1 Reader: read the P1 port of Dutch, Belgian, Luxembourg and other DSMR smart
 * meters. This module is the library: the framer (bytes to whole telegrams), the decryption of
 * Luxembourg's encrypted frames, the CRC check, the parser (telegram to a typed model), the meter
 * formats, the byte sources (serial port through FFI, TCP, file replay, demo meter) and the
 * receiver that ties them together and never gives up.
 *
 * @example Decoding a capture
 * ```ts
 * import { FrameScanner, parseTelegram } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * const bytes = new TextEncoder().encode(
 *   "noise/ISk5\\2MT382-1000\r\n\r\n1-0:1.8.1(012345.678*kWh)\r\n0-1:24.3.0(090212160000)(00)(60)(1)(0-1:24.2.1)(m3)\r\n(00001.001)\r\n!\r\n",
 * );
 * const [raw] = new FrameScanner().push(bytes);
 * const telegram = parseTelegram(raw!, { format: "dsmr30" });
 * assert.deepEqual(telegram.energy.import.t1, { value: 12345.678, unit: "kWh" });
 * assert.equal(telegram.mbus[0]?.kind, "gas");
 * ```
 *
 * @example Reading a meter for as long as the program runs
 * ```ts ignore
 * import { createSource, P1Receiver, parseSourceSpec } from "./mod.ts";
 *
 * const source = createSource(parseSourceSpec("/dev/ttyUSB0"));
 * const receiver = new P1Receiver({ source });
 * receiver.start();
 * for await (const { telegram } of receiver) console.log(telegram.power.import);
 * ```
 *
 * @module
 */

export { crc16, formatCrc } from "./lib/dsmr/crc16.ts";
export {
  DecryptingScanner,
  type DecryptingScannerOptions,
  type DecryptionKeys,
  FRAME_OUTCOMES,
  type FrameCounts,
  type FrameRejection,
  type FrameRejectionKind,
  parseKey,
  SMARTY_AUTHENTICATION_KEY,
} from "./lib/dsmr/decryption.ts";
export {
  type DlmsFrame,
  DlmsFrameScanner,
  type DlmsScannerOptions,
  type FrameHeader,
  readFrameHeader,
  type ScanItem,
  splitCapture,
} from "./lib/dsmr/dlms.ts";
export { ChecksumError, TelegramSyntaxError } from "./lib/dsmr/errors.ts";
export {
  type FieldGroup,
  type FieldPath,
  type FieldRow,
  FIELDS,
  type FieldSpec,
  type FieldValues,
  type LineShape,
  type LineValues,
  type MbusReading,
  type Phase,
  type ReaderOf,
  type Register,
} from "./lib/dsmr/fields.ts";
export { detectFormat } from "./lib/dsmr/detect.ts";
export {
  AUTO_FORMAT,
  FORMAT_ALIASES,
  FORMAT_NAMES,
  type FormatChoice,
  type FormatId,
  type FormatMode,
  FORMATS,
  type FormatSpec,
  resolveFormat,
  type SerialSettings,
} from "./lib/dsmr/formats.ts";
export {
  DEFAULT_MAX_TELEGRAM_BYTES,
  type FramerOptions,
  type FramerStats,
  FrameScanner,
  type RawTelegram,
  TelegramFramer,
} from "./lib/dsmr/framer.ts";
export {
  type DataLine,
  type LexedTelegram,
  lexTelegram,
  type MisplacedHeader,
  ReferenceTable,
} from "./lib/dsmr/lexer.ts";
export type {
  ChecksumResult,
  EnergyRegisters,
  LineProblem,
  MbusDevice,
  MbusKind,
  ObisLine,
  ObisValue,
  PeakDemand,
  PhaseReadings,
  PowerFailure,
  Quantity,
  Telegram,
  Timestamp,
} from "./lib/dsmr/model.ts";
export { type ParseOptions, parseTelegram, verifyChecksum } from "./lib/dsmr/parse.ts";
export {
  CENTRAL_EUROPEAN_TIME,
  decodeHexText,
  decodeValue,
  type NumberWithUnit,
  readNumber,
  readQuantity,
  readTimestamp,
  type TimeZoneRule,
  type ValueShape,
} from "./lib/dsmr/values.ts";
export {
  createLogger,
  LOG_LEVELS,
  type LogFields,
  type Logger,
  type LoggerOptions,
  type LogLevel,
  SILENT,
} from "./lib/log.ts";
export { CLOCK_JUMP_MS, MeterClock } from "./lib/meter_clock.ts";
export { MeterInterval } from "./lib/meter_interval.ts";
export {
  meterRegisters,
  type RegisterEvent,
  type RegisterReading,
  RegisterWatch,
  RESET_AFTER_MS,
  RESET_AFTER_TELEGRAMS,
} from "./lib/meter_registers.ts";
export {
  type Listener,
  P1Receiver,
  type ReceivedTelegram,
  type ReceiverCounters,
  type ReceiverOptions,
  type ReceiverState,
} from "./lib/receiver.ts";
export {
  AUTO_SERIAL_SETTINGS,
  createSource,
  type CreateSourceOptions,
  serialSettingsFor,
} from "./lib/source/create.ts";
export { DemoMeter, type DemoOptions, DemoSource } from "./lib/source/demo.ts";
export { FileSource, type FileSourceOptions, StdinSource } from "./lib/source/file.ts";
export { describeSettings, SerialSource, type SerialSourceOptions } from "./lib/source/serial.ts";
export {
  type ByteSource,
  type ByteStream,
  parseSourceSpec,
  SourceError,
  type SourceSpec,
} from "./lib/source/source.ts";
export { TcpSource, type TcpSourceOptions } from "./lib/source/tcp.ts";
export { VERSION } from "./lib/version.ts";
