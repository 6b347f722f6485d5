/**
 * A test server that answers like DSMR reader 5's datalogger API (ECOSYSTEM.md section 1.2/1.3):
 * `Authorization: Token <key>` or `X-AUTHKEY`, the form field `telegram` (v1) or JSON fields (v2),
 * 201 on success (duplicates stored as separate rows), 400 invalid data, 403 bad key, 405 API
 * disabled, 500 "Failed to parse telegram" for a bad CRC, and an HTML 500 for LF-only telegrams.
 *
 * @module
 */

import { ChecksumError } from "../../lib/dsmr/errors.ts";
import { parseTelegram } from "../../lib/dsmr/parse.ts";

/** One stored reading. */
export interface StoredReading {
  /** The telegram of a v1 push. */
  telegram?: string;
  /** The fields of a v2 push. */
  fields?: Record<string, unknown>;
}

/** Options of the fake. */
export interface FakeOptions {
  /** The API key it accepts. */
  key?: string;
  /** A path prefix (DSMR reader behind a reverse proxy). */
  prefix?: string;
  /** The port (0: a free one). */
  port?: number;
}

const REQUIRED_V2 = [
  "timestamp",
  "electricity_delivered_1",
  "electricity_returned_1",
  "electricity_delivered_2",
  "electricity_returned_2",
  "electricity_currently_delivered",
  "electricity_currently_returned",
];

/** The fake DSMR reader. */
export class FakeDsmrReader {
  /** Rows stored, in arrival order. */
  readonly readings: StoredReading[] = [];
  /** Every request seen (method, path, status). */
  readonly requests: { path: string; status: number }[] = [];
  /** Answer 405 "API is disabled". */
  disabled = false;
  /** Wait this long before answering. */
  delayMs = 0;
  /** Answer every push with this status (a server error, say), storing nothing; 0: answer normally. */
  failStatus = 0;
  /** Telegrams for which to answer 500 "Failed to parse telegram" although their CRC is right. */
  refuse: (telegram: string) => boolean = () => false;
  readonly key: string;
  readonly prefix: string;
  #server: Deno.HttpServer<Deno.NetAddr> | undefined;
  #port: number;

  constructor(options: FakeOptions = {}) {
    this.key = options.key ?? "TESTKEY0123456789";
    this.prefix = options.prefix ?? "";
    this.#port = options.port ?? 0;
  }

  /** The base URL to configure (with the prefix). */
  get url(): string {
    return `http://127.0.0.1:${this.#port}${this.prefix}`;
  }

  /** The port it listens on (kept across restarts). */
  get port(): number {
    return this.#port;
  }

  /** Starts listening. */
  start(): this {
    this.#server = Deno.serve(
      { hostname: "127.0.0.1", port: this.#port, onListen() {} },
      (request) => this.#handle(request),
    );
    this.#port = this.#server.addr.port;
    return this;
  }

  /** Stops listening (DSMR reader is down). */
  async stop(): Promise<void> {
    await this.#server?.shutdown();
    this.#server = undefined;
  }

  async #handle(request: Request): Promise<Response> {
    const path = new URL(request.url).pathname;
    let response: Response;
    try {
      response = await this.#answer(request, path);
    } catch (error) {
      // The client went away before its body was read (killed, or it timed out): nothing stored.
      if (!(error instanceof Deno.errors.BadResource)) throw error;
      response = new Response(null, { status: 499 });
    }
    this.requests.push({ path, status: response.status });
    return response;
  }

  async #answer(request: Request, path: string): Promise<Response> {
    if (this.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, this.delayMs));
    const version = path === `${this.prefix}/api/v1/datalogger/dsmrreading`
      ? "v1"
      : path === `${this.prefix}/api/v2/datalogger/dsmrreading`
      ? "v2"
      : undefined;
    const html = { "content-type": "text/html; charset=utf-8" };
    if (!version) return new Response("Not Found", { status: 404, headers: html });
    if (request.method !== "POST") return new Response(null, { status: 405 });
    if (this.failStatus > 0) {
      return new Response("<h1>Server Error</h1>", { status: this.failStatus, headers: html });
    }
    if (this.disabled) return new Response("API is disabled", { status: 405, headers: html });
    const auth = request.headers.get("authorization");
    if (request.headers.get("x-authkey") !== this.key && auth !== `Token ${this.key}`) {
      return version === "v1"
        ? new Response("Invalid auth key", { status: 403, headers: html })
        : Response.json({ detail: "Invalid auth key" }, { status: 403 });
    }
    if (version === "v1") {
      let telegram: string | null = null;
      const type = request.headers.get("content-type") ?? "";
      if (
        type.startsWith("application/x-www-form-urlencoded") ||
        type.startsWith("multipart/form-data")
      ) {
        telegram = (await request.formData()).get("telegram") as string | null;
      }
      if (!telegram) return new Response("Invalid data", { status: 400, headers: html });
      try {
        parseTelegram(telegram.replaceAll("\0", ""));
      } catch (error) {
        if (error instanceof ChecksumError || error instanceof SyntaxError) {
          return new Response("Failed to parse telegram", { status: 500, headers: html });
        }
        throw error;
      }
      if (!telegram.includes("\r\n")) {
        return new Response("<h1>Server Error (500)</h1>", { status: 500, headers: html });
      }
      if (this.refuse(telegram)) {
        return new Response("Failed to parse telegram", { status: 500, headers: html });
      }
      this.readings.push({ telegram });
      return new Response(null, { status: 201 });
    }
    let fields: Record<string, unknown>;
    try {
      fields = await request.json();
    } catch {
      return Response.json({ detail: "JSON parse error" }, { status: 400 });
    }
    const errors: Record<string, string[]> = {};
    for (const name of REQUIRED_V2) {
      if (fields[name] === undefined) errors[name] = ["This field is required."];
    }
    for (const [name, value] of Object.entries(fields)) {
      if (typeof value === "string" && /^\d+\.\d{4,}$/.test(value)) {
        errors[name] = ["Ensure that there are no more than 3 decimal places."];
      }
    }
    if (Object.keys(errors).length > 0) return Response.json(errors, { status: 400 });
    this.readings.push({ fields });
    return Response.json(fields, { status: 201 });
  }
}
