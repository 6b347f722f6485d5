/**
 * How `auto` recognises a meter's format from a lexed telegram: its header, the references of its
 * lines, its P1 version and whether it carries a CRC, tried against {@linkcode DETECTION}, a list
 * of rules from the most specific format to the least.
 *
 * @module
 */

import { KNOWN_REFERENCES } from "./catalogue.ts";
import type { FormatId } from "./formats.ts";
import type { LexedTelegram } from "./lexer.ts";

/**
 * What tells a format apart, as one rule of {@linkcode DETECTION}: every clue given must hold.
 */
interface DetectionRule {
  /** The format the rule recognises. */
  format: FormatId;
  /** The header (without `/`) starts with this. */
  header?: string;
  /** The telegram has each of these references, as written. */
  has?: readonly string[];
  /** It has none of these. */
  lacks?: readonly string[];
  /** Its P1 version (`1-3:0.2.8`) is this, or `any` version at all. */
  version?: string;
  /** It carries a CRC (`true`) or none (`false`). */
  crc?: boolean;
}

/**
 * How `auto` recognises a format, most specific first; the first rule that fits wins. Only the
 * old Dutch formats and Q3D have no CRC: a telegram with a version line, or of any country's
 * format, must carry its CRC whether it sent one or not.
 */
const DETECTION: readonly DetectionRule[] = [
  { format: "q3d", header: "ESY" },
  { format: "q3d", has: ["1-0:1.8.0*255"] },
  { format: "luxembourg", header: "Lux" },
  { format: "belgium", has: ["0-0:96.1.4"] },
  { format: "belgium", header: "FLU" },
  { format: "hungary", has: ["0-0:42.0.0", "0-0:96.14.0"] },
  { format: "luxembourg", has: ["0-0:42.0.0"] },
  { format: "sweden", has: ["1-0:1.8.0"], lacks: ["1-0:1.8.1"] },
  { format: "dsmr40", version: "40" },
  { format: "dsmr42", version: "42" },
  { format: "dsmr50", version: "any" },
  { format: "ireland", has: ["1-0:0.0.0"], crc: true },
  // DSMR 2.2 and 3.0 telegrams are read the same way; nothing in them tells them apart.
  { format: "dsmr30", crc: false },
  { format: "dsmr50" },
];

/** A bit for each reference a rule looks for. */
const CLUE_BITS: ReadonlyMap<string, number> = new Map(
  [...new Set(DETECTION.flatMap((rule) => [...rule.has ?? [], ...rule.lacks ?? []]))]
    .map((reference, index) => [reference, 1 << index]),
);

/**
 * {@linkcode CLUE_BITS} by symbol in `KNOWN_REFERENCES`, the table the parser's lexer gives each
 * line's reference a symbol in: a line with a symbol needs no lookup by its reference.
 */
const CLUE_BITS_BY_SYMBOL: Int32Array = (() => {
  const bits = new Int32Array(KNOWN_REFERENCES.size);
  for (const [reference, bit] of CLUE_BITS) {
    const symbol = KNOWN_REFERENCES.symbolOf(reference);
    if (symbol >= 0) bits[symbol] = bit;
  }
  return bits;
})();

/** The references of a rule as bits of {@linkcode CLUE_BITS}. */
function bitsOf(references: readonly string[] | undefined): number {
  return (references ?? []).reduce((bits, reference) => bits | CLUE_BITS.get(reference)!, 0);
}

/** {@linkcode DETECTION} with its references as bits, so that a rule is tried in a few steps. */
const DETECTION_BITS = DETECTION.map((rule) => ({
  ...rule,
  hasBits: bitsOf(rule.has),
  lacksBits: bitsOf(rule.lacks),
}));

const VERSION_REFERENCE = "1-3:0.2.8";

/**
 * Recognises the format of a lexed telegram from its header and the lines it carries (see
 * {@linkcode DETECTION}).
 *
 * @param lexed The lexed telegram, its references' symbols those of `KNOWN_REFERENCES`, or none.
 * @param hasCrc Whether a CRC follows the `!`.
 * @returns The most specific format that fits.
 *
 * @example
 * ```ts
 * import { detectFormat } from "./detect.ts";
 * import { lexTelegram } from "./lexer.ts";
 * import assert from "node:assert/strict";
 * const lexed = lexTelegram("/FLU5\\253769484_A\r\n\r\n0-0:96.1.4(50217)\r\n!");
 * assert.equal(detectFormat(lexed, true), "belgium");
 * ```
 */
export function detectFormat(lexed: LexedTelegram, hasCrc: boolean): FormatId {
  let clues = 0;
  let version: string | undefined;
  for (const { reference, groups, symbol } of lexed.lines) {
    clues |= symbol >= 0 ? CLUE_BITS_BY_SYMBOL[symbol]! : CLUE_BITS.get(reference) ?? 0;
    if (reference === VERSION_REFERENCE) version ??= groups[0];
  }
  const header = lexed.header ?? "";
  const rule = DETECTION_BITS.find((rule) =>
    (rule.hasBits & clues) === rule.hasBits && (rule.lacksBits & clues) === 0 &&
    (rule.header === undefined || header.startsWith(rule.header)) &&
    (rule.version === undefined ||
      (version !== undefined && (rule.version === "any" || rule.version === version))) &&
    (rule.crc === undefined || rule.crc === hasCrc)
  );
  return rule!.format;
}
