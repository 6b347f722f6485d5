/**
 * `p1reader parse`: decodes every telegram in a capture and prints it, reporting rejected ones
 * on stderr. This is also how users check what their meter sends.
 *
 * @module
 */

import { parseArgs } from "node:util";
import {
  DecryptingScanner,
  type DecryptionKeys,
  parseKey,
  SMARTY_AUTHENTICATION_KEY,
} from "../dsmr/decryption.ts";
import { wrap } from "../config.ts";
import { meterReading } from "../dsmr/derive.ts";
import { ChecksumError } from "../dsmr/errors.ts";
import { FORMAT_NAMES, type FormatMode, resolveFormat } from "../dsmr/formats.ts";
import type { RawTelegram } from "../dsmr/framer.ts";
import type { Telegram } from "../dsmr/model.ts";
import { parseTelegram } from "../dsmr/parse.ts";

/** Where the command reads and writes; `main.ts` passes the process's own streams. */
export interface CommandIo {
  /** Standard input, read when the file is `-`. */
  stdin: ReadableStream<Uint8Array>;
  /** Receives results. */
  stdout: (text: string) => void;
  /** Receives diagnostics. */
  stderr: (text: string) => void;
}

/** Usage text of the `parse` command. */
export const PARSE_USAGE =
  `Usage: p1reader parse [--format F] [--json] [--decryption-key HEX] FILE|-

Decodes every telegram in a capture (a file of many telegrams, garbage between them allowed)
and prints one line per valid telegram; rejected telegrams are reported on stderr with the reason.

Options:
  --format F                meter format (default auto):
${wrap(FORMAT_NAMES.join(", "), "                            ")}
  --json                    print each telegram as one JSON object per line (NDJSON), the
                            complete model
  --decryption-key HEX      decrypt a Luxembourg Smarty meter's frames with this key (32 hex
                            digits)
  --authentication-key HEX  their authentication key (default ${SMARTY_AUTHENTICATION_KEY})
  -h, --help                show this help

Exit status: 0 when at least one valid telegram was found, 1 when none, 2 on bad usage or a
FILE that cannot be read.
`;

/**
 * Runs `parse`.
 *
 * @param args The arguments after `parse`.
 * @param io The streams to use.
 * @returns The exit status.
 */
export async function runParse(args: string[], io: CommandIo): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        format: { type: "string", default: "auto" },
        json: { type: "boolean", default: false },
        "decryption-key": { type: "string" },
        "authentication-key": { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (error) {
    io.stderr(`p1reader parse: ${(error as Error).message}\n\n${PARSE_USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    io.stdout(PARSE_USAGE);
    return 0;
  }
  if (positionals.length !== 1) {
    io.stderr(`p1reader parse: expected one FILE (or - for standard input)\n\n${PARSE_USAGE}`);
    return 2;
  }
  let format: FormatMode;
  try {
    format = resolveFormat(values.format);
  } catch (error) {
    io.stderr(`p1reader parse: --format: ${(error as Error).message}\n`);
    return 2;
  }
  let keys: DecryptionKeys | undefined;
  try {
    keys = keysOf(values["decryption-key"], values["authentication-key"]);
  } catch (error) {
    io.stderr(`p1reader parse: ${(error as Error).message}\n`);
    return 2;
  }
  const path = positionals[0]!;
  const cannotRead = (reason: string) => {
    io.stderr(`p1reader parse: cannot read "${path}": ${reason}\n`);
    return 2;
  };
  let input: ReadableStream<Uint8Array>;
  if (path === "-") {
    input = io.stdin;
  } else {
    try {
      const file = await Deno.open(path);
      if ((await file.stat()).isDirectory) {
        file.close();
        return cannotRead("it is a directory; give a capture file (or - for standard input)");
      }
      input = file.readable;
    } catch (error) {
      return cannotRead((error as Error).message);
    }
  }

  const scanner = new DecryptingScanner({
    ...(keys ? { keys } : {}),
    onRejection: ({ message, fix }) =>
      io.stderr(`encrypted frame ${framesSeen()} rejected: ${message}; ${fix}\n`),
  });
  const framesSeen = () => Object.values(scanner.frames).reduce((sum, count) => sum + count, 0);
  let index = 0;
  let valid = 0;
  let crcErrors = 0;
  let parseErrors = 0;
  const report = (raws: RawTelegram[]) => {
    for (const raw of raws) {
      index++;
      let telegram: Telegram;
      try {
        telegram = parseTelegram(raw, { format });
      } catch (error) {
        if (error instanceof ChecksumError) crcErrors++;
        else parseErrors++;
        io.stderr(`telegram ${index} rejected: ${(error as Error).message}\n`);
        continue;
      }
      valid++;
      io.stdout(values.json ? `${JSON.stringify(telegram)}\n` : `${summarise(telegram)}\n`);
    }
  };
  try {
    for await (const chunk of input) report(await scanner.push(chunk));
  } catch (error) {
    // A device or special file that fails part-way: what was decoded is printed, the rest is not.
    return cannotRead((error as Error).message);
  }
  report(await scanner.flush());
  const stats = scanner.stats;
  const frames = framesSeen();
  io.stderr(
    `${index} telegrams: ${valid} valid, ${crcErrors} CRC errors, ${parseErrors} unparsable; ` +
      `${stats.discardedBytes} bytes discarded (${stats.incomplete} incomplete, ${stats.oversized} oversized)\n` +
      (frames > 0
        ? `${frames} encrypted frames: ${scanner.frames.decrypted} decrypted, ` +
          `${frames - scanner.frames.decrypted} rejected\n`
        : ""),
  );
  return valid > 0 ? 0 : 1;
}

/** The keys of `--decryption-key` and `--authentication-key`, or none. */
function keysOf(
  decryption: string | undefined,
  authentication: string | undefined,
): DecryptionKeys | undefined {
  const read = (name: string, text: string) => {
    try {
      return parseKey(text);
    } catch (error) {
      throw new Error(`--${name}: ${(error as Error).message}`);
    }
  };
  if (decryption === undefined) {
    if (authentication !== undefined) {
      throw new Error("--authentication-key is set but --decryption-key is not");
    }
    return undefined;
  }
  const decryptionKey = read("decryption-key", decryption);
  return authentication === undefined
    ? { decryptionKey }
    : { decryptionKey, authenticationKey: read("authentication-key", authentication) };
}

function kwh(value: { value: number } | undefined): string {
  return value === undefined ? "-" : String(value.value);
}

/** One human-readable line per telegram: time, format, registers, power, M-Bus readings. */
function summarise(t: Telegram): string {
  const parts = [t.timestamp?.iso ?? "(no time)", t.format];
  const imp = t.energy.import;
  const exp = t.energy.export;
  parts.push(
    `import ${kwh(imp.t1)}/${kwh(imp.t2)}${imp.total ? ` total ${imp.total.value}` : ""} kWh`,
  );
  parts.push(
    `export ${kwh(exp.t1)}/${kwh(exp.t2)}${exp.total ? ` total ${exp.total.value}` : ""} kWh`,
  );
  parts.push(`power +${kwh(t.power.import)}/-${kwh(t.power.export)} kW`);
  for (const device of t.mbus) {
    const reading = meterReading(device);
    if (reading) {
      parts.push(`${device.kind}[${device.channel}] ${reading.value.value} ${reading.value.unit}`);
    } else if (device.reading) {
      parts.push(`${device.kind}[${device.channel}] empty`);
    }
  }
  return parts.join("  ");
}
