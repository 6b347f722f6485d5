/**
 * The errors of the telegram core.
 *
 * @module
 */

/** A telegram whose CRC is wrong, or missing where the format requires one. */
export class ChecksumError extends Error {
  /** The CRC as written after `!` (`""` when there was none). */
  readonly stated: string;
  /** The CRC computed over `/` through `!`. */
  readonly computed: string;

  /**
   * Makes the error.
   *
   * @param message What was wrong.
   * @param stated The CRC as written.
   * @param computed The CRC computed.
   */
  constructor(message: string, stated: string, computed: string) {
    super(message);
    this.name = "ChecksumError";
    this.stated = stated;
    this.computed = computed;
  }
}

/** Text that is not a telegram (no identification line, or no data line at all). */
export class TelegramSyntaxError extends SyntaxError {
  /**
   * Makes the error.
   *
   * @param message What was wrong.
   */
  constructor(message: string) {
    super(message);
    this.name = "TelegramSyntaxError";
  }
}

/**
 * Text from the wire as an error message may quote it: cut to `max` characters (then `...`),
 * control bytes, bytes above ASCII, `"` and `\` written as `\xNN`, so that a hostile byte can
 * neither forge a log line nor end the quote.
 *
 * @param text The text, one character per byte.
 * @param max The most characters kept.
 * @returns The text to quote.
 *
 * @example
 * ```ts
 * import { quotable } from "./errors.ts";
 * import assert from "node:assert/strict";
 * assert.equal(quotable("\x8f\r\nOK"), "\\x8f\\x0d\\x0aOK");
 * ```
 */
export function quotable(text: string, max = 40): string {
  const cut = text.length > max ? `${text.slice(0, max)}...` : text;
  return cut.replace(
    /[^\x20-\x7e]|["\\]/g,
    (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`,
  );
}
