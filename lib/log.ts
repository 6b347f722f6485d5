/**
 * The one place that writes log lines: levels, text or JSON lines, and redaction of secrets
 * (fields named like secrets, and credentials in URLs wherever they appear in a line).
 *
 * @module
 */

/** Log levels, least to most severe. */
export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;

/** A log level. */
export type LogLevel = typeof LOG_LEVELS[number];

/** Extra key/value facts of a log line. */
export type LogFields = Record<string, unknown>;

/** Writes log lines. */
export interface Logger {
  /** Detail for debugging. */
  debug(message: string, fields?: LogFields): void;
  /** A state change worth knowing. */
  info(message: string, fields?: LogFields): void;
  /** Something is wrong but the reader goes on. */
  warn(message: string, fields?: LogFields): void;
  /** Something failed. */
  error(message: string, fields?: LogFields): void;
}

/** Options for {@linkcode createLogger}. */
export interface LoggerOptions {
  /**
   * Lines below this level are dropped.
   * @default {"info"}
   */
  level?: LogLevel;
  /**
   * `text` (readable) or `json` (one object per line).
   * @default {"text"}
   */
  format?: "text" | "json";
  /** Where lines go. @default {a writer to stderr} */
  write?: (line: string) => void;
  /** The component name shown on each line, e.g. `receiver`. */
  name?: string;
}

const SECRET = /key|password|secret|token|authorization/i;

/**
 * `scheme://` followed by userinfo up to its last `@` before the host. The scheme's length is
 * bounded so that a long text of words and dots costs linear time, not quadratic.
 */
const URL_USERINFO = /\b([a-z][a-z0-9+.-]{0,31}:\/\/)[^\s/?#]*@/gi;

/**
 * The text with the credentials of every URL in it hidden: `http://user:pass@host/` becomes
 * `http://***@host/`. Works on a URL, on an invalid one, and on any message that quotes URLs.
 *
 * @param text A URL or any text.
 * @returns The text without URL credentials.
 *
 * @example
 * ```ts
 * import { redactUrl } from "./log.ts";
 * import assert from "node:assert/strict";
 * assert.equal(redactUrl("mqtt://p1:pw@host:99999"), "mqtt://***@host:99999");
 * ```
 */
export function redactUrl(text: string): string {
  return text.replace(URL_USERINFO, "$1***@");
}

/** Replaces the values of fields whose names look secret (API keys, passwords) with `***`. */
export function redact(fields: LogFields): LogFields {
  const out: LogFields = {};
  for (const [key, value] of Object.entries(fields)) {
    out[key] = SECRET.test(key) && value ? "***" : value;
  }
  return out;
}

/** JSON.stringify's replacer: secret-looking keys at any depth and URL credentials hidden. */
function hideSecrets(key: string, value: unknown): unknown {
  if (key !== "" && SECRET.test(key) && value) return "***";
  if (typeof value === "string") return redactUrl(value);
  if (value instanceof Error) return redactUrl(value.message);
  return value;
}

const encoder = new TextEncoder();

function toStderr(line: string): void {
  Deno.stderr.writeSync(encoder.encode(`${line}\n`));
}

function formatValue(value: unknown): string {
  if (typeof value === "string") {
    const safe = redactUrl(value);
    return /^[\w./:@+-]+$/.test(safe) ? safe : JSON.stringify(safe);
  }
  return JSON.stringify(value, hideSecrets) ?? String(value);
}

/**
 * Makes a logger.
 *
 * @param options Level, format, destination and component name.
 * @returns The logger.
 *
 * @example
 * ```ts
 * import { createLogger } from "./log.ts";
 * import assert from "node:assert/strict";
 * const lines: string[] = [];
 * const log = createLogger({ format: "json", write: (line) => lines.push(line), name: "push" });
 * log.info("paused", { apiKey: "s3cret", status: 403 });
 * assert.equal(JSON.parse(lines[0]!).apiKey, "***");
 * ```
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const threshold = LOG_LEVELS.indexOf(options.level ?? "info");
  const write = options.write ?? toStderr;
  const json = options.format === "json";
  const name = options.name;
  const emit = (level: LogLevel, message: string, fields: LogFields = {}) => {
    if (LOG_LEVELS.indexOf(level) < threshold) return;
    const safe = redact(fields);
    const time = new Date().toISOString();
    // URL credentials are hidden in the message and every field, whoever wrote the line.
    if (json) {
      write(JSON.stringify(
        { time, level, ...(name ? { logger: name } : {}), msg: message, ...safe },
        hideSecrets,
      ));
    } else {
      const extra = Object.entries(safe).map(([key, value]) => ` ${key}=${formatValue(value)}`)
        .join("");
      write(
        `${time} ${level.toUpperCase().padEnd(5)} ${name ? `${name}: ` : ""}${
          redactUrl(message)
        }${extra}`,
      );
    }
  };
  return {
    debug: (message, fields) => emit("debug", message, fields),
    info: (message, fields) => emit("info", message, fields),
    warn: (message, fields) => emit("warn", message, fields),
    error: (message, fields) => emit("error", message, fields),
  };
}

/** A logger that drops everything (the library's default). */
export const SILENT: Logger = { debug() {}, info() {}, warn() {}, error() {} };
