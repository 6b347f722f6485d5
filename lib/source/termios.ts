/**
 * The libc calls and termios bits the serial source needs, through Deno FFI (no native addon).
 * Constants and the `struct termios` layout are glibc's for Linux x86_64 and aarch64, which use
 * the same generic layout: c_iflag, c_oflag, c_cflag, c_lflag as u32 at 0, 4, 8, 12, c_cc at 17,
 * c_ispeed and c_ospeed at 52 and 56, 60 bytes in all.
 *
 * The speed is written into c_cflag's CBAUD bits and c_ispeed/c_ospeed directly rather than with
 * `cfset*speed`: glibc 2.42 re-versioned those to take plain numbers, and `dlsym` binds the newest
 * version, so the same call would mean different speeds on different systems.
 *
 * @module
 */

import type { SerialSettings } from "../dsmr/formats.ts";

/** Size of glibc's `struct termios`. */
export const TERMIOS_SIZE = 60;

/** termios and fcntl constants (asm-generic, as used by x86_64 and aarch64). */
export const T = {
  CBAUD: 0o10017,
  CIBAUD: 0o2003600000,
  CSIZE: 0o60,
  CS7: 0o40,
  CS8: 0o60,
  CSTOPB: 0o100,
  CREAD: 0o200,
  PARENB: 0o400,
  PARODD: 0o1000,
  CLOCAL: 0o4000,
  CRTSCTS: 0o20000000000,
  INPCK: 0o20,
  ISTRIP: 0o40,
  IXON: 0o2000,
  IXANY: 0o4000,
  IXOFF: 0o10000,
  VTIME: 5,
  VMIN: 6,
  TCSANOW: 0,
  TCIOFLUSH: 2,
  O_RDWR: 0o2,
  O_NOCTTY: 0o400,
  O_CLOEXEC: 0o2000000,
  EACCES: 13,
  ENOENT: 2,
  EIO: 5,
} as const;

/** The B-codes of the supported speeds. */
export const BAUD_CODES: Readonly<Record<number, number>> = {
  1200: 0o11,
  2400: 0o13,
  4800: 0o14,
  9600: 0o15,
  19200: 0o16,
  38400: 0o17,
  57600: 0o10001,
  115200: 0o10002,
  230400: 0o10003,
};

/** The fields of `struct termios` this reader sets. */
export interface TermiosFields {
  /** Input flags. */
  iflag: number;
  /** Control flags. */
  cflag: number;
  /** Input speed as stored by glibc. */
  ispeed: number;
  /** Output speed as stored by glibc. */
  ospeed: number;
  /** `c_cc[VMIN]`. */
  vmin: number;
  /** `c_cc[VTIME]` in tenths of a second. */
  vtime: number;
}

/**
 * Reads the fields this reader cares about from a `struct termios` buffer.
 *
 * @param buffer A 60-byte buffer filled by `tcgetattr`.
 * @returns The fields.
 */
export function readTermios(buffer: Uint8Array): TermiosFields {
  const view = new DataView(buffer.buffer, buffer.byteOffset, TERMIOS_SIZE);
  return {
    iflag: view.getUint32(0, true),
    cflag: view.getUint32(8, true),
    ispeed: view.getUint32(52, true),
    ospeed: view.getUint32(56, true),
    vmin: buffer[17 + T.VMIN]!,
    vtime: buffer[17 + T.VTIME]!,
  };
}

/**
 * Applies line settings to a `struct termios` buffer that `cfmakeraw` already made raw: speed,
 * data bits, parity, stop bits, no flow control, and reads that return after `vtime` tenths of a
 * second of silence.
 *
 * @param buffer The 60-byte buffer, changed in place.
 * @param settings The line settings.
 * @param vtime Read timeout in tenths of a second (`VMIN` is 0).
 * @returns The fields as requested, for comparing with what the driver accepted.
 * @throws {RangeError} For a baud rate with no B-code.
 */
export function applySettings(
  buffer: Uint8Array,
  settings: SerialSettings,
  vtime: number,
): TermiosFields {
  const code = BAUD_CODES[settings.baudRate];
  if (code === undefined) {
    throw new RangeError(
      `Cannot set ${settings.baudRate} baud: expected one of ${Object.keys(BAUD_CODES).join(", ")}`,
    );
  }
  const view = new DataView(buffer.buffer, buffer.byteOffset, TERMIOS_SIZE);
  let iflag = view.getUint32(0, true) & ~(T.IXON | T.IXOFF | T.IXANY | T.INPCK | T.ISTRIP);
  let cflag = (view.getUint32(8, true) &
    ~(T.CBAUD | T.CIBAUD | T.CSIZE | T.PARENB | T.PARODD | T.CSTOPB | T.CRTSCTS)) >>> 0;
  cflag |= code | T.CREAD | T.CLOCAL | (settings.dataBits === 7 ? T.CS7 : T.CS8);
  if (settings.parity !== "none") {
    cflag |= T.PARENB | (settings.parity === "odd" ? T.PARODD : 0);
    iflag |= T.INPCK | T.ISTRIP;
  }
  if (settings.stopBits === 2) cflag |= T.CSTOPB;
  view.setUint32(0, iflag >>> 0, true);
  view.setUint32(8, cflag >>> 0, true);
  // glibc before 2.42 keeps the B-code here, 2.42 and later the number; both derive the real
  // speed from c_cflag, and tcsetattr canonicalises these.
  view.setUint32(52, code, true);
  view.setUint32(56, code, true);
  buffer[17 + T.VMIN] = 0;
  buffer[17 + T.VTIME] = vtime;
  return readTermios(buffer);
}

