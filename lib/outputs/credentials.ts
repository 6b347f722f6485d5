/**
 * Credentials in a base URL (`https://user:password@host/path`), turned into a Basic
 * `Authorization` value so that the URL itself never carries them: `fetch` would otherwise make
 * the header itself and merge it with ours, and error messages would show the URL.
 *
 * @module
 */

/** Percent-decoded userinfo, or as written where it does not decode. */
function decoded(part: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    return part; // the option's reader refuses such URLs; a library caller gets the bytes as given
  }
}

/** Base64 of the UTF-8 bytes of `text`, as Basic authentication wants it. */
function base64(text: string): string {
  return btoa(String.fromCharCode(...new TextEncoder().encode(text)));
}

/**
 * A Basic `Authorization` value for a user and password (UTF-8, as browsers send it).
 *
 * @param user The user name.
 * @param password The password.
 * @returns `Basic <base64>`.
 */
export function basicAuthorization(user: string, password: string): string {
  return `Basic ${base64(`${user}:${password}`)}`;
}

/**
 * The base URL without its userinfo, and that userinfo as a Basic `Authorization` value.
 *
 * @param baseUrl For example `https://me:pw@example.org/dsmr`.
 * @returns The URL without credentials, and the header value when it had any.
 *
 * @example
 * ```ts
 * import { splitCredentials } from "./credentials.ts";
 * import assert from "node:assert/strict";
 * assert.deepEqual(splitCredentials("https://me:pw@example.org/dsmr"), {
 *   base: "https://example.org/dsmr",
 *   basic: "Basic bWU6cHc=",
 * });
 * ```
 */
export function splitCredentials(baseUrl: string): { base: string; basic: string | undefined } {
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    return { base: baseUrl, basic: undefined }; // fetch will say what is wrong with it
  }
  if (url.username === "" && url.password === "") return { base: baseUrl, basic: undefined };
  const basic = basicAuthorization(decoded(url.username), decoded(url.password));
  url.username = "";
  url.password = "";
  return { base: url.href, basic };
}
