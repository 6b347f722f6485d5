/**
 * The byte sources, as the library's `./sources` entry: a serial port (through FFI termios), a TCP
 * peer (ser2net, network P1 dongles), a file or standard input, and a demo meter; and
 * {@linkcode createSource}, which makes the one a `--source` value names. Sources only produce
 * bytes; `P1Receiver` frames and parses them.
 *
 * @example Replaying a capture as fast as it reads
 * ```ts ignore
 * import { createSource, parseSourceSpec } from "@kingtech/p1reader/sources";
 *
 * const source = createSource(parseSourceSpec("file:capture.txt"), { format: "dsmr50" });
 * const stream = await source.open();
 * for (let chunk = await stream.read(); chunk !== null; chunk = await stream.read()) {
 *   console.log(chunk.length);
 * }
 * await stream.close();
 * ```
 *
 * @module
 */

export {
  AUTO_SERIAL_SETTINGS,
  createSource,
  type CreateSourceOptions,
  serialSettingsFor,
} from "./create.ts";
export { DemoMeter, type DemoOptions, DemoSource } from "./demo.ts";
export { FileSource, type FileSourceOptions, StdinSource } from "./file.ts";
export { describeSettings, SerialSource, type SerialSourceOptions } from "./serial.ts";
export {
  type ByteSource,
  type ByteStream,
  parseSourceSpec,
  SourceError,
  type SourceSpec,
} from "./source.ts";
export { TcpSource, type TcpSourceOptions } from "./tcp.ts";
