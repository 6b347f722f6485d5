/**
 * Splits a telegram's text into its identification line and `OBIS(v)(v)...` data lines, with
 * no meaning attached to the values. This is the one lexer: the parser reads what it yields.
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
 * - Lines end with CR LF or LF; empty lines are skipped; the `!` line ends the telegram.
 * - A data line's reference runs to its first `(`, trimmed.
 * - Its groups follow each other from there: each runs to its `)`; anything after the last group
 *   is ignored. A group not closed on its line goes on over the line break when the next line
 *   starts nothing else (no reference, `(`, `/` or `!`), and otherwise ends with its line.
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
  /** The reference's symbol in the {@linkcode ReferenceTable} the lexer was given, else -1. */
  symbol: number;
  /**
   * Where the first group's `(` is, when the groups follow each other there as they are, on one
   * line (`(a)(b)`): group `k` then starts after the groups before it and their parentheses, and
   * may be read where it stands. -1 otherwise: no groups, groups on a line that starts with `(`,
   * or a group joined over a line break.
   */
  at: number;
}

/** An identification line where none belongs: a second one, or one after data lines. */
export interface MisplacedHeader {
  /** The line without its `/`. */
  header: string;
  /** How many data lines come before it. */
  position: number;
}

/** A lexed telegram. */
export interface LexedTelegram {
  /** The identification line without `/` and line end, absent when there is none. */
  header?: string;
  /** The data lines in telegram order. */
  lines: DataLine[];
  /** The first identification line that is not the telegram's own, if any. */
  misplacedHeader?: MisplacedHeader;
}

const LF = 0x0a;
const CR = 0x0d;
const BANG = 0x21;
const SLASH = 0x2f;
const OPEN = 0x28;
const CLOSE = 0x29;

/** The number a {@linkcode ReferenceTable} files a reference under, one more byte added. */
function codeStep(code: number, byte: number): number {
  return (Math.imul(code, 31) + byte) & 0x3fffffff;
}

/**
 * A symbol table of references: each reference it holds has a symbol, a number from 0 that tables
 * of meaning (a format's catalogue) are indexed by, and one string that every line with that
 * reference shares. The lexer finds a line's symbol by a number it adds up as it reads the
 * reference ({@linkcode codeStep}); looking the reference up by a new string would hash it anew
 * on every line, which costs more than the rest of reading the line.
 */
export class ReferenceTable {
  /** Open addressing: each slot holds 1 + the index of a reference, or 0 when empty. */
  readonly #slots: Int32Array;
  /** The number of the reference in each slot. */
  readonly #codes: Int32Array;
  readonly #references: string[] = [];
  readonly #bytes: Uint8Array[] = [];
  readonly #mask: number;