/**
 * Compares requested and actual settings, naming each line setting the driver did not take.
 *
 * @param requested What {@linkcode applySettings} asked for.
 * @param actual What `tcgetattr` read back.
 * @returns Human-readable differences (empty when everything took).
 */
export function settingsMismatch(requested: TermiosFields, actual: TermiosFields): string[] {
  const problems: string[] = [];
  const check = (mask: number, what: string) => {
    if ((requested.cflag & mask) !== (actual.cflag & mask)) {
      problems.push(
        `${what}: requested 0o${(requested.cflag & mask).toString(8)}, got 0o${
          (actual.cflag & mask).toString(8)
        }`,
      );
    }
  };
  check(T.CBAUD, "speed");
  check(T.CSIZE, "data bits");
  check(T.PARENB | T.PARODD, "parity");
  check(T.CSTOPB, "stop bits");
  return problems;
}

const SYMBOLS = {
  open: { parameters: ["buffer", "i32", "u32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  read: { parameters: ["i32", "buffer", "usize"], result: "isize", nonblocking: true },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize" },
  isatty: { parameters: ["i32"], result: "i32" },
  tcgetattr: { parameters: ["i32", "buffer"], result: "i32" },
  tcsetattr: { parameters: ["i32", "i32", "buffer"], result: "i32" },
  tcflush: { parameters: ["i32", "i32"], result: "i32" },
  cfmakeraw: { parameters: ["buffer"], result: "void" },
  getuid: { parameters: [], result: "u32" },
  getgid: { parameters: [], result: "u32" },
  getgroups: { parameters: ["i32", "buffer"], result: "i32" },
  stat: { parameters: ["buffer", "buffer"], result: "i32" },
  strerror: { parameters: ["i32"], result: "pointer" },
  __errno_location: { parameters: [], result: "pointer" },
} as const;

/** The bound libc symbols. */
export type Libc = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

let library: Deno.DynamicLibrary<typeof SYMBOLS> | undefined;

/**
 * Opens libc once (Linux x86_64 and aarch64 only).
 *
 * @returns The bound symbols.
 * @throws {Error} On other platforms, saying which are supported.
 */
export function libc(): Libc {
  if (library) return library.symbols;
  if (Deno.build.os !== "linux" || !["x86_64", "aarch64"].includes(Deno.build.arch)) {
    throw new Error(
      `Serial ports are supported on Linux x86_64 and aarch64, not ${Deno.build.os} ${Deno.build.arch}; ` +
        "use a tcp:// source (ser2net or a network P1 dongle) instead",
    );
  }
  library = Deno.dlopen("libc.so.6", SYMBOLS);
  return library.symbols;
}

/** `errno` of the last failed libc call on this thread (read it right after the call). */
export function errno(): number {
  const pointer = libc().__errno_location();
  return pointer === null ? 0 : new Deno.UnsafePointerView(pointer).getInt32();
}

/** The C library's message for an errno value, e.g. "No such file or directory". */
export function describeErrno(code: number): string {
  const pointer = libc().strerror(code);
  return pointer === null ? `errno ${code}` : new Deno.UnsafePointerView(pointer).getCString();
}

/** A NUL-terminated C string for a path. */
export function cString(text: string): Uint8Array<ArrayBuffer> {
  const bytes = new TextEncoder().encode(`${text}\0`);
  return new Uint8Array(bytes);
}

/**
 * Who this process is, and which group owns a device: what a user needs to fix EACCES.
 *
 * @param path The device path.
 * @returns uid, gid, supplementary groups and the device's group id (when it can be read).
 */
export function permissionFacts(
  path: string,
): { uid: number; gid: number; groups: number[]; deviceGid?: number } {
  const c = libc();
  const count = c.getgroups(0, null);
  const list = new Uint32Array(Math.max(count, 0));
  if (count > 0) c.getgroups(count, new Uint8Array(list.buffer));
  const facts: { uid: number; gid: number; groups: number[]; deviceGid?: number } = {
    uid: c.getuid(),
    gid: c.getgid(),
    groups: [...list],
  };
  // struct stat: st_gid is at 32 on x86_64 and at 28 on aarch64's generic layout.
  const buffer = new Uint8Array(256);
  if (c.stat(cString(path), buffer) === 0) {
    const offset = Deno.build.arch === "x86_64" ? 32 : 28;
    facts.deviceGid = new DataView(buffer.buffer).getUint32(offset, true);
  }
  return facts;
}
