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
  const cursor = new LineCursor(text);
  while (cursor.nextLine()) {
    if (cursor.kind === LineKind.Header) {
      if (result.header === undefined && lines.length === 0) result.header = cursor.header();
    } else if (cursor.kind === LineKind.Data) {
      lines.push({ reference: cursor.reference(), groups: readGroups(cursor, []) });
    } else {
      const previous = lines[lines.length - 1];
      if (previous) readGroups(cursor, previous.groups);
    }
  }
  return result;
}

/** Appends the current line's groups to `groups`. */
function readGroups(cursor: LineCursor, groups: string[]): string[] {
  const { text, stop } = cursor;
  for (let at = cursor.open, end; (end = groupEnd(text, at, stop)) >= 0; at = end + 1) {
    groups.push(text.slice(at + 1, end));
  }
  return groups;
}

/**
 * Where the group that starts at `at` ends: its `)`, or `stop` (the line end) when it is not
 * closed; -1 when no group starts there. A line's groups follow each other from its first `(`.
 */
export function groupEnd(text: string, at: number, stop: number): number {
  if (at >= stop || text.charCodeAt(at) !== 0x28 /* ( */) return -1;
  const close = text.indexOf(")", at + 1);
  return close < 0 || close > stop ? stop : close;
}

/** What a {@linkcode LineCursor} stands on. */
export const enum LineKind {
  /** The `/` identification line. */
  Header,
  /** An `OBIS(v)(v)...` line. */
  Data,
  /** A line that starts with `(`: more groups of the line before (DSMR 2.2's gas value). */
  Continuation,
}

/**
 * Walks a telegram's text a line at a time without making anything but the strings asked for, so
 * that the lexer and the parser read telegrams the same way. Line ends may be CR LF or LF; empty
 * lines are skipped; the `!` line ends the walk. A line's groups (see {@linkcode groupEnd}) start
 * at `open`; characters after its last group are ignored.
 */
export class LineCursor {
  /** The text walked. */
  readonly text: string;
  /** What the current line is. */
  kind: LineKind = LineKind.Header;
  /** Where the current line starts. */
  start = 0;
  /** Where its content stops, before the line end. */
  stop = 0;
  /**
   * Where the line's groups start: a data line's first `(` (or `stop` when it has none), where
   * its reference stops; a continuation line's start.
   */
  open = 0;
  #next = 0;

  /** Starts before the first line of `text`. */
  constructor(text: string) {
    this.text = text;
  }

  /** Moves to the next non-empty line; `false` at the `!` line or the end of the text. */
  nextLine(): boolean {
    const text = this.text;
    const length = text.length;
    while (this.#next < length) {
      const start = this.#next;
      let end = text.indexOf("\n", start);
      if (end < 0) end = length;
      this.#next = end + 1;
      const stop = end > start && text.charCodeAt(end - 1) === 13 ? end - 1 : end;
      if (stop === start) continue;
      const first = text.charCodeAt(start);
      if (first === 0x21 /* ! */) break;
      this.start = start;
      this.stop = stop;
      if (first === 0x2f /* / */) {
        this.kind = LineKind.Header;
      } else if (first === 0x28 /* ( */) {
        this.kind = LineKind.Continuation;
        this.open = start;
      } else {
        this.kind = LineKind.Data;
        const open = text.indexOf("(", start);
        this.open = open < 0 || open > stop ? stop : open;
      }
      return true;
    }
    this.#next = length;
    return false;
  }

  /** The identification line without its `/`. */
  header(): string {
    return this.text.slice(this.start + 1, this.stop);
  }

  /** A data line's reference without surrounding white space. */
  reference(): string {
    const { text, start, open } = this;
    const slice = text.slice(start, open);
    return text.charCodeAt(start) > 0x20 && text.charCodeAt(open - 1) > 0x20 ? slice : slice.trim();
  }
}
