import assert from "node:assert/strict";
import { ROOT } from "./support/paths.ts";

const README = Deno.readTextFileSync(`${ROOT}README.md`);

Deno.test("README fits on two terminal screens: under 150 lines of at most 100 characters", () => {
  const lines = README.split("\n");
  assert.ok(lines.length < 150, `README has ${lines.length} lines`);
  const wide = lines.filter((line) => line.length > 100);
  assert.deepEqual(wide, []);
});

Deno.test("README links every page of docs/, the migration guide among them", () => {
  const pages = [...Deno.readDirSync(`${ROOT}docs`)].map((entry) => `docs/${entry.name}`);
  assert.ok(pages.includes("docs/migrating.md"));
  for (const page of pages) {
    assert.ok(README.includes(`](${page})`), `README does not link ${page}`);
  }
});

Deno.test("docs/development.md names every deno.json task", () => {
  const { tasks } = JSON.parse(Deno.readTextFileSync(`${ROOT}deno.json`));
  const page = Deno.readTextFileSync(`${ROOT}docs/development.md`);
  for (const task of Object.keys(tasks)) assert.ok(page.includes(`\`deno task ${task}`), task);
});
