/**
 * Splits a telegram's text into its identification line and `OBIS(v)(v)...` data lines, with
 * no meaning attached to the values.
 *
 * ```
 * /ISK5\2M550T-1012          identification (header)
 * 1-0:1.8.1(011080.001*kWh)  reference "1-0:1.8.1", groups ["011080.001*kWh"]
 * 0-1:24.3.0(...)(m3)        DSMR 2.2 gas: its value sits on the next line,
 * (00123.456)                which starts with "(" and is joined to the line before
 * !8FF3                      end, CRC
 * ```
 *
 * @module
 */

/** One data line: the OBIS reference as written and the strings inside its parentheses. */
export interface DataLine {
  /** The reference, e.g. `1-0:1.8.1`. */
  reference: string;
  /** The values inside the parentheses, in order, without the parentheses. */
  groups: string[];
}

/** A lexed telegram. */
export interface LexedTelegram {
  /** The identification line without `/` and line end, absent when there is none. */
  header?: string;
  /** The data lines in telegram order. */
  lines: DataLine[];
}

/**
 * Lexes a telegram's text. Line ends may be CR LF or LF. Characters outside parentheses after
 * the first group are ignored; a line without parentheses keeps an empty group list.
 *
 * @param text The telegram from `/` (or its first data line) through the CRC line.
 * @returns The header and data lines.
 *
 * @example
 * ```ts
 * import { lexTelegram } from "./lexer.ts";
 * import assert from "node:assert/strict";
 * const { header, lines } = lexTelegram("/KFM5\r\n\r\n0-1:24.2.1(230205164505W)(06919.956*m3)\r\n!0000\r\n");
 * assert.equal(header, "KFM5");
 * assert.deepEqual(lines, [{ reference: "0-1:24.2.1", groups: ["230205164505W", "06919.956*m3"] }]);
 * ```
 */
export function lexTelegram(text: string): LexedTelegram {
  const result: LexedTelegram = { lines: [] };
  const lines = result.lines;
  const length = text.length;
  let start = 0;
  while (start < length) {
    let end = text.indexOf("\n", start);
    if (end < 0) end = length;
    let stop = end;
    if (stop > start && text.charCodeAt(stop - 1) === 13) stop--;
    const first = text.charCodeAt(start);
    if (stop > start) {
      if (first === 0x2f /* / */) {
        if (result.header === undefined && lines.length === 0) {
          result.header = text.slice(start + 1, stop);
        }
      } else if (first === 0x21 /* ! */) {
        break;
      } else if (first === 0x28 /* ( */) {
        const previous = lines[lines.length - 1];
        if (previous) readGroups(text, start, stop, previous.groups);
      } else {
        const open = text.indexOf("(", start);
        if (open < 0 || open >= stop) {
          lines.push({ reference: trimmed(text, start, stop), groups: [] });
        } else {
          lines.push({
            reference: trimmed(text, start, open),
            groups: readGroups(text, open, stop),
          });
        }
      }
    }
    start = end + 1;
  }
  return result;
}

/** `text[from..to)` without surrounding white space (sliced once when there is none). */
function trimmed(text: string, from: number, to: number): string {
  const slice = text.slice(from, to);
  return text.charCodeAt(from) > 0x20 && text.charCodeAt(to - 1) > 0x20 ? slice : slice.trim();
}

/**
 * The `(...)` groups from `from` up to `stop`, appended to `into` when given. An unclosed group
 * runs to `stop`. A line's first group makes its array (one allocation instead of an empty array
 * that grows).
 */
function readGroups(text: string, from: number, stop: number, into?: string[]): string[] {
  let groups = into;
  let at = from;
  while (at < stop && text.charCodeAt(at) === 0x28) {
    let close = text.indexOf(")", at + 1);
    const unclosed = close < 0 || close > stop;
    if (unclosed) close = stop;
    const group = text.slice(at + 1, close);
    if (groups === undefined) groups = [group];
    else groups.push(group);
    if (unclosed) break;
    at = close + 1;
  }
  return groups ?? [];
}
