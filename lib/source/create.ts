/**
 * createSource: a `--source` value plus line settings to a {@linkcode ByteSource}.
 *
 * @module
 */

import { splitCapture } from "../dsmr/dlms.ts";
import { type FormatChoice, formatMode, FORMATS, type SerialSettings } from "../dsmr/formats.ts";
import { DemoSource } from "./demo.ts";
import { FileSource, StdinSource } from "./file.ts";
import { SerialSource } from "./serial.ts";
import type { ByteSource, SourceSpec } from "./source.ts";
import { TcpSource } from "./tcp.ts";

/** The settings `auto` tries, in order: DSMR 4/5 first, then DSMR 2.2/3.0. */
export const AUTO_SERIAL_SETTINGS: readonly SerialSettings[] = [
  { baudRate: 115200, dataBits: 8, parity: "none", stopBits: 1 },
  { baudRate: 9600, dataBits: 7, parity: "even", stopBits: 1 },
];

/** Options for {@linkcode createSource}. */
export interface CreateSourceOptions {
  /**
   * The meter format (decides the serial settings unless overridden).
   * @default {"auto"}
   */
  format?: FormatChoice;
  /** Serial settings given explicitly; they override the format's. */
  serial?: Partial<SerialSettings>;
  /** Seconds between telegrams for a file replay (0: as fast as possible). */
  replayIntervalSeconds?: number;
  /** Loop a file replay. */
  replayLoop?: boolean;
  /** Milliseconds between demo telegrams. */
  demoIntervalMs?: number;
  /** Whether encrypted frames are read: a paced replay then sends a frame at a time. */
  decrypting?: boolean;
  /** Where a source says what the receiver does not see (a looping replay without telegrams). */
  warn?: (message: string) => void;
}

/**
 * The serial settings to use: the format's, with explicit ones on top; for `auto` without
 * explicit settings, 115200 8N1 then 9600 7E1.
 *
 * @param format The format.
 * @param explicit Settings given by flags.
 * @returns One or more settings to try, in order.
 */
export function serialSettingsFor(
  format: FormatChoice | undefined,
  explicit: Partial<SerialSettings> = {},
): SerialSettings[] {
  const mode = formatMode(format);
  const serial = mode.kind === "fixed" ? FORMATS[mode.id].serial : undefined;
  if (!serial && Object.keys(explicit).length === 0) return [...AUTO_SERIAL_SETTINGS];
  return [{ ...(serial ?? AUTO_SERIAL_SETTINGS[0]!), ...explicit }];
}

/**
 * Makes the source a `--source` value names.
 *
 * @param spec The parsed `--source` value.
 * @param options Format, serial overrides, replay and demo pacing.
 * @returns The source (nothing is opened yet).
 */
export function createSource(spec: SourceSpec, options: CreateSourceOptions = {}): ByteSource {
  switch (spec.kind) {
    case "serial":
      return new SerialSource({
        path: spec.path,
        settings: serialSettingsFor(options.format, options.serial),
      });
    case "tcp":
      return new TcpSource({ hostname: spec.hostname, port: spec.port });
    case "file":
      return new FileSource({
        path: spec.path,
        intervalSeconds: options.replayIntervalSeconds ?? 0,
        loop: options.replayLoop ?? false,
        ...(options.decrypting ? { split: splitCapture } : {}),
        ...(options.warn ? { warn: options.warn } : {}),
      });
    case "stdin":
      return new StdinSource();
    case "demo":
      return new DemoSource({ intervalMs: options.demoIntervalMs ?? 1000 });
  }
}
