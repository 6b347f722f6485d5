/**
 * "Did you mean ...?" for a mistyped setting name: the closest known name by edit distance
 * (insertions, deletions, substitutions and swaps of neighbours, ignoring case), when it is
 * close enough to be a typo rather than another word.
 *
 * @module
 */

/** The edit distance between two names, ignoring case (optimal string alignment). */
export function editDistance(a: string, b: string): number {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  // Three rows of the distance matrix: two back (for swaps), one back, and the current one.
  let twoBack: number[] = [];
  let previous = Array.from({ length: y.length + 1 }, (_, j) => j);
  for (let i = 1; i <= x.length; i++) {
    const current = [i];
    for (let j = 1; j <= y.length; j++) {
      const cost = x[i - 1] === y[j - 1] ? 0 : 1;
      let best = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost);
      if (i > 1 && j > 1 && x[i - 1] === y[j - 2] && x[i - 2] === y[j - 1]) {
        best = Math.min(best, twoBack[j - 2]! + 1);
      }
      current.push(best);
    }
    twoBack = previous;
    previous = current;
  }
  return previous[y.length]!;
}

/**
 * The known name closest to `given`, when at most a third of its letters are off.
 *
 * @param given The name as written, e.g. `SerialPrt`.
 * @param known The names that exist.
 * @returns The closest one, e.g. `SerialPort`, or `undefined`.
 *
 * @example
 * ```ts
 * import { closest } from "./suggest.ts";
 * import assert from "node:assert/strict";
 * assert.equal(closest("SerialPrt", ["SerialPort", "Format"]), "SerialPort");
 * assert.equal(closest("bogus", ["port", "host"]), undefined);
 * ```
 */
export function closest(given: string, known: Iterable<string>): string | undefined {
  if (given.length > 100) return undefined; // no setting name is that long; spare the quadratic work
  const limit = Math.max(1, Math.floor(given.length / 3));
  let best: { name: string; distance: number } | undefined;
  for (const name of known) {
    const distance = editDistance(given, name);
    if (distance <= limit && (best === undefined || distance < best.distance)) {
      best = { name, distance };
    }
  }
  return best?.name;
}

/** ` (did you mean NAME?)` when a known name is close to `given`, else an empty string. */
export function didYouMean(given: string, known: Iterable<string>): string {
  const name = closest(given, known);
  return name === undefined ? "" : ` (did you mean ${name}?)`;
}
