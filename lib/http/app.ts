/**
 * createApp: the HTTP API as a Hono app built from its dependencies. Routes only read the
 * receiver's state and shape responses; `main.ts` alone binds a port.
 *
 * - `GET /`: the original product's first-generation JSON (204 before the first telegram).
 * - `GET /api`, `GET /api/raw`: its second generation (all keys null / 204 before the first).
 * - `GET /api/v1/telegram`, `/api/v1/telegram/raw`, `/api/v1/status`, `/healthz`, `/metrics`.
 *
 * @module
 */

import { Hono } from "hono";
import type { MetricsRegistry } from "../metrics/registry.ts";
import type { Output } from "../outputs/output.ts";
import type { PushStats } from "../push/pusher.ts";
import type { ShareStats } from "../share/share_server.ts";
import type { MqttStats } from "../mqtt/publisher.ts";
import type { P1Receiver } from "../receiver.ts";
import { type Logger, SILENT } from "../log.ts";
import { fullTelegram } from "../views/full.ts";
import type { History } from "../history.ts";
import { DASHBOARD_HTML } from "../ui/page.ts";
import { originalApi, originalFlat } from "../views/original.ts";

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
  /** The in-memory history for the dashboard (when the history database is off). */
  history?: History;
  /** Aborted when the service stops: event streams end. */
  closing?: AbortSignal;
  /** The `/metrics` registry. */
  metrics: MetricsRegistry;
  /** The reader's version. */
  version: string;
  /** When the service started (ms since the epoch). */
  startedAt: number;
  /** The DSMR reader push's stats, when it is on. */
  push?: () => PushStats;
  /** MQTT publishing's stats, when it is on. */
  mqtt?: () => MqttStats;
  /** Outputs that are on: each shows its status under its name and adds its routes. */
  outputs?: readonly Output[];
  /** The share server's stats, when it is on. */
  share?: () => ShareStats;
  /** Where unexpected errors are logged. */
  logger?: Logger;
  /** The clock. @default {Date.now} */
  now?: () => number;
}

function pushStatus(stats: PushStats | undefined, at: number) {
  if (!stats) return null;
  const { oldestQueuedAt, lastSuccessAt, queueWriteError, ...rest } = stats;
  return {
    ...rest,
    queueWriteError: queueWriteError ?? null,
    oldestQueuedAgeSeconds: oldestQueuedAt === undefined ? null : (at - oldestQueuedAt) / 1000,
    lastSuccessAt: lastSuccessAt === undefined ? null : new Date(lastSuccessAt).toISOString(),
  };
}

/** The status event of the stream: what the dashboard shows about the source. */
function streamStatus(deps: AppDependencies) {
  const { receiver } = deps;
  const counters = receiver.counters;
  return {
    state: receiver.state,
    source: receiver.source,
    staleAfterSeconds: receiver.staleAfterMs / 1000,
    lastTelegramAt: counters.lastTelegramAt === undefined
      ? null
      : new Date(counters.lastTelegramAt).toISOString(),
    lastError: counters.lastError ?? null,
  };
}

/** Most events waiting for one stream client; beyond that its events are dropped, not queued. */
const STREAM_QUEUE = 32;

/**
 * Server-sent events: the status at once and on every change, the latest telegram at once and
 * each new one, and a heartbeat every 15 s so that proxies keep the connection.
 */
function eventStream(deps: AppDependencies, now: () => number): Response {
  const encoder = new TextEncoder();
  let cleanup = () => {};
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      const send = (text: string) => {
        // A client that does not keep up loses events; the reader never waits for it.
        if ((controller.desiredSize ?? 0) > 0) controller.enqueue(encoder.encode(text));
      };
      const event = (name: string, data: unknown) =>
        send(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`);
      event("status", streamStatus(deps));
      if (deps.receiver.latest) event("telegram", fullTelegram(deps.receiver.latest));
      const unsubscribe = deps.receiver.subscribe((received) =>
        event("telegram", fullTelegram(received))
      );
      const unwatch = deps.receiver.onStateChange(() => event("status", streamStatus(deps)));
      const heartbeat = setInterval(
        () => send(`: heartbeat ${new Date(now()).toISOString()}\n\n`),
        15_000,
      );
      const close = () => {
        cleanup();
        try {
          controller.close();
        } catch {
          // Already closed by the client.
        }
      };
      deps.closing?.addEventListener("abort", close, { once: true });
      cleanup = () => {
        unsubscribe();
        unwatch();
        clearInterval(heartbeat);
        deps.closing?.removeEventListener("abort", close);
      };
    },
    cancel() {
      cleanup();
    },
  }, new CountQueuingStrategy({ highWaterMark: STREAM_QUEUE }));
  return new Response(body, {
    headers: {
      "content-type": "text/event-stream",
      "cache-control": "no-cache",
      "x-accel-buffering": "no",
    },
  });
}

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
  // First, so that an output's route (the history database's /api/v1/history) wins.
  for (const output of deps.outputs ?? []) output.routes?.(app);

  app.get("/", (c) => {
    // Browsers go to the dashboard; API clients keep getting the original's JSON.
    if (c.req.header("accept")?.includes("text/html")) return c.redirect("/ui", 302);
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
      dsmrReader: pushStatus(deps.push?.(), at),
      share: deps.share?.() ?? null,
      mqtt: deps.mqtt?.() ?? null,
      ...Object.fromEntries((deps.outputs ?? []).map((output) => {
        const stats = output.stats();
        return [output.name, output.status ? output.status(stats, at) : stats];
      })),
    });
  });

  app.get("/ui", (c) => c.html(DASHBOARD_HTML));

  app.get("/api/v1/history", (c) => {
    const text = c.req.query("minutes") ?? "60";
    const minutes = Number(text);
    if (!/^\d+$/.test(text) || minutes < 1 || minutes > 2880) {
      return c.json({
        error: "bad request",
        reason: `minutes must be a whole number from 1 to 2880, not "${text}"`,
      }, 400);
    }
    if (!deps.history) {
      return c.json({ error: "no history", reason: "this service keeps no history" }, 404);
    }
    return c.json(deps.history.query(minutes));
  });

  app.get("/api/v1/stream", () => eventStream(deps, now));

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

  app.notFound((c) => c.json({ error: "not found", path: new URL(c.req.url).pathname }, 404));
  app.onError((error, c) => {
    log.error("request failed", { path: new URL(c.req.url).pathname, error: error.message });
    return c.json({ error: "internal error" }, 500);
  });
  return app;
}
