/**
 * JSON with comments (`//` and `/* *\/`) and trailing commas, as .NET reads `appsettings.json`:
 * the original product shipped its DSMR reader section commented out. Comments and trailing
 * commas become spaces, so that `JSON.parse`'s positions still point into the file as written.
 *
 * @module
 */

/**
 * The text with its comments and trailing commas blanked out (line ends kept).
 *
 * @param text JSON with comments.
 * @returns Plain JSON of the same length.
 * @throws {SyntaxError} When a block comment is not closed.
 */
export function stripJsonComments(text: string): string {
  const out: string[] = [];
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0; // a byte order mark, as editors on Windows write
  if (i === 1) out.push(" ");
  let lastSignificant = -1; // where in `out` the last character outside comments and blanks is
  while (i < text.length) {
    const char = text[i]!;
    if (char === '"') {
      const start = i;
      i++;
      while (i < text.length && text[i] !== '"') i += text[i] === "\\" ? 2 : 1;
      i++;
      out.push(text.slice(start, i));
      lastSignificant = out.length - 1;
    } else if (char === "/" && text[i + 1] === "/") {
      const end = text.indexOf("\n", i);
      const stop = end === -1 ? text.length : end;
      out.push(" ".repeat(stop - i));
      i = stop;
    } else if (char === "/" && text[i + 1] === "*") {
      const end = text.indexOf("*/", i + 2);
      if (end === -1) {
        const line = text.slice(0, i).split("\n").length;
        throw new SyntaxError(`a /* comment on line ${line} is never closed`);
      }
      out.push(text.slice(i, end + 2).replace(/[^\r\n]/g, " "));
      i = end + 2;
    } else {
      if ((char === "}" || char === "]") && out[lastSignificant] === ",") {
        out[lastSignificant] = " ";
      }
      out.push(char);
      if (!/\s/.test(char)) lastSignificant = out.length - 1;
      i++;
    }
  }
  return out.join("");
}

/**
 * Parses JSON that may hold comments and trailing commas.
 *
 * @param text The file's text.
 * @returns The value.
 * @throws {SyntaxError} When it is not JSON, even without its comments.
 *
 * @example
 * ```ts
 * import { parseJsonWithComments } from "./jsonc.ts";
 * import assert from "node:assert/strict";
 * const text = '{\n  "port": 80, // the container\'s\n  // "mqtt-url": "mqtt://x",\n}';
 * assert.deepEqual(parseJsonWithComments(text), { port: 80 });
 * ```
 */
export function parseJsonWithComments(text: string): unknown {
  return JSON.parse(stripJsonComments(text));
}
