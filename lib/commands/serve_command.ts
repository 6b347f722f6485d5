/**
 * `p1reader serve` (the default command): reads the meter and serves the JSON API, `/metrics`
 * and `/healthz`; SIGTERM/SIGINT stop it cleanly.
 *
 * @module
 */

import { type Config, ConfigError, configHelp, parseConfig } from "../config.ts";
import { createApp, liveFeed } from "../http/app.ts";
import { ConnectionGuard } from "../http/connection_guard.ts";
import { SlowClientError, StreamHub } from "../http/streams.ts";
import { createLogger, type Logger, redactUrl } from "../log.ts";
import { MetricsRegistry } from "../metrics/registry.ts";
import { receiverSnapshot } from "../metrics/table.ts";
import { DsmrReaderPusher } from "../push/pusher.ts";
import type { PushItem } from "../push/dsmr_reader.ts";
import { DurableQueue } from "../push/queue.ts";
import { P1Receiver } from "../receiver.ts";
import { History } from "../history.ts";
import { HISTORY } from "../outputs/history/history_output.ts";
import { createSource } from "../source/create.ts";
import { ShareServer } from "../share/share_server.ts";
import type { MqttPublisher } from "../mqtt/publisher.ts";
import { OutputStartError } from "../outputs/output.ts";
import { createInfluxOutput } from "../outputs/influx/output.ts";
import { VERSION } from "../version.ts";
import type { CommandIo } from "./parse_command.ts";

