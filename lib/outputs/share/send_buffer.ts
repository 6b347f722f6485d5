/**
 * Bounds how much the kernel queues for each client of the share port. Linux grows a TCP
 * connection's send buffer up to `tcp_wmem`'s maximum (4 MiB by default) while the peer reads
 * nothing, and a write completes as soon as the kernel has queued it: a stuck client looks healthy
 * until 4 MiB wait for it, which at one telegram a second takes about an hour. Deno cannot set
 * `SO_SNDBUF`, so it is set through libc on the listening socket, whose accepted connections
 * inherit it (with the growth turned off). The socket is found among the process's descriptors by
 * its address, as `getsockname` reports it.
 *
 * @module
 */

import { parseAddress } from "./cidr.ts";

/** Linux's socket constants (the same on x86_64, aarch64 and arm). */
const SOL_SOCKET = 1;
const SO_SNDBUF = 7;
const SO_ACCEPTCONN = 30;
const AF_INET = 2;
const AF_INET6 = 10;

/** Descriptors looked at; a process with a listener above this has bigger problems. */
const MAX_DESCRIPTOR = 65_536;

const SYMBOLS = {
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  getsockopt: { parameters: ["i32", "i32", "i32", "buffer", "buffer"], result: "i32" },
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
} as const;

type Sockets = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/** The address and port a `struct sockaddr_in`/`sockaddr_in6` holds, as numbers. */
function boundAddress(
  sockaddr: Uint8Array,
): { family: 4 | 6; value: bigint; port: number } | undefined {
  const view = new DataView(sockaddr.buffer, sockaddr.byteOffset, sockaddr.byteLength);
  const family = view.getUint16(0, true);
  const port = view.getUint16(2, false);
  if (family !== AF_INET && family !== AF_INET6) return undefined;
  const bytes = family === AF_INET ? sockaddr.subarray(4, 8) : sockaddr.subarray(8, 24);
  const value = bytes.reduce((sum, byte) => (sum << 8n) | BigInt(byte), 0n);
  return { family: family === AF_INET ? 4 : 6, value, port };
}

/** The descriptor of the listening socket bound to `addr`, if this process has one. */
function findListener(sockets: Sockets, addr: Deno.NetAddr): number | undefined {
  const wanted = parseAddress(addr.hostname);
  if (wanted === undefined) return undefined;
  const sockaddr = new Uint8Array(128);
  const length = new Uint32Array(1);
  const flag = new Int32Array(1);
  const flagLength = new Uint32Array(1);
  for (let fd = 0; fd < MAX_DESCRIPTOR; fd++) {
    length[0] = sockaddr.length;
    if (sockets.getsockname(fd, sockaddr, new Uint8Array(length.buffer)) !== 0) continue;
    const bound = boundAddress(sockaddr);
    if (
      bound === undefined || bound.port !== addr.port || bound.family !== wanted.family ||
      bound.value !== wanted.value
    ) {
      continue;
    }
    flagLength[0] = 4;
    const listening = sockets.getsockopt(
          fd,
          SOL_SOCKET,
          SO_ACCEPTCONN,
          new Uint8Array(flag.buffer),
          new Uint8Array(flagLength.buffer),
        ) === 0 && flag[0] === 1;
    if (listening) return fd;
  }
  return undefined;
}

/**
 * Sets the kernel's send buffer of every connection `listener` accepts from now on.
 *
 * @param listener A TCP listener of this process.
 * @param bytes The size to ask for (Linux doubles it, for its own bookkeeping).
 * @returns `undefined` when it is set, else why not (not Linux, no `--allow-ffi`, no libc).
 */
export function limitSendBuffer(listener: Deno.TcpListener, bytes: number): string | undefined {
  if (Deno.build.os !== "linux") return `not on ${Deno.build.os}`;
  let library: Deno.DynamicLibrary<typeof SYMBOLS>;
  try {
    library = Deno.dlopen("libc.so.6", SYMBOLS);
  } catch (error) {
    return (error as Error).message;
  }
  try {
    const fd = findListener(library.symbols, listener.addr as Deno.NetAddr);
    if (fd === undefined) return "its socket was not found";
    const size = new Int32Array([bytes]);
    if (
      library.symbols.setsockopt(fd, SOL_SOCKET, SO_SNDBUF, new Uint8Array(size.buffer), 4) !== 0
    ) {
      return "setsockopt(SO_SNDBUF) failed";
    }
    return undefined;
  } finally {
    library.close();
  }
}
