/**
 * The generated parts of docs/ match the tables they come from: a new option, metric or format
 * (or a changed help text or default) fails here until the pages are regenerated.
 */
import assert from "node:assert/strict";
import { ROOT } from "../support/paths.ts";
import { expectedPage, GENERATED, REGENERATE } from "../support/reference_docs.ts";

for (const path of new Set(GENERATED.map((part) => part.path))) {
  const parts = GENERATED.filter((part) => part.path === path).map((part) => part.name);
  Deno.test(`${path} is up to date with the ${parts.join(" and ")} table`, async () => {
    const actual = await Deno.readTextFile(`${ROOT}${path}`);
    assert.ok(actual === await expectedPage(path), `${path} is out of date: run ${REGENERATE}`);
  });
}