  /**
   * Makes the table.
   *
   * @param references The references to share.
   */
  constructor(references: Iterable<string>) {
    const unique = [...new Set(references)];
    let size = 16;
    while (size < unique.length * 4) size *= 2;
    this.#slots = new Int32Array(size);
    this.#codes = new Int32Array(size);
    this.#mask = size - 1;
    for (const reference of unique) {
      let code = 0;
      for (let i = 0; i < reference.length; i++) code = codeStep(code, reference.charCodeAt(i));
      let slot = code & this.#mask;
      while (this.#slots[slot] !== 0) slot = (slot + 1) & this.#mask;
      this.#references.push(reference);
      this.#bytes.push(latin1Bytes(reference));
      this.#slots[slot] = this.#references.length;
      this.#codes[slot] = code;
    }
  }

  /** How many references the table holds; their symbols run from 0. */
  get size(): number {
    return this.#references.length;
  }

  /**
   * The reference of a symbol.
   *
   * @param symbol A symbol of this table.
   * @returns The reference.
   */
  referenceOf(symbol: number): string {
    return this.#references[symbol]!;
  }

  /**
   * The symbol of a reference.
   *
   * @param reference A reference.
   * @returns Its symbol, or -1 when the table does not hold it.
   */
  symbolOf(reference: string): number {
    let code = 0;
    for (let i = 0; i < reference.length; i++) code = codeStep(code, reference.charCodeAt(i));
    return this.find(latin1Bytes(reference), 0, reference.length, code);
  }

  /**
   * The symbol of the reference in `bytes[start..end)`, whose `code` the lexer adds up as it
   * reads it.
   *
   * @param bytes A text's bytes.
   * @param start Where the reference starts.
   * @param end Where it ends.
   * @param code What {@linkcode codeStep} makes of its bytes, from 0.
   * @returns Its symbol, or -1 when the table does not hold it.
   */
  find(bytes: Uint8Array, start: number, end: number, code: number): number {
    const slots = this.#slots;
    for (let slot = code & this.#mask; slots[slot] !== 0; slot = (slot + 1) & this.#mask) {
      if (this.#codes[slot] !== code) continue;
      const index = slots[slot]! - 1;
      const expected = this.#bytes[index]!;
      if (expected.length !== end - start) continue;
      let k = 0;
      while (k < expected.length && expected[k] === bytes[start + k]) k++;
      if (k === expected.length) return index;
    }
    return -1;
  }
}

/**
 * Lexes a telegram's text. Line ends may be CR LF or LF. Characters outside parentheses after
 * the first group are ignored; a line without parentheses keeps an empty group list.
 *
 * @param text The telegram from `/` (or its first data line) through the CRC line.
 * @param bytes The same telegram as bytes, one per character, when the caller has them.
 * @param references The references whose symbols to give (see {@linkcode ReferenceTable}).
 * @returns The header and data lines.
 *
 * @example
 * ```ts
 * import { lexTelegram } from "./lexer.ts";
 * import assert from "node:assert/strict";
 * const { header, lines } = lexTelegram("/KFM5\r\n\r\n0-1:24.2.1(230205164505W)(06919.956*m3)\r\n!0000\r\n");
 * assert.equal(header, "KFM5");
 * assert.equal(lines[0]?.reference, "0-1:24.2.1");
 * assert.deepEqual(lines[0]?.groups, ["230205164505W", "06919.956*m3"]);
 * ```
 */
export function lexTelegram(
  text: string,
  bytes: Uint8Array = latin1Bytes(text),
  references?: ReferenceTable,
): LexedTelegram {
  const lexed: LexedTelegram = { lines: [] };
  const lines = lexed.lines;
  const length = bytes.length;
  let at = 0;
  while (at < length) {
    const first = bytes[at]!;
    if (first === LF) {
      at++;
      continue;
    }
    if (first === CR && (at + 1 === length || bytes[at + 1] === LF)) {
      at += 2;
      continue;
    }
    if (first === BANG) break;
    if (first === SLASH) {
      const end = lineEnd(bytes, at);
      const header = text.slice(at + 1, contentEnd(bytes, at, end));
      if (lexed.header === undefined && lines.length === 0) lexed.header = header;
      else lexed.misplacedHeader ??= { header, position: lines.length };
      at = end + 1;
      continue;
    }
    let line: DataLine;
    if (first === OPEN) {
      // More groups of the line before (DSMR 2.2's gas value); before any data line, nothing.
      const previous = lines[lines.length - 1];
      if (previous === undefined) {
        at = lineEnd(bytes, at) + 1;
        continue;
      }
      line = previous;
      line.at = -1;
    } else {
      // The reference runs to the first "(" or the line end.
      let open = at;
      let code = 0;
      let c = 0;
      for (; open < length; open++) {
        c = bytes[open]!;
        if (c === OPEN || c === LF) break;
        code = codeStep(code, c);
      }
      const end = c === LF ? contentEnd(bytes, at, open) : open;
      line = end === open && first > 0x20 && bytes[end - 1]! > 0x20
        ? dataLine(text, bytes, at, end, code, references)
        : trimmedDataLine(text.slice(at, end).trim(), open, references);
      lines.push(line);
      at = open;
    }
    at = readGroups(text, bytes, at, line);
    if (line.groups === NO_GROUPS) {
      line.groups = [];
      line.at = -1;
    }
    at = lineEnd(bytes, at) + 1;
  }
  return lexed;
}

/** A data line whose reference the lexer read at `bytes[start..end)`, adding up its `code`. */
function dataLine(
  text: string,
  bytes: Uint8Array,
  start: number,
  end: number,
  code: number,
  references: ReferenceTable | undefined,
): DataLine {
  const symbol = references ? references.find(bytes, start, end, code) : -1;
  const reference = symbol >= 0 ? references!.referenceOf(symbol) : text.slice(start, end);
  return { reference, groups: NO_GROUPS, symbol, at: end };
}

/** A data line whose reference had white space around it, or a CR after it: `code` is not its. */
function trimmedDataLine(
  reference: string,
  open: number,
  references: ReferenceTable | undefined,
): DataLine {
  const symbol = references ? references.symbolOf(reference) : -1;
  return {
    reference: symbol >= 0 ? references!.referenceOf(symbol) : reference,
    groups: NO_GROUPS,
    symbol,
    at: open,
  };
}

/** A line's groups until its first: most lines have one, in an array made for it. */
const NO_GROUPS: string[] = [];

/**
 * Appends the groups that follow each other from `at` to a line's groups.
 *
 * @returns Where the last group ends: after its `)`, or at the line end when it was not closed.
 */
function readGroups(text: string, bytes: Uint8Array, at: number, line: DataLine): number {
  const length = bytes.length;
  while (at < length && bytes[at] === OPEN) {
    let end = at + 1;
    let c = 0;
    let joined = false;
    for (;;) {
      while (end < length && (c = bytes[end]!) !== CLOSE && c !== LF) end++;
      if (end < length && c === LF && continuesGroup(bytes, end + 1)) {
        joined = true;
        end++;
      } else {
        break;
      }
    }
    const closed = end < length && c === CLOSE;
    const group = text.slice(at + 1, closed ? end : contentEnd(bytes, at, end));
    if (joined) line.at = -1;
    const value = joined ? group.replace(/\r?\n/g, "") : group;
    if (line.groups === NO_GROUPS) line.groups = [value];
    else line.groups.push(value);
    if (!closed) return end;
    at = end + 1;
  }
  return at;
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
function contentEnd(bytes: Uint8Array, start: number, end: number): number {
  return end > start && bytes[end - 1] === CR ? end - 1 : end;
}

/** `A-B:C.D.E`, optionally `.F` or `*F`: an OBIS reference as meters write it. */
const OBIS_REFERENCE = /^\d{1,3}-\d{1,3}:\d{1,3}\.\d{1,3}\.\d{1,3}(?:[.*]\d{1,3})?$/;

/**
 * Whether a data line's reference is an OBIS reference as meters write it: `1-0:1.8.1`,
 * `0-1:24.2.1`, `1-0:1.8.0*255`, `0-0:96.1.255*255`.
 *
 * @param reference The reference, without surrounding white space.
 * @returns `true` for an OBIS reference.
 *
 * @example
 * ```ts
 * import { isObisReference } from "./lexer.ts";
 * import assert from "node:assert/strict";
 * assert.equal(isObisReference("1-0:1.8.0*255"), true);
 * assert.equal(isObisReference("not an OBIS line"), false);
 * ```
 */
export function isObisReference(reference: string): boolean {
  return OBIS_REFERENCE.test(reference);
}
