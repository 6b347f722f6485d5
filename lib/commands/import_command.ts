/**
 * `p1reader import CAPTURE`: loads a capture (a file of many telegrams) into the history
 * database, through the same receiver and history the service uses, so that users can backfill
 * the months before the reader ran from files they kept, in any order. Readings the database
 * already has are skipped: importing a file twice, or one the service also read, counts nothing
 * twice. It may run while the service runs and writes.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { ConfigError, OPTIONS, parseConfig } from "../config.ts";
import { createLogger } from "../log.ts";
import { HistoryOutput } from "../outputs/history/history_output.ts";
import { OutputStartError } from "../outputs/output.ts";
import { P1Receiver } from "../receiver.ts";
import { outputContext } from "../service.ts";
import { createSource } from "../source/create.ts";
import type { CommandIo } from "./parse_command.ts";

/** Usage text of `import`. */
export const IMPORT_USAGE = `Usage: p1reader import [options] CAPTURE|-

Loads every telegram of a capture into the history database (--data-dir, --history-db), as the
service would have kept it while reading them. Captures may come in any order: an older one fills
in before the history, one of a time the reader was down fills that gap; so may captures joined
into one file. Readings the database already has are skipped, so importing twice counts nothing
twice; the service may run meanwhile.
The format is recognised from the telegrams unless --format names it; every option of the service
is accepted (--decryption-key for Smarty captures, --price-* are not needed here).

Exit status: 0 when telegrams were loaded, 1 when the capture had none, 2 on bad usage.
`;

/** Splits the arguments into option arguments and the positional ones. */
function splitArguments(args: string[]): { flags: string[]; positionals: string[] } {
  const { tokens } = parseArgs({
    args,
    strict: false,
    allowPositionals: true,
    tokens: true,
    options: Object.fromEntries(
      OPTIONS.map((option) => [option.name, { type: option.type }]),
    ),
  });
  const flags: string[] = [];
  const positionals: string[] = [];
  for (const token of tokens) {
    if (token.kind === "positional") positionals.push(token.value);
    else if (token.kind === "option") {
      const width = token.value !== undefined && !token.inlineValue ? 2 : 1;
      flags.push(...args.slice(token.index, token.index + width));
    }
  }
  return { flags, positionals };
}

/**
 * Runs `import`.
 *
 * @param args The arguments after `import`.
 * @param io The streams to use.
 * @param env The environment (the service's settings apply).
 * @returns The exit status.
 */
export async function runImport(
  args: string[],
  io: CommandIo,
  env: Record<string, string>,
): Promise<number> {
  const { flags, positionals } = splitArguments(args);
  const capture = positionals.length === 1 ? positionals[0]! : "-";
  let config;
  try {
    config = parseConfig({
      args: [
        "--format",
        "auto",
        // The receiver's warnings speak of a live meter (a replay outruns its clock checks); the
        // summary counts what was skipped. --log-level warn shows them.
        "--log-level",
        "error",
        ...flags,
        "--source",
        capture === "-" ? "-" : `file:${capture}`,
        "--replay-interval",
        "0",
      ],
      env,
    });
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    io.stderr(`p1reader import: ${error.message}\n`);
    return 2;
  }
  if (config === "help") {
    io.stdout(IMPORT_USAGE);
    return 0;
  }
  if (positionals.length !== 1 || flags.some((flag) => /^--source(=|$)/.test(flag))) {
    io.stderr(`p1reader import: expected one CAPTURE (or - for standard input)\n\n${IMPORT_USAGE}`);
    return 2;
  }
  if (!config.history) {
    io.stderr(
      "p1reader import: the history is off (--history off): there is nothing to import into\n",
    );
    return 2;
  }
  if (capture !== "-") {
    try {
      await Deno.stat(capture);
    } catch (error) {
      io.stderr(`p1reader import: cannot read "${capture}": ${(error as Error).message}\n`);
      return 2;
    }
  }
  const logger = createLogger({ level: config.logLevel, format: config.logFormat });
  const receiver = new P1Receiver({
    source: createSource(config.sourceSpec, {
      format: config.format,
      decrypting: config.decryption !== undefined,
    }),
    format: config.format,
    ...(config.decryption ? { decryption: config.decryption } : {}),
    logger,
  });
  const history = new HistoryOutput(config.history, { capture: true });
  const closing = new AbortController();
  try {
    await history.start(outputContext(config, receiver, logger, closing.signal));
  } catch (error) {
    if (!(error instanceof OutputStartError)) throw error;
    io.stderr(`p1reader import: ${error.message}\n`);
    return 2;
  }
  receiver.start();
  await receiver.finished;
  await history.stop();
  const counters = receiver.counters;
  const stats = history.stats();
  io.stderr(
    `${counters.telegramsOk} telegrams loaded into ${stats.database} ` +
      `(${stats.minutesWritten} new minutes; ${counters.crcErrors} CRC errors, ` +
      `${counters.parseErrors} unparsable telegrams skipped` +
      (stats.lateTelegrams > 0 ? `; ${stats.lateTelegrams} ahead of now` : "") +
      ")\n" +
      (stats.lastError ? `the last write failed: ${stats.lastError.message}\n` : ""),
  );
  if (stats.lastError) return 1;
  return counters.telegramsOk > 0 ? 0 : 1;
}
