/**
 * The reader's version, read from `deno.json` so that there is one place to bump it.
 *
 * @module
 */

import denoJson from "../deno.json" with { type: "json" };

/** The version of this reader, e.g. `0.1.0`. */
export const VERSION: string = denoJson.version;
