/**
 * The `p1reader` command line: `serve` (the default) reads the meter and serves the API;
 * `parse` decodes captures; `--version` and `--help` say what this is.
 *
 * @module
 */

import { PARSE_USAGE, runParse } from "./lib/commands/parse_command.ts";
import { runServe, serveUsage } from "./lib/commands/serve_command.ts";
import { runHealthcheck } from "./lib/commands/healthcheck_command.ts";
import { BACKUP_USAGE, runBackup } from "./lib/commands/backup_command.ts";
import { IMPORT_USAGE, runImport } from "./lib/commands/import_command.ts";
import { VERSION } from "./lib/version.ts";

const encoder = new TextEncoder();

/** Writes to stdout/stderr; the one place besides `lib/log.ts` that touches the console. */
function writer(stream: { writeSync(p: Uint8Array): number }): (text: string) => void {
  return (text) => {
    const bytes = encoder.encode(text);
    let written = 0;
    while (written < bytes.length) written += stream.writeSync(bytes.subarray(written));
  };
}

const USAGE = `p1reader ${VERSION}: reads the P1 port of Dutch, Belgian and Luxembourg smart meters

Usage:
  p1reader [serve] [options]                    read the meter and serve the API (the default)
  p1reader parse [--format F] [--json] FILE|-   decode a capture of telegrams
  p1reader healthcheck                          exit 0 when the running service is healthy, else 1
  p1reader import [options] CAPTURE|-           load a capture into the history database
  p1reader backup [options] FILE                copy the history database, also while it is written
  p1reader --version                            print the version
  p1reader help, p1reader --help                show this help

${serveUsage()}
${PARSE_USAGE}
${IMPORT_USAGE}
${BACKUP_USAGE}`;

/**
 * Runs the command line.
 *
 * @param args The arguments, without the program name.
 * @returns The exit status.
 */
export async function main(args: string[]): Promise<number> {
  const io = {
    stdin: Deno.stdin.readable,
    stdout: writer(Deno.stdout),
    stderr: writer(Deno.stderr),
  };
  const [command, ...rest] = args;
  switch (command) {
    case undefined:
      return await runServe([], io, Deno.env.toObject());
    case "serve":
      return await runServe(rest, io, Deno.env.toObject());
    case "parse":
      return await runParse(rest, io);
    case "healthcheck":
      return await runHealthcheck(rest, io, Deno.env.toObject());
    case "import":
      return await runImport(rest, io, Deno.env.toObject());
    case "backup":
      return await runBackup(rest, io, Deno.env.toObject());
    case "--version":
    case "-V":
      io.stdout(`${VERSION}\n`);
      return 0;
    case "help":
    case "--help":
    case "-h":
      io.stdout(USAGE);
      return 0;
    default:
      if (command.startsWith("-")) return await runServe(args, io, Deno.env.toObject());
      io.stderr(`p1reader: unknown command "${command ?? ""}"\n\n${USAGE}`);
      return 2;
  }
}

if (import.meta.main) {
  try {
    Deno.exit(await main(Deno.args));
  } catch (error) {
    // A reader of our output that went away (`| head`) is not an error.
    if (error instanceof Deno.errors.BrokenPipe) Deno.exit(0);
    throw error;
  }
}
