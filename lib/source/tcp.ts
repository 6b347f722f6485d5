/**
 * A TCP peer that streams raw telegrams: ser2net (raw mode), network P1 dongles, or another
 * P1 reader's share port.
 *
 * @module
 */

import { type ByteSource, type ByteStream, SourceError } from "./source.ts";

/** Options for {@linkcode TcpSource}. */
export interface TcpSourceOptions {
  /** Host name or address. */
  hostname: string;
  /** TCP port. */
  port: number;
  /**
   * Give up a connection attempt after this long.
   * @default {10000}
   */
  connectTimeoutMs?: number;
}

/** A TCP connection as a {@linkcode ByteSource}. */
export class TcpSource implements ByteSource {
  /** Network peers reconnect when they come back. */
  readonly endless = true;
  readonly #options: TcpSourceOptions;

  /** Makes the source; nothing connects until {@linkcode TcpSource.open}. */
  constructor(options: TcpSourceOptions) {
    this.#options = options;
  }

  /** For example `tcp 192.0.2.7:2001`. */
  get description(): string {
    return `tcp ${this.#options.hostname}:${this.#options.port}`;
  }

  /** Connects. */
  async open(): Promise<ByteStream> {
    const { hostname, port } = this.#options;
    const attempt = Deno.connect({ hostname, port });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(new SourceError(`Cannot connect to ${hostname}:${port}: timed out`, "ETIMEDOUT")),
        this.#options.connectTimeoutMs ?? 10_000,
      );
    });
    try {
      const conn = await Promise.race([attempt, timeout]);
      conn.setKeepAlive(true);
      conn.setNoDelay(true);
      return new ConnectionStream(conn);
    } catch (error) {
      attempt.then((late) => late.close(), () => {});
      if (error instanceof SourceError) throw error;
      const code = error instanceof Deno.errors.ConnectionRefused ? "ECONNREFUSED" : "OTHER";
      throw new SourceError(
        `Cannot connect to ${hostname}:${port}: ${(error as Error).message}`,
        code,
      );
    } finally {
      clearTimeout(timer);
    }
  }
}

class ConnectionStream implements ByteStream {
  readonly warnings: readonly string[] = [];
  readonly #conn: Deno.TcpConn;
  readonly #buffer = new Uint8Array(16 * 1024);
  #closed = false;

  constructor(conn: Deno.TcpConn) {
    this.#conn = conn;
  }

  async read(): Promise<Uint8Array | null> {
    if (this.#closed) return null;
    let n: number | null;
    try {
      n = await this.#conn.read(this.#buffer);
    } catch (error) {
      if (this.#closed) return null;
      throw new SourceError(`Connection lost: ${(error as Error).message}`, "ECONNRESET");
    }
    if (n === null) return null;
    return this.#buffer.slice(0, n);
  }

  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      try {
        this.#conn.close();
      } catch {
        // Already closed by the peer: nothing left to release.
      }
    }
    return Promise.resolve();
  }
}
