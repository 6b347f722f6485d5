/**
 * Runs `main.ts` as a user would, in a subprocess.
 *
 * @module
 */

import { ROOT } from "./paths.ts";

/** What a finished command printed and returned. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `deno run main.ts ARGS` with the given permissions and optional standard input.
 *
 * @param args Arguments after `main.ts`.
 * @param options Permissions flags and stdin bytes.
 */
export async function runMain(
  args: string[],
  options: { permissions?: string[]; stdin?: Uint8Array; env?: Record<string, string> } = {},
): Promise<RunResult> {
  const command = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-prompt",
      ...(options.permissions ?? ["--allow-read"]),
      `${ROOT}main.ts`,
      ...args,
    ],
    stdin: options.stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", ...options.env },
  });
  const child = command.spawn();
  if (options.stdin) {
    const writer = child.stdin.getWriter();
    await writer.write(options.stdin);
    await writer.close();
  }
  const { code, stdout, stderr } = await child.output();
  const decoder = new TextDecoder();
  return { code, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
}
