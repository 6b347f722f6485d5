/**
 * createApp: the HTTP API as a Hono app built from its dependencies. Routes only read the
 * receiver's state and shape responses; `main.ts` alone binds a port.
 *
 * - `GET /`: the original product's first-generation JSON (204 before the first telegram).
 * - `GET /api`, `GET /api/raw`: its second generation (all keys null / 204 before the first).
 * - `GET /api/v1/telegram`, `/api/v1/telegram/raw`, `/api/v1/status`, `/healthz`, `/metrics`.
 * - `GET /ui` (the dashboard, its script and style).
 * - Every output's routes: the history's `/api/v1/history` and `/api/v1/usage`, the live stream's
 *   `/api/v1/stream`.
 *
 * `HEAD` works wherever `GET` does; another method on a known route answers 405 with `Allow`.
 * Every answer forbids MIME sniffing, inline script, other origins and framing by other sites.
 *
 * @module
 */

import { Hono } from "hono";
import type { MetricsRegistry } from "../metrics/registry.ts";
import type { Output } from "../outputs/output.ts";
import type { P1Receiver } from "../receiver.ts";
import { type Logger, SILENT } from "../log.ts";
import { fullTelegram } from "../views/full.ts";
import { DASHBOARD_CSS, DASHBOARD_HTML, DASHBOARD_SCRIPT } from "../ui/page.ts";
import { originalApi, originalFlat } from "../views/original.ts";
import type { ConnectionStats } from "./connection_guard.ts";

/** What the routes read. */
export interface AppDependencies {
  /** The receiver (only its read-only state is used). */
  receiver: Pick<
    P1Receiver,
    | "latest"
    | "state"
    | "counters"
    | "source"
    | "format"
    | "staleAfterMs"
    | "subscribe"
    | "onStateChange"
  >;
  /** The connection guard's stats, when one fronts the server. */
  connections?: () => ConnectionStats | undefined;
  /** The `/metrics` registry. */
  metrics: MetricsRegistry;
  /** The reader's version. */
  version: string;
  /** When the service started (ms since the epoch). */
  startedAt: number;
  /**
   * Outputs that are on: each shows its status under its name (`http.streams` nests it under
   * `http`) and adds its routes.
   */
  outputs?: readonly Output[];
  /** Outputs that are off and show `null` under their name in the status. */
  outputsOff?: readonly string[];
  /** Where unexpected errors are logged. */
  logger?: Logger;
  /** The clock. @default {Date.now} */
  now?: () => number;
}

/** The content type of an event stream, whose answer to HEAD is cancelled rather than read. */
const EVENT_STREAM = "text/event-stream";

/**
 * The outputs' parts of the status, under their names: `null` for those off that show it, then
 * those that are on; a name such as `http.streams` nests its part.
 */
function outputStatus(deps: AppDependencies, at: number): Record<string, unknown> {
  const status: Record<string, unknown> = {};
  const put = (name: string, value: unknown) => {
    const path = name.split(".");
    let section = status;
    for (const key of path.slice(0, -1)) {
      section = (section[key] ??= {}) as Record<string, unknown>;
    }
    section[path.at(-1)!] = value;
  };
  for (const name of deps.outputsOff ?? []) put(name, null);
  for (const output of deps.outputs ?? []) {
    const stats = output.stats();
    const shown = output.status ? output.status(stats, at) : stats;
    if (shown !== undefined) put(output.name, shown);
  }
  return status;
}

/**
 * Headers of every answer. The page's script and style are files of their own, so the policy
 * can forbid inline script: meter text that slipped into the page as markup would still not run.
 * Framing is left to the page's own origin, where a proxy such as Home Assistant's ingress puts it.
 */
const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy": "default-src 'none'; script-src 'self'; style-src 'self'; " +
    "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; " +
    "frame-ancestors 'self'",
  "x-content-type-options": "nosniff",
  "x-frame-options": "SAMEORIGIN",
  "referrer-policy": "no-referrer",
};

/** What every known route accepts. */
const ALLOW = "GET, HEAD";

/** The path routes match: lower case, without a trailing slash (except `/` itself). */
function matchPath(request: Request): string {
  const path = new URL(request.url).pathname.toLowerCase();
  return path.length > 1 && path.endsWith("/") ? path.replace(/\/+$/, "") || "/" : path;
}

const NO_TELEGRAM = {
  error: "no telegram yet",
  reason: "no valid telegram has been received since start",
};

/**
 * Builds the app.
 *
 * @param deps The receiver, the metrics registry and facts about the service.
 * @returns The Hono app; test it with `app.request("/path")`.
 */
