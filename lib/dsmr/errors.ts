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
