/**
 * KingTech P1 Reader: read the P1 port of Dutch, Belgian, Luxembourg and other DSMR smart
 * meters. This entry holds what most programs need: {@linkcode parseTelegram} (a telegram to a
 * typed {@linkcode Telegram}), the framer that cuts a byte stream into telegrams, the meter
 * formats, the receiver that reads a meter for as long as the program runs, its byte sources, and
 * the errors a telegram is refused with. The rest has entries of its own: `./formats`, `./fields`
 * (the OBIS catalogue), `./model`, `./framer`, `./values`, `./crc16`, `./smarty` (decrypting
 * Luxembourg's meters), `./receiver`, `./sources`, `./log` and `./registers`.
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
 * @example A format as a user writes it, resolved once
 * ```ts
 * import { parseTelegram, resolveFormat } from "./mod.ts";
 * import assert from "node:assert/strict";
 *
 * const format = resolveFormat("XS210ESMR5"); // the original product's name: recognise each telegram
 * assert.deepEqual(format, { kind: "detect", name: "XS210ESMR5", meant: "dsmr50" });
 * const telegram = parseTelegram("/ISk5\\2MT382-1000\r\n\r\n1-0:1.8.1(000001.000*kWh)\r\n!", { format });
 * assert.equal(telegram.format, "dsmr30");
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

export { ChecksumError, TelegramSyntaxError } from "./lib/dsmr/errors.ts";
export {
  type FormatChoice,
  type FormatId,
  type FormatMode,
  FORMATS,
  resolveFormat,
  type SerialSettings,
} from "./lib/dsmr/formats.ts";
export {
  type FramerStats,
  FrameScanner,
  type RawTelegram,
  TelegramFramer,
} from "./lib/dsmr/framer.ts";
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
export type { FrameCounts } from "./lib/dsmr/decryption.ts";
export { type ParseOptions, parseTelegram } from "./lib/dsmr/parse.ts";
export {
  type Implausibility,
  type Listener,
  P1Receiver,
  type ReceivedTelegram,
  type ReceiverCounters,
  type ReceiverState,
} from "./lib/receiver.ts";
export type { RegisterEvent, RegisterVerdict, RegisterWatch } from "./lib/meter_registers.ts";
export { createSource, type CreateSourceOptions } from "./lib/source/create.ts";
export {
  type ByteSource,
  type ByteStream,
  parseSourceSpec,
  type SourceSpec,
} from "./lib/source/source.ts";
