/**
 * Starts `main.ts` as a real server process on a free port, as the start task runs it.
 *
 * @module
 */

import { ROOT } from "./paths.ts";
import { waitFor } from "./helpers.ts";

/** The permissions of `deno task start`. */
export const SERVE_PERMISSIONS = [
  "--allow-net",
  "--allow-env",
  "--allow-read",
  "--allow-write",
  "--allow-ffi",
];

/** A running server process. */
export interface RunningServer {
  /** `http://127.0.0.1:PORT`. */
  url: string;
  /** Everything it logged so far. */
  log: () => string;
  /** The process. */
  child: Deno.ChildProcess;
  /** Sends SIGTERM and waits for the exit status. */
  stop(): Promise<Deno.CommandStatus>;
}

/**
 * Starts the service with the given arguments on 127.0.0.1 and a free port (or, with `listen`
 * empty, where the arguments and environment say, which must be on 127.0.0.1). Without a data
 * directory in the arguments or environment, it gets a fresh one of its own (removed when it
 * stops), so that no test writes a history into the checkout or reads another test's.
 */
export async function startServer(
  args: string[],
  env: Record<string, string> = {},
  listen: string[] = ["--host", "127.0.0.1", "--port", "0"],
): Promise<RunningServer> {
  const ownDataDir = args.includes("--data-dir") || "P1READER_DATA_DIR" in env ||
      "STATE_DIRECTORY" in env
    ? undefined
    : await Deno.makeTempDir({ prefix: "p1reader-data-" });
  if (ownDataDir) env = { P1READER_DATA_DIR: ownDataDir, ...env };
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-prompt",
      ...SERVE_PERMISSIONS,
      `${ROOT}main.ts`,
      "serve",
      ...listen,
      ...args,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", ...env },
  }).spawn();
  let log = "";
  const reading = (async () => {
    for await (const text of child.stderr.pipeThrough(new TextDecoderStream())) log += text;
  })();
  child.stdout.cancel();
  let exited = false;
  child.status.then(() => exited = true);
  await waitFor(
    () => /listening on http:\/\/127\.0\.0\.1:\d+/.test(log) || exited,
    "the server to listen",
  );
  const port = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(log)?.[1];
  if (!port) throw new Error(`the server did not start:\n${log}`);
  return {
    url: `http://127.0.0.1:${port}`,
    log: () => log,
    child,
    async stop() {
      try {
        child.kill("SIGTERM");
      } catch {
        // It has already exited.
      }
      const status = await child.status;
      await reading;
      if (ownDataDir) await Deno.remove(ownDataDir, { recursive: true });
      return status;
    },
  };
}
