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
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(5000) });
  } catch (error) {
    io.stderr(`unhealthy: cannot reach ${url}: ${describeError(error)}\n`);
    return 1;
  }
  const body = await response.text();
  if (response.status === 200) return 0;
  io.stderr(
    `unhealthy: ${url} answered ${response.status} ${response.statusText}${reasonOf(body)}\n`,
  );
  return 1;
}

/** The `reason` of a JSON answer, else the start of its text; empty when there is none. */
function reasonOf(body: string): string {
  let reason: unknown;
  try {
    reason = (JSON.parse(body) as { reason?: unknown }).reason;
  } catch {
    // Not our JSON (another server on the port?): its text says more than nothing.
    reason = body.trim().slice(0, 200);
  }
  return typeof reason === "string" && reason !== "" ? `: ${reason}` : "";
}

/** An error's message with its causes (a fetch failure says little without them). */
function describeError(error: unknown): string {
  const parts: string[] = [];
  for (let at: unknown = error; at instanceof Error && parts.length < 4; at = at.cause) {
    const text = at.message || at.name;
    if (!parts.some((part) => part.includes(text))) parts.push(text);
  }
  return parts.join(": ") || String(error);
}