/** Usage text of `serve`, from the option table. */
export function serveUsage(): string {
  return `Usage: p1reader [serve] [options]

Reads the meter and serves GET / (the original JSON), /api, /api/raw, /api/v1/telegram,
/api/v1/telegram/raw, /api/v1/status, /healthz and /metrics.

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
  const source = createSource(config.sourceSpec, {
    format: config.format,
    serial: config.serial,
    replayIntervalSeconds: config.replayIntervalSeconds,
    replayLoop: config.replayLoop,
    decrypting: config.decryption !== undefined,
  });
  const receiver = new P1Receiver({
    source,
    format: config.format,
    ...(config.staleAfterMs === undefined ? {} : { staleAfterMs: config.staleAfterMs }),
    ...(config.decryption ? { decryption: config.decryption } : {}),
    logger,
  });
  const closing = new AbortController();
  // Without the history database, the dashboard's charts come from memory.
  const history = config.history ? undefined : new History();
  if (history) {
    receiver.subscribe((received) => history.record(received));
  }
  let pusher: DsmrReaderPusher | undefined;
  if (config.dsmrReader) {
    let queue: DurableQueue<PushItem>;
    try {
      queue = await DurableQueue.open<PushItem>({
        dir: config.dataDir,
        name: "dsmr-reader",
        maxRecords: config.queueMax,
        maxBytes: config.queueMaxBytes,
      });
    } catch (error) {
      io.stderr(
        `p1reader: --data-dir "${config.dataDir}": cannot keep the push queue there: ${
          (error as Error).message
        }\n`,
      );
      return 2;
    }
    pusher = new DsmrReaderPusher({
      ...config.dsmrReader,
      queue,
      deadLetterPath: `${config.dataDir}/dsmr-reader.dead-letter.jsonl`,
      logger,
    });
    const push = pusher;
    receiver.subscribe((received) => void push.offer(received));
  }
  let share: ShareServer | undefined;
  if (config.share) {
    try {
      share = ShareServer.start({
        hostname: config.share.hostname,
        port: config.share.port,
        ...(config.share.allow ? { allow: config.share.allow } : {}),
        logger,
      });
    } catch (error) {
      io.stderr(
        `p1reader: --share-port ${config.share.port}: cannot listen: ${(error as Error).message}\n`,
      );
      return 2;
    }
    const server = share;
    receiver.subscribe((received) => server.send(received.bytes));
    logger.info(`sharing raw telegrams on tcp://${config.share.hostname}:${server.addr.port}`);
  }
  let mqttPublisher: MqttPublisher | undefined;
  if (config.mqtt) {
    // Loaded only when used: MQTT.js reads the environment as it loads.
    const { MqttPublisher } = await import("../mqtt/publisher.ts");
    const { password, username, ...rest } = config.mqtt;
    mqttPublisher = new MqttPublisher({
      ...rest,
      ...(username !== undefined ? { username } : {}),
      ...(password !== undefined ? { password } : {}),
      version: VERSION,
      logger,
    });
    const publisher = mqttPublisher;
    receiver.subscribe((received) => publisher.offer(received));
    receiver.onStateChange((state) => publisher.receiverStateChanged(state));
    logger.info("publishing to MQTT", {
      broker: redactUrl(config.mqtt.url),
      prefix: config.mqtt.prefix,
    });
  }
  // Outputs of the shape outputs/output.ts defines, built from their part of the configuration.
  const built = [HISTORY.create(config), createInfluxOutput(config.influx, config)];
  const outputs = built.filter((output) => !!output);
  const context = {
    receiver,
    logger,
    version: VERSION,
    dataDir: config.dataDir,
    closing: closing.signal,
  };
  for (const output of outputs) {
    try {
      await output.start(context);
    } catch (error) {
      if (!(error instanceof OutputStartError)) throw error;
      io.stderr(`p1reader: ${error.message}\n`);
      return 2;
    }
  }
  const streams = new StreamHub({
    feed: liveFeed(receiver),
    maxClients: config.streamClients,
    closing: closing.signal,
    logger,
  });
  // Assigned once the port is open, before any request can read it.
  let guard: ConnectionGuard;
  const metrics = new MetricsRegistry(() => ({
    ...receiverSnapshot(receiver, VERSION),
    push: pusher?.stats,
    share: share?.stats,
    mqtt: mqttPublisher?.stats,
    http: { streams: streams.stats, connections: guard.stats },
  }), [
    ...(pusher ? ["push" as const] : []),
    ...(share ? ["share" as const] : []),
    ...(mqttPublisher ? ["mqtt" as const] : []),
  ], { outputs });
  const startedAt = Date.now();
  const app = createApp({
    receiver,
    metrics,
    version: VERSION,
    startedAt,
    logger,
    ...(history ? { history } : {}),
    closing: closing.signal,
    outputs,
    streams,
    connections: () => guard.stats,
    ...(pusher ? { push: () => pusher.stats } : {}),
    ...(share ? { share: () => share.stats } : {}),
    ...(mqttPublisher ? { mqtt: () => mqttPublisher.stats } : {}),
  });

  logger.info(`p1reader ${VERSION} starting`, {
    source: source.description,
    format: config.format.name,
    ...(config.decryption ? { decrypting: "Smarty frames" } : {}),
  });
  if (config.dsmrReader && pusher) {
    logger.info(`pushing to DSMR reader (API ${config.dsmrReader.api})`, {
      url: redactUrl(config.dsmrReader.url),
      dataDir: config.dataDir,
      queued: pusher.stats.queueLength,
    });
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
    }, app.fetch);
    guard = ConnectionGuard.listen({
      hostname: config.host,
      port: config.port,
      upstream: server.addr,
      logger,
    });
  } catch (error) {
    await server?.shutdown();
    io.stderr(
      `p1reader: cannot listen on ${config.host}:${config.port}: ${(error as Error).message}\n`,
    );
    return 2;
  }
  const http = server;
  logger.info(`listening on ${listenUrls(guard.addr.hostname, guard.addr.port)}`);
  receiver.start();
  pusher?.start();
  mqttPublisher?.start();

  let stopping: Promise<void> | undefined;
  const stop = (signal: string) => {
    stopping ??= (async () => {
      logger.info(`${signal}: stopping`);
      closing.abort(); // ends the event streams, which would otherwise keep the server open
      // Stop reading, let in-flight requests finish, and give up after 4 s whatever happens.
      const deadline = new Promise<void>((resolve) => setTimeout(resolve, 4000).unref?.());
      const stopped = (async () => {
        await receiver.stop();
        // The queue is on disk after every telegram; stopping only closes it.
        await Promise.all([
          pusher?.stop(),
          share?.close(),
          mqttPublisher?.stop(),
          ...outputs.map((output) => output.stop()),
          // In-flight requests finish through the guard; then it closes what is left.
          http.shutdown().then(() => guard.close()),
        ]);
      })();
      await Promise.race([stopped, deadline]);
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
