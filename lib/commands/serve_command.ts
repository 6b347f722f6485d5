/**
 * `p1reader serve` (the default command): reads the meter and serves the JSON API, `/metrics`
 * and `/healthz`; SIGTERM/SIGINT stop it cleanly.
 *
 * @module
 */

import { type Config, ConfigError, configHelp, parseConfig } from "../config.ts";
import { ConnectionGuard } from "../http/connection_guard.ts";
import { SlowClientError } from "../http/streams.ts";
import { createLogger, type Logger } from "../log.ts";
import { OutputStartError } from "../outputs/output.ts";
import { createService } from "../service.ts";
import { VERSION } from "../version.ts";
import type { CommandIo } from "./parse_command.ts";

/** Usage text of `serve`, from the option table. */
export function serveUsage(): string {
  return `Usage: p1reader [serve] [options]

Reads the meter and serves the dashboard (/ui), GET / (the original JSON), /api, /api/raw,
/api/v1/telegram, /api/v1/telegram/raw, /api/v1/status, /api/v1/stream (live events),
/api/v1/history, /api/v1/usage (and usage.csv), /healthz and /metrics.

${configHelp()}`;
}

function listenUrls(hostname: string, port: number): string {
  const host = hostname === "0.0.0.0" || hostname === "::"
    ? "localhost"
    : hostname.includes(":")
    ? `[${hostname}]`
    : hostname;
  const base = `http://${host}:${port}`;
  return `${base}/ui (dashboard), ${base}/ (JSON), ${base}/api/v1/telegram, ${base}/api/v1/status, ${base}/metrics, ${base}/healthz`;
}

/** Starts the service; resolves with the exit status once it has stopped. */
export async function runServe(
  args: string[],
  io: CommandIo,
  env: Record<string, string>,
): Promise<number> {
  let config: Config | "help";
  try {
    config = parseConfig({ args, env });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    io.stderr(`p1reader: ${error.message}\n(p1reader --help lists every option)\n`);
    return 2;
  }
  if (config === "help") {
    io.stdout(serveUsage());
    return 0;
  }
  const logger: Logger = createLogger({ level: config.logLevel, format: config.logFormat });
  for (const warning of config.warnings) logger.warn(warning);
  // Assigned once the port is open, before any request can read it.
  let guard: ConnectionGuard | undefined;
  const service = createService(config, { logger, connections: () => guard?.stats });
  logger.info(`p1reader ${VERSION} starting`, {
    source: service.receiver.source,
    format: config.format.name,
    ...(config.decryption ? { decrypting: "Smarty frames" } : {}),
  });
  try {
    await service.start();
  } catch (error) {
    if (!(error instanceof OutputStartError)) throw error;
    await service.stop();
    io.stderr(`p1reader: ${error.message}\n`);
    return 2;
  }

  // The HTTP server listens on loopback only; the guard owns the public port and bounds the
  // connections that Deno.serve alone would keep for ever (see connection_guard.ts).
  let server: Deno.HttpServer<Deno.NetAddr> | undefined;
  try {
    server = Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      onListen: () => {},
      // Routes' errors are the app's (a 500 and a log line); what reaches here is a response
      // body that failed after its headers were sent.
      onError: (error) => {
        if (!(error instanceof SlowClientError)) {
          logger.error("a response failed", { error: (error as Error).message });
        }
        return new Response(null, { status: 500 });
      },
    }, service.app.fetch);
    guard = ConnectionGuard.listen({
      hostname: config.host,
      port: config.port,
      upstream: server.addr,
      logger,
    });
  } catch (error) {
    await Promise.all([server?.shutdown(), service.stop()]);
    io.stderr(
      `p1reader: cannot listen on ${config.host}:${config.port}: ${(error as Error).message}\n`,
    );
    return 2;
  }
  const http = server;
  const open = guard;
  logger.info(`listening on ${listenUrls(open.addr.hostname, open.addr.port)}`);

  let stopping: Promise<void> | undefined;
  const stop = (signal: string) => {
    stopping ??= (async () => {
      logger.info(`${signal}: stopping`);
      // Stop reading, let in-flight requests finish, and give up after 4 s whatever happens.
      const deadline = new Promise<void>((resolve) => setTimeout(resolve, 4000).unref?.());
      await Promise.race([
        // In-flight requests finish through the guard; then it closes what is left.
        Promise.all([service.stop(), http.shutdown().then(() => open.close())]),
        deadline,
      ]);
    })();
  };
  const onTerm = () => stop("SIGTERM");
  const onInt = () => stop("SIGINT");
  Deno.addSignalListener("SIGTERM", onTerm);
  Deno.addSignalListener("SIGINT", onInt);
  // Deno.serve ends by itself only when it cannot go on (it cannot accept a connection: out of
  // file descriptors). Stop the rest and exit 1, for systemd or Docker to start afresh.
  const failed = await http.finished.then(() => false, (error: Error) => {
    logger.error("the HTTP server stopped", { error: error.message });
    stop("HTTP server failure");
    return true;
  });
  await stopping;
  Deno.removeSignalListener("SIGTERM", onTerm);
  Deno.removeSignalListener("SIGINT", onInt);
  logger.info("service stopped");
  return failed ? 1 : 0;
}
