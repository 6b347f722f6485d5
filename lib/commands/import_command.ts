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

A write that fails (a full disk) stops the import; what was written before is kept.

Exit status: 0 when telegrams were loaded, 1 when the capture had none (a gzip file: decompress it
first) or a write failed, 2 on bad usage (a missing file, a directory).
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

/** The first bytes of a gzip file (RFC 1952). */
const GZIP_MAGIC = [0x1f, 0x8b];

/**
 * Why a capture file cannot be imported, with the exit status, or `undefined` when it can be read:
 * a missing or unreadable file or a directory is bad usage; a gzip file holds no telegrams until
 * decompressed (a pipe or a device is read as it is, never peeked at).
 */
async function checkCapture(
  path: string,
): Promise<{ status: 1 | 2; message: string } | undefined> {
  try {
    const info = await Deno.stat(path);
    if (info.isDirectory) {
      return {
        status: 2,
        message: `"${path}" is a directory: name a capture file (or - for standard input)`,
      };
    }
    if (!info.isFile) return undefined;
    const file = await Deno.open(path);
    const start = new Uint8Array(GZIP_MAGIC.length);
    let read: number | null;
    try {
      read = await file.read(start);
    } finally {
      file.close();
    }
    if (read === GZIP_MAGIC.length && GZIP_MAGIC.every((byte, i) => start[i] === byte)) {
      return {
        status: 1,
        message: `"${path}" is compressed with gzip: decompress it first: ` +
          `gunzip -c ${path} | p1reader import -`,
      };
    }
    return undefined;
  } catch (error) {
    return { status: 2, message: `cannot read "${path}": ${(error as Error).message}` };
  }
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
    const refused = await checkCapture(capture);
    if (refused) {
      io.stderr(`p1reader import: ${refused.message}\n`);
      return refused.status;
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
    joinedCaptures: true,
  });
  // A write that fails (a full disk) would fail again for every later minute: the import stops.
  let failed: Error | undefined;
  const history = new HistoryOutput(config.history, {
    capture: true,
    onWriteFailure: (error) => {
      failed = error;
      void receiver.stop();
    },
  });
  const closing = new AbortController();
  try {
    await history.start(outputContext(config, receiver, logger, closing.signal));
  } catch (error) {
    if (!(error instanceof OutputStartError)) throw error;
    io.stderr(`p1reader import: ${error.message}\n`);
    return 2;
  }
  if (!failed) {
    receiver.start();
    await receiver.finished;
  }
  await history.stop();
  const counters = receiver.counters;
  const stats = history.stats();
  if (failed) {
    io.stderr(
      `p1reader import: stopped: cannot write to ${stats.database}: ${failed.message}; ` +
        `${counters.telegramsOk} telegrams read, ${stats.minutesWritten} new minutes written ` +
        `before it\nThose are kept: make room (or fix the cause) and import the capture again; ` +
        `readings the database has are skipped.\n`,
    );
    return 1;
  }
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
