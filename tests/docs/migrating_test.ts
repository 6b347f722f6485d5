/**
 * docs/migrating.md's claims that the code can contradict: the HELP texts it quotes and the
 * process metrics it says are gone, kept and new.
 */
import assert from "node:assert/strict";
import { METRICS } from "../../lib/metrics/table.ts";
import { ROOT } from "../support/paths.ts";
import { runtimeFamilies } from "../support/reference_docs.ts";

const PAGE = Deno.readTextFileSync(`${ROOT}docs/migrating.md`);

/** A page section: from its heading to the next heading of any level. */
function section(heading: string): string {
  const from = PAGE.indexOf(`\n${heading}\n`);
  assert.ok(from >= 0, `docs/migrating.md has no "${heading}"`);
  const next = PAGE.slice(from + heading.length + 2).search(/^#/m);
  return PAGE.slice(from, next < 0 ? undefined : from + heading.length + 2 + next);
}

Deno.test("the HELP texts docs/migrating.md quotes are the ones /metrics serves", () => {
  const quoted = [...PAGE.matchAll(/^- `(p1_\w+)`:\s+`([^`]+)`/gm)];
  assert.ok(quoted.length >= 9, `only ${quoted.length} HELP texts found`);
  const help = new Map(METRICS.map((row) => [row.name, row.help]));
  for (const [, name, text] of quoted) {
    // The page wraps long lines; the HELP text is one line.
    assert.equal(text!.replace(/\s+/g, " "), help.get(name!) ?? `(no metric ${name})`, name!);
  }
});

Deno.test("docs/migrating.md names every runtime metric as kept or new, and none it calls gone", async () => {
  const served = (await runtimeFamilies()).map((family) => family.name);
  const processMetrics = section("### Process metrics");
  const gone = /^- Gone: ([\s\S]*?)\n- /m.exec(processMetrics)?.[1] ?? "";
  for (const name of served) {
    assert.ok(processMetrics.includes(`\`${name}\``), `${name} is served but not named`);
    assert.ok(!gone.includes(`\`${name}\``), `${name} is served but listed as gone`);
  }
  const table = new Set(METRICS.map((row) => row.name));
  for (const [, name] of gone.matchAll(/`(\w+)`/g)) {
    assert.ok(!table.has(name!) && !served.includes(name!), `${name} is still served`);
  }
});
