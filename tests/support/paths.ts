/**
 * Paths the tests share: the project's fixtures and the shared corpus beside the checkout.
 *
 * @module
 */

/** The project root. */
export const ROOT: string = new URL("../../", import.meta.url).pathname;

/** Absolute path of a file in `fixtures/`. */
export function fixture(name: string): string {
  return `${ROOT}fixtures/${name}`;
}

/** The shared corpus (`../shared/corpus` beside the checkout), or `undefined` when absent. */
export const CORPUS: string | undefined = (() => {
  const path = new URL("../../../shared/corpus/", import.meta.url).pathname;
  try {
    return Deno.statSync(`${path}expected.json`).isFile ? path : undefined;
  } catch {
    return undefined;
  }
})();

/** Reads a fixture as bytes. */
export function fixtureBytes(name: string): Uint8Array {
  return Deno.readFileSync(fixture(name));
}
