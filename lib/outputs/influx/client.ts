/**
 * Writing line protocol over HTTP: the request for InfluxDB 1.x's `/write` or 2.x's
 * `/api/v2/write` (VictoriaMetrics answers both), and what each answer means for the points.
 *
 * @module
 */

import { basicAuthorization, splitCredentials } from "../credentials.ts";

/** Where and how to write. */
export type InfluxTarget =
  | {
    /** InfluxDB 1.x: `/write?db=...`. */
    api: "v1";
    /** Base URL, e.g. `http://127.0.0.1:8086` (a path prefix is kept; a user:password@ is sent as Basic). */
    url: string;
    /** The database. */
    db: string;
    /** User name and password (Basic authentication). */
    username?: string | undefined;
    password?: string | undefined;
    /** A token, as InfluxDB 2's 1.x compatibility API takes it. */
    token?: string | undefined;
  }
  | {
    /** InfluxDB 2.x: `/api/v2/write?org=...&bucket=...`. */
    api: "v2";
    /** Base URL. */
    url: string;
    /** The organisation. */
    org: string;
    /** The bucket. */
    bucket: string;
    /** The API token, sent as `Authorization: Token ...`. */
    token?: string | undefined;
  };

/** What an answer means: written, refused for good, needs the user, or try again later. */
export type WriteOutcome = "written" | "refused" | "paused" | "retry";

/**
 * The write request for a body of lines.
 *
 * @param target Where.
 * @param body Lines of line protocol, separated by `\n`.
 * @returns URL and request options (POST; the URL never carries credentials).
 *
 * @example
 * ```ts
 * import { writeRequest } from "./client.ts";
 * import assert from "node:assert/strict";
 * const { url, init } = writeRequest(
 *   { api: "v2", url: "http://localhost:8086", org: "home", bucket: "p1", token: "T" },
 *   "m f=1 1",
 * );
 * assert.equal(url, "http://localhost:8086/api/v2/write?org=home&bucket=p1&precision=s");
 * assert.equal((init.headers as Record<string, string>).Authorization, "Token T");
 * ```
 */
export function writeRequest(
  target: InfluxTarget,
  body: string,
): { url: string; init: RequestInit } {
  const { base, basic } = splitCredentials(target.url);
  const headers: Record<string, string> = { "Content-Type": "text/plain; charset=utf-8" };
  let query: URLSearchParams;
  if (target.api === "v1") {
    query = new URLSearchParams({ db: target.db, precision: "s" });
    if (target.username !== undefined) {
      headers.Authorization = basicAuthorization(target.username, target.password ?? "");
    }
  } else {
    query = new URLSearchParams({ org: target.org, bucket: target.bucket, precision: "s" });
  }
  if (basic !== undefined) headers.Authorization = basic;
  if (target.token !== undefined) headers.Authorization = `Token ${target.token}`;
  const path = target.api === "v1" ? "/write" : "/api/v2/write";
  return {
    url: `${base.replace(/\/+$/, "")}${path}?${query}`,
    init: { method: "POST", headers, body, redirect: "manual" },
  };
}

/**
 * What an answer means. 2xx: written. 400 (a line it cannot parse, a field of another type) and
 * 413 (too large), 422 (InfluxDB 2: outside the retention): refused, about these points, for
 * good. 401/403 (credentials), 404 (no such database or bucket), a redirect and other 4xx: the
 * user must act. 429, 5xx: try again later.
 *
 * @param status The HTTP status.
 * @returns The outcome.
 */
export function classifyWrite(status: number): WriteOutcome {
  if (status >= 200 && status < 300) return "written";
  if (status === 400 || status === 413 || status === 422) return "refused";
  if (status === 429 || status >= 500) return "retry";
  return "paused";
}

/**
 * How long a `Retry-After` header asks to wait, in milliseconds.
 *
 * @param header Its value: seconds, or an HTTP date.
 * @param now The clock.
 * @returns The wait, or `undefined` without a usable header.
 */
export function retryAfterMs(header: string | null, now: number = Date.now()): number | undefined {
  if (header === null) return undefined;
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
