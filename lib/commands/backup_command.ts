/**
 * `p1reader backup FILE`: writes a consistent copy of the history database, also while the
 * service runs and writes to it (SQLite's online backup copies one snapshot), to a file beside the
 * target that is then renamed over it, so a backup that fails halfway leaves the last one intact.
 *
 * @module
 */

import { ConfigError, parseConfig } from "../config.ts";
import { copyDatabase } from "../outputs/history/store.ts";
import type { CommandIo } from "./parse_command.ts";

/** Usage text of `backup`. */
export const BACKUP_USAGE = `Usage: p1reader backup [--data-dir DIR | --history-db FILE] FILE

Writes a consistent copy of the history database to FILE (replacing it), also while the service
runs and writes to it. The database is found as the service finds it (--data-dir, --history-db
and their environment variables). Restore a copy by stopping the service and putting the copy in
the database's place.

Exit status: 0 when the copy was written, 1 when it could not be, 2 on bad usage.
`;

/**
 * Runs `backup`.
 *
 * @param args The arguments after `backup`.
 * @param io The streams to use.
 * @param env The environment (the service's settings apply).
 * @returns The exit status.
 */
export async function runBackup(
  args: string[],
  io: CommandIo,
  env: Record<string, string>,
): Promise<number> {
  const target = args.at(-1);
  if (target === undefined || target.startsWith("-")) {
    if (args.includes("--help") || args.includes("-h")) {
      io.stdout(BACKUP_USAGE);
      return 0;
    }
    io.stderr(`p1reader backup: expected the FILE to write\n\n${BACKUP_USAGE}`);
    return 2;
  }
  let config;
  try {
    config = parseConfig({ args: args.slice(0, -1), env });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    io.stderr(`p1reader backup: ${error.message}\n`);
    return 2;
  }
  if (config === "help") {
    io.stdout(BACKUP_USAGE);
    return 0;
  }
  const source = config.history?.database ??
    `${config.dataDir.replace(/\/+$/, "")}/history.sqlite`;
  try {
    const bytes = await copyDatabase(source, target);
    io.stderr(`copied ${source} to ${target} (${bytes} bytes)\n`);
    return 0;
  } catch (error) {
    io.stderr(`p1reader backup: cannot copy ${source} to ${target}: ${(error as Error).message}\n`);
    return 1;
  }
}
