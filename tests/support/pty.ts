/**
 * Pseudo-terminals made through FFI (posix_openpt, grantpt, unlockpt, ptsname_r): the test holds
 * the master side and plays the meter; the code under test opens the slave path as its serial
 * device. Closing the master is an unplug: reads on the slave fail with EIO.
 *
 * @module
 */

const libc = Deno.dlopen("libc.so.6", {
  posix_openpt: { parameters: ["i32"], result: "i32" },
  grantpt: { parameters: ["i32"], result: "i32" },
  unlockpt: { parameters: ["i32"], result: "i32" },
  ptsname_r: { parameters: ["i32", "buffer", "usize"], result: "i32" },
  write: { parameters: ["i32", "buffer", "usize"], result: "isize", nonblocking: true },
  close: { parameters: ["i32"], result: "i32" },
});

const O_RDWR = 0o2;
const O_NOCTTY = 0o400;
const O_CLOEXEC = 0o2000000;

/** A pseudo-terminal pair: write into {@linkcode Pty.write}, read at {@linkcode Pty.path}. */
export class Pty {
  /** The slave device path, e.g. `/dev/pts/7`. */
  readonly path: string;
  readonly #fd: number;
  #closed = false;

  private constructor(fd: number, path: string) {
    this.#fd = fd;
    this.path = path;
  }

  /** Opens a new pair. */
  static open(): Pty {
    const fd = libc.symbols.posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) throw new Error("posix_openpt failed");
    if (libc.symbols.grantpt(fd) !== 0 || libc.symbols.unlockpt(fd) !== 0) {
      throw new Error("grantpt/unlockpt failed");
    }
    const name = new Uint8Array(128);
    if (libc.symbols.ptsname_r(fd, name, 128n) !== 0) throw new Error("ptsname_r failed");
    return new Pty(fd, new TextDecoder().decode(name.subarray(0, name.indexOf(0))));
  }

  /** Writes bytes as the meter would send them. */
  async write(bytes: Uint8Array): Promise<void> {
    let at = 0;
    while (at < bytes.length) {
      const rest = bytes.slice(at);
      const n = Number(await libc.symbols.write(this.#fd, rest, BigInt(rest.length)));
      if (n <= 0) throw new Error("write to pty master failed");
      at += n;
    }
  }

  /** Closes the master: the slave side hangs up (the cable is unplugged). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    libc.symbols.close(this.#fd);
  }
}

/** Runs `stty -a -F path` and returns its output. */
export async function sttyAll(path: string): Promise<string> {
  const { stdout, success } = await new Deno.Command("stty", {
    args: ["-a", "-F", path],
    stdout: "piped",
  }).output();
  if (!success) throw new Error(`stty -a -F ${path} failed`);
  return new TextDecoder().decode(stdout);
}