export function createApp(deps: AppDependencies): Hono {
  const { receiver, metrics } = deps;
  const now = deps.now ?? Date.now;
  const log = deps.logger ?? SILENT;
  // Like the original (ASP.NET): paths match without regard to case or a trailing slash.
  const app = new Hono({ getPath: matchPath });
  // Registered before any route, so that it wraps every answer.
  app.use(async (c, next) => {
    await next();
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) c.res.headers.set(name, value);
    // Hono answers HEAD with GET's headers and drops the body unread. Read it here for its
    // length, or cancel an endless stream, so that nothing it holds outlives the request.
    if (c.req.method === "HEAD" && c.res.body) {
      if (c.res.headers.get("content-type") === EVENT_STREAM) {
        await c.res.body.cancel();
      } else {
        c.res.headers.set("content-length", String((await c.res.arrayBuffer()).byteLength));
      }
    }
  });

  // After the middleware, so that it wraps the outputs' answers too.
  for (const output of deps.outputs ?? []) output.routes?.(app);

  app.get("/", (c) => {
    // Browsers go to the dashboard; API clients keep getting the original's JSON. The target is
    // relative so that behind a proxy's path prefix (`/p1/`) the browser lands on `/p1/ui`.
    if (c.req.header("accept")?.includes("text/html")) return c.redirect("ui", 302);
    const latest = receiver.latest;
    return latest ? c.json(originalFlat(latest.telegram)) : c.body(null, 204);
  });

  app.get("/api", (c) => c.json(originalApi(receiver.latest?.telegram)));

  app.get("/api/raw", (c) => {
    const latest = receiver.latest;
    return latest ? c.json(latest.telegram.raw) : c.body(null, 204);
  });

  app.get("/api/v1/telegram", (c) => {
    const latest = receiver.latest;
    return latest ? c.json(fullTelegram(latest)) : c.json(NO_TELEGRAM, 503);
  });

  app.get("/api/v1/telegram/raw", (c) => {
    const latest = receiver.latest;
    if (!latest) return c.json(NO_TELEGRAM, 503);
    c.header("Content-Type", "text/plain; charset=iso-8859-1");
    return c.body(latest.bytes.slice().buffer);
  });

  app.get("/api/v1/status", (c) => {
    const counters = receiver.counters;
    const at = now();
    const { lastTelegramAt, lastRejection, ...rest } = counters;
    const { http, ...outputs } = outputStatus(deps, at);
    return c.json({
      version: deps.version,
      source: receiver.source,
      state: receiver.state,
      format: { configured: receiver.format, detected: receiver.latest?.telegram.format ?? null },
      uptimeSeconds: Math.round((at - deps.startedAt) / 1000),
      staleAfterSeconds: receiver.staleAfterMs / 1000,
      lastTelegramAt: lastTelegramAt === undefined ? null : new Date(lastTelegramAt).toISOString(),
      lastTelegramAgeSeconds: lastTelegramAt === undefined ? null : (at - lastTelegramAt) / 1000,
      counters: rest,
      lastRejection: lastRejection
        ? { at: new Date(lastRejection.at).toISOString(), reason: lastRejection.reason }
        : null,
      ...outputs,
      http: {
        ...(http as Record<string, unknown> | undefined),
        connections: deps.connections?.() ?? null,
      },
    });
  });

  app.get("/ui", (c) => {
    // The page's links are relative (it works behind a proxy's path prefix), so `/ui/` would
    // load `/ui/ui/app.js`: send such a browser to `/ui`.
    if (new URL(c.req.url).pathname.endsWith("/")) return c.redirect("../ui", 301);
    return c.html(DASHBOARD_HTML);
  });
  app.get("/ui/app.js", (c) => {
    c.header("Cache-Control", "no-cache");
    c.header("Content-Type", "text/javascript; charset=utf-8");
    return c.body(DASHBOARD_SCRIPT);
  });
  app.get("/ui/app.css", (c) => {
    c.header("Cache-Control", "no-cache");
    c.header("Content-Type", "text/css; charset=utf-8");
    return c.body(DASHBOARD_CSS);
  });

  app.get("/healthz", (c) => {
    const latest = receiver.latest;
    const limit = receiver.staleAfterMs;
    if (!latest) {
      return c.json({
        status: "unhealthy",
        reason: "no valid telegram received yet",
        state: receiver.state,
      }, 503);
    }
    const age = now() - latest.receivedAt;
    if (age > limit) {
      return c.json({
        status: "unhealthy",
        reason: `no valid telegram for ${Math.round(age / 1000)} s (stale after ${limit / 1000} s)`,
        state: receiver.state,
      }, 503);
    }
    return c.json({ status: "ok", lastTelegramAgeSeconds: age / 1000 });
  });

  app.get("/metrics", async (c) => {
    const { body, contentType } = await metrics.render(c.req.header("accept"));
    c.header("Content-Type", contentType);
    return c.body(body);
  });

  const known = new Set(app.routes.filter((r) => r.method === "GET").map((r) => r.path));
  app.notFound((c) => {
    const path = new URL(c.req.url).pathname;
    if (!known.has(matchPath(c.req.raw))) return c.json({ error: "not found", path }, 404);
    c.header("Allow", ALLOW);
    if (c.req.method === "OPTIONS") return c.body(null, 204);
    return c.json({
      error: "method not allowed",
      reason: `${c.req.method} is not allowed on ${path}: use ${ALLOW}`,
    }, 405);
  });
  app.onError((error, c) => {
    log.error("request failed", { path: new URL(c.req.url).pathname, error: error.message });
    return c.json({ error: "internal error" }, 500);
  });
  return app;
}
