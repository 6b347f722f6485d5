/**
 * InfluxDB line protocol, written by hand: one point is
 *
 * ```
 * measurement[,tag=value...] field=value[,field=value...] timestamp
 * ```
 *
 * Escaping follows what InfluxDB 1.x, InfluxDB 2.x and VictoriaMetrics all read the same way:
 * commas and spaces in measurements; commas, equals signs and spaces in tag keys, tag values and
 * field keys; double quotes and backslashes in string fields. Two things they read differently
 * are never written: a backslash in a tag value (InfluxDB 1.x keeps `\\` as two backslashes,
 * VictoriaMetrics and InfluxDB 2.x make it one), and a line end inside a string field
 * (VictoriaMetrics splits lines before it parses quotes and skips both halves). So a tag value
 * with a backslash or a control character is sent as the hex of its characters, and line ends
 * and tabs in a string field are sent as `\n`, `\r` and `\t`, as Telegraf does.
 *
 * @module
 */

/** A field value: a float, an integer (written with `i`), or text. */
export type FieldValue =
  | { kind: "float"; value: number }
  | { kind: "integer"; value: number }
  | { kind: "string"; value: string };

/** One point. */
export interface Point {
  /** The measurement, e.g. `electricity`. */
  measurement: string;
  /** Tags by key; tags with an empty value are left out (line protocol has no empty tag). */
  tags: Readonly<Record<string, string>>;
  /** Fields by key, in the order they are written; non-finite numbers are left out. */
  fields: Readonly<Record<string, FieldValue>>;
  /** Seconds since the epoch (the write's precision is `s`). */
  seconds: number;
}

/** Escapes a measurement: commas and spaces. */
export function escapeMeasurement(name: string): string {
  return name.replace(/[, ]/g, "\\$&");
}

/** Escapes a tag key or field key: commas, equals signs and spaces. */
export function escapeKey(key: string): string {
  return key.replace(/[,= ]/g, "\\$&");
}

/** A character that the three readers of line protocol do not read alike in a tag value. */
// deno-lint-ignore no-control-regex -- control characters are exactly what it looks for
const UNSAFE_IN_TAG = /[\\\x00-\x1f\x7f]/;

/**
 * Escapes a tag value. One with a backslash or a control character is written as the hex of its
 * characters instead (see the module documentation), so that every server stores the same tag.
 *
 * @param value The tag value.
 * @returns The escaped value.
 */
export function escapeTagValue(value: string): string {
  if (UNSAFE_IN_TAG.test(value)) {
    return [...value].map((c) => c.codePointAt(0)!.toString(16).padStart(2, "0")).join("");
  }
  return escapeKey(value);
}

const STRING_ESCAPES: Readonly<Record<string, string>> = {
  "\\": "\\\\",
  '"': '\\"',
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t",
};

/** A string field value in double quotes, escaped. */
export function quoteString(value: string): string {
  return `"${value.replace(/[\\"\n\r\t]/g, (c) => STRING_ESCAPES[c]!)}"`;
}

function formatField(field: FieldValue): string | undefined {
  switch (field.kind) {
    case "string":
      return quoteString(field.value);
    case "integer":
      return Number.isSafeInteger(field.value) ? `${field.value}i` : undefined;
    case "float":
      return Number.isFinite(field.value) ? String(field.value) : undefined;
  }
}

/**
 * One point as a line (without a line end), or `undefined` when it has no field to write.
 *
 * @param point The point.
 * @returns The line.
 *
 * @example
 * ```ts
 * import { formatLine } from "./line_protocol.ts";
 * import assert from "node:assert/strict";
 * const line = formatLine({
 *   measurement: "electricity",
 *   tags: { equipment_id: "E0044 007" },
 *   fields: { power_import_kw: { kind: "float", value: 0.111 }, tariff: { kind: "integer", value: 1 } },
 *   seconds: 1587933205,
 * });
 * assert.equal(line, "electricity,equipment_id=E0044\\ 007 power_import_kw=0.111,tariff=1i 1587933205");
 * ```
 */
export function formatLine(point: Point): string | undefined {
  let fields = "";
  for (const [key, field] of Object.entries(point.fields)) {
    const value = formatField(field);
    if (value !== undefined) fields += `${fields === "" ? "" : ","}${escapeKey(key)}=${value}`;
  }
  if (fields === "") return undefined;
  let series = escapeMeasurement(point.measurement);
  // Sorted by key, as InfluxDB recommends: it then need not sort them itself.
  for (const key of Object.keys(point.tags).sort()) {
    const value = point.tags[key]!;
    if (value !== "") series += `,${escapeKey(key)}=${escapeTagValue(value)}`;
  }
  return `${series} ${fields} ${Math.floor(point.seconds)}`;
}
