/**
 * `p1reader healthcheck`: asks the running service's `/healthz` and exits 0 when it is healthy,
 * 1 otherwise. The container's HEALTHCHECK runs it, since the image has no curl.
 *
 * @module
 */

import { ConfigError, parseConfig } from "../config.ts";
import type { CommandIo } from "./parse_command.ts";

/**
 * Runs the health check against the port the service's own settings name.
 *
 * @param args The service's options (`--port`, `--host`), usually none: the environment holds them.
 * @param io The streams to use.
 * @param env The environment.
 * @returns 0 healthy, 1 unhealthy or unreachable, 2 bad usage.
 */
export async function runHealthcheck(
  args: string[],
  io: CommandIo,
  env: Record<string, string>,
): Promise<number> {
  let host: string;
  let port: number;
  try {
    const config = parseConfig({ args, env, readTextFile: Deno.readTextFileSync });
    if (config === "help") {
      io.stdout(
        "Usage: p1reader healthcheck [--host ADDRESS] [--port PORT]\nExit 0 when /healthz answers 200, else 1.\n",
      );
      return 0;
    }
    host = ["0.0.0.0", "::", ""].includes(config.host) ? "127.0.0.1" : config.host;
    port = config.port;
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    io.stderr(`p1reader healthcheck: ${error.message}\n`);
    return 2;
  }
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}/healthz`;
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(5000) });
    const body = await response.text();
    if (response.status === 200) return 0;
    io.stderr(`unhealthy: ${body}\n`);
    return 1;
  } catch (error) {
    io.stderr(`unhealthy: cannot reach ${url}: ${(error as Error).message}\n`);
    return 1;
  }
}
