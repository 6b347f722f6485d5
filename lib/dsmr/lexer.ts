/**
 * Splits a telegram's text into its identification line and `OBIS(v)(v)...` data lines, with
 * no meaning attached to the values.
 *
 * ```
 * /ISK5\2M550T-1012          identification (header)
 * 1-0:1.8.1(011080.001*kWh)  reference "1-0:1.8.1", groups ["011080.001*kWh"]
 * 0-1:24.3.0(...)(m3)        DSMR 2.2 gas: its value sits on the next line,
 * (00123.456)                which starts with "(" and is joined to the line before
 * 0-0:96.13.0(3031...3B3C    a group not closed on its line goes on on the next (DSMR 4.0's
 * 3D3E...3F)                 long text message): joined, without the line break
 * !8FF3                      end, CRC
 * ```
 *
 * @module
 */

import { latin1Bytes } from "../bytes.ts";

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
 * @param bytes The same telegram as bytes, one per character, when the caller has them.
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
export function lexTelegram(text: string, bytes: Uint8Array = latin1Bytes(text)): LexedTelegram {
  const result: LexedTelegram = { lines: [] };
  const lines = result.lines;
  const cursor = new LineCursor(text, bytes);
  while (cursor.nextLine()) {
    if (cursor.kind === LineKind.Header) {
      if (result.header === undefined && lines.length === 0) result.header = cursor.header();
    } else if (cursor.kind === LineKind.Data) {
      const reference = cursor.reference(cursor.findOpen());
      lines.push({ reference, groups: readGroups(cursor, []) });
    } else {
      const previous = lines[lines.length - 1];
      if (previous) readGroups(cursor, previous.groups);
    }
  }
  return result;
}

/** Appends the current line's groups to `groups`. */
function readGroups(cursor: LineCursor, groups: string[]): string[] {
  while (cursor.nextGroup()) groups.push(cursor.group());
  return groups;
}

/** `A-B:C.D.E`, optionally `.F` or `*F`: an OBIS reference as meters write it. */
const OBIS_REFERENCE = /^\d{1,3}-\d{1,3}:\d{1,3}\.\d{1,3}\.\d{1,3}(?:[.*]\d{1,3})?$/;

/**
 * Whether a data line's reference is an OBIS reference as meters write it: `1-0:1.8.1`,
 * `0-1:24.2.1`, `1-0:1.8.0*255`, `0-0:96.1.255*255`.
 *
 * @param reference The reference, without surrounding white space.
 * @returns `true` for an OBIS reference.
 */
