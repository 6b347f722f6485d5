/**
 * Whether the configured format fits what the meter sends, told once in words a user can act on.
 *
 * @module
 */

import {
  type FormatId,
  formatMeant,
  type FormatMode,
  FORMATS,
  type FormatSpec,
} from "./formats.ts";
import type { RawTelegram } from "./framer.ts";
import { parseTelegram } from "./parse.ts";

/** What one telegram says about the configured format. */
export interface FormatCheck {
  /** The format the telegram shows. */
  detected: FormatId;
  /**
   * What to tell the user when the configured format is not the meter's: `warn` when it decides
   * how telegrams are read (an id), `info` when it only names one (`auto` and the original's names
   * read the format each telegram shows). Absent when they agree.
   */
  advice?: { level: "warn" | "info"; message: string };
}

/**
 * Compares the configured format with the one a telegram shows. Formats read alike (DSMR 2.2 and
 * 3.0, which nothing tells apart; DSMR 4.0 and 4.2) agree.
 *
 * @param configured The `--format` setting: an id, `auto` or one of the original's names.
 * @param raw A telegram from the meter.
 * @returns What it says, or `undefined` when it is not recognisably a meter's telegram.
 *
 * @example
 * ```ts
 * import { checkFormat } from "./format_check.ts";
 * import { resolveFormat } from "./formats.ts";
 * import assert from "node:assert/strict";
 * const dsmr22 = "/ISk5\\2MT382-1004\r\n\r\n1-0:1.8.1(00001.001*kWh)\r\n!\r\n";
 * const check = checkFormat(resolveFormat("dsmr50"), dsmr22);
 * assert.equal(check?.detected, "dsmr30");
 * assert.match(check?.advice?.message ?? "", /--format dsmr30/);
 * ```
 */
export function checkFormat(
  configured: FormatMode,
  raw: RawTelegram | string,
): FormatCheck | undefined {
  let detected: FormatId;
  try {
    detected = parseTelegram(raw).format;
  } catch {
    // Not a meter's telegram (noise, a bad CRC): it tells nothing about the meter's format.
    return undefined;
  }
  const meant = formatMeant(configured);
  if (meant === undefined || readAlike(FORMATS[meant], FORMATS[detected])) return { detected };
  const name = configured.name;
  const seen = `this meter sends ${detected} telegrams (${FORMATS[detected].description})`;
  const fix = `set --format ${detected} (P1READER_FORMAT=${detected}), or auto`;
  return {
    detected,
    // A setting that means a format but fixes none is one of the original's names.
    advice: configured.kind === "detect"
      ? {
        level: "info",
        message: `--format ${name} names a ${FORMATS[meant].description} meter, but ${seen}; ` +
          `they are read as ${detected}. To say so, ${fix}`,
      }
      : {
        level: "warn",
        message: `--format ${name} does not fit: ${seen}. ` +
          `To read them as they are, ${fix}`,
      },
  };
}

/** Whether two formats read a telegram the same way and expect telegrams as often. */
function readAlike(a: FormatSpec, b: FormatSpec): boolean {
  return a === b || (
    a.checksum === b.checksum && a.intervalSeconds === b.intervalSeconds &&
    a.zone === b.zone && a.groups.join() === b.groups.join() &&
    JSON.stringify(a.serial) === JSON.stringify(b.serial)
  );
}