export function isObisReference(reference: string): boolean {
  return OBIS_REFERENCE.test(reference);
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

const LF = 0x0a;
const CR = 0x0d;
const BANG = 0x21;
const SLASH = 0x2f;
const OPEN = 0x28;
const CLOSE = 0x29;

/**
 * Walks a telegram a line at a time, reading its bytes once and making no string but those asked
 * for, so that the lexer and the parser read telegrams the same way:
 *
 * - Lines end with CR LF or LF; empty lines are skipped; the `!` line ends the walk.
 * - A data line's reference runs to its first `(` ({@linkcode LineCursor.findOpen}), trimmed.
 * - Its groups follow each other from there ({@linkcode LineCursor.nextGroup}): each runs to its
 *   `)`; anything after the last group is ignored. A group not closed on its line goes on over
 *   the line break when the next line starts nothing else (no reference, `(`, `/` or `!`; DSMR
 *   4.0's long text messages), and otherwise ends with its line.
 *
 * The text and the bytes hold the same characters, one per byte: the cursor reads the bytes and
 * slices the text.
 */
export class LineCursor {
  /** The text walked. */
  readonly text: string;
  /** The same text as bytes. */
  readonly bytes: Uint8Array;
  /** What the current line is. */
  kind: LineKind = LineKind.Header;
  /** Where the current line starts. */
  start = 0;
  /** Where the group last read by {@linkcode LineCursor.nextGroup} starts, after its `(`. */
  groupStart = 0;
  /** Where it ends, at its `)` or the line end. */
  groupEnd = 0;
  /** Whether that group goes on over one or more line breaks (see {@linkcode LineCursor.group}). */
  groupJoined = false;
  /** Where the cursor is on the current line; -1 before the first line. */
  #at = -1;

  /** Starts before the first line. */
  constructor(text: string, bytes: Uint8Array) {
    this.text = text;
    this.bytes = bytes;
  }

  /** Moves to the next non-empty line; `false` at the `!` line or the end of the text. */
  nextLine(): boolean {
    const bytes = this.bytes;
    const length = bytes.length;
    let i = this.#at < 0 ? 0 : lineEnd(bytes, this.#at) + 1;
    while (i < length) {
      const first = bytes[i]!;
      if (first === LF) {
        i++;
      } else if (first === CR && (i + 1 === length || bytes[i + 1] === LF)) {
        i += 2;
      } else if (first === BANG) {
        break;
      } else {
        this.start = this.#at = i;
        this.kind = first === SLASH
          ? LineKind.Header
          : first === OPEN
          ? LineKind.Continuation
          : LineKind.Data;
        return true;
      }
    }
    this.#at = length;
    return false;
  }

  /** The identification line without its `/`. */
  header(): string {
    const end = lineEnd(this.bytes, this.start);
    this.#at = end;
    return this.text.slice(this.start + 1, stopOf(this.bytes, this.start, end));
  }

  /**
   * Finds a data line's first `(` and moves there.
   *
   * @returns Where the reference ends: at the `(`, or at the line end when there is none.
   */
  findOpen(): number {
    const bytes = this.bytes;
    let i = this.start;
    while (i < bytes.length) {
      const c = bytes[i]!;
      if (c === OPEN) break;
      if (c === LF) {
        this.#at = i;
        return stopOf(bytes, this.start, i);
      }
      i++;
    }
    this.#at = i;
    return i;
  }

  /**
   * Moves the cursor on the current line: to its first `(`, or past a group the caller read
   * itself (see {@linkcode LineCursor.groupOpen}).
   */
  moveTo(at: number): void {
    this.#at = at;
  }

  /** Where the next group's `(` is: at the cursor, or -1 when no group starts there. */
  groupOpen(): number {
    const at = this.#at;
    return at < this.bytes.length && this.bytes[at] === OPEN ? at : -1;
  }

  /** A data line's reference, up to `end`, without surrounding white space. */
  reference(end: number): string {
    const { text, start } = this;
    const slice = text.slice(start, end);
    return text.charCodeAt(start) > 0x20 && text.charCodeAt(end - 1) > 0x20 ? slice : slice.trim();
  }

  /**
   * Reads the group at the cursor into {@linkcode LineCursor.groupStart} and
   * {@linkcode LineCursor.groupEnd}, and moves past it.
   *
   * @returns `false` when no group starts at the cursor.
   */
  nextGroup(): boolean {
    const at = this.groupOpen();
    if (at < 0) return false;
    const bytes = this.bytes;
    const length = bytes.length;
    let end = at + 1;
    let c = 0;
    this.groupJoined = false;
    for (;;) {
      while (end < length && (c = bytes[end]!) !== CLOSE && c !== LF) end++;
      if (end < length && c === LF && continuesGroup(bytes, end + 1)) {
        this.groupJoined = true;
        end++;
      } else {
        break;
      }
    }
    this.groupStart = at + 1;
    if (end < length && c === CLOSE) {
      this.groupEnd = end;
      this.#at = end + 1;
    } else {
      // Not closed: the group runs to the line end.
      this.groupEnd = stopOf(bytes, at, end);
      this.#at = end;
    }
    return true;
  }

  /** The group last read by {@linkcode LineCursor.nextGroup}, its line breaks left out. */
  group(): string {
    const group = this.text.slice(this.groupStart, this.groupEnd);
    return this.groupJoined ? group.replace(/\r?\n/g, "") : group;
  }
}

/**
 * Whether the line at `start` goes on with the unclosed group of the line before: it is not
 * blank and starts no line of its own (an OBIS reference `digits-`, `(`, `/` or `!`).
 */
function continuesGroup(bytes: Uint8Array, start: number): boolean {
  const first = bytes[start];
  if (
    first === undefined || first === LF || first === CR || first === OPEN || first === SLASH ||
    first === BANG
  ) {
    return false;
  }
  let i = start;
  while (i < bytes.length && bytes[i]! >= 0x30 && bytes[i]! <= 0x39) i++;
  return !(i > start && bytes[i] === 0x2d /* - */);
}

/** Where the line that `at` is on ends: its LF, or the end of the bytes. */
function lineEnd(bytes: Uint8Array, at: number): number {
  while (at < bytes.length && bytes[at] !== LF) at++;
  return at;
}

/** Where a line's content stops, given its end: before the CR of a CR LF. */
function stopOf(bytes: Uint8Array, start: number, end: number): number {
  return end > start && bytes[end - 1] === CR ? end - 1 : end;
}
