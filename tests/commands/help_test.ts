/**
 * The command line's help texts, as a terminal shows them.
 */
import assert from "node:assert/strict";
import { wrap } from "../../lib/config.ts";
import { BACKUP_USAGE } from "../../lib/commands/backup_command.ts";
import { IMPORT_USAGE } from "../../lib/commands/import_command.ts";
import { PARSE_USAGE } from "../../lib/commands/parse_command.ts";
import { serveUsage } from "../../lib/commands/serve_command.ts";

Deno.test("every help text fits a terminal of 100 columns", () => {
  const texts = {
    serve: serveUsage(),
    parse: PARSE_USAGE,
    import: IMPORT_USAGE,
    backup: BACKUP_USAGE,
  };
  for (const [command, text] of Object.entries(texts)) {
    const wide = text.split("\n").filter((line) => line.length > 100);
    assert.deepEqual(wide, [], `p1reader ${command} --help`);
  }
});

Deno.test("serve's help names every route a user opens", () => {
  for (const route of ["/ui", "/api/v1/stream", "/api/v1/history", "/api/v1/usage", "/metrics"]) {
    assert.ok(serveUsage().includes(route), route);
  }
});

Deno.test("wrap() breaks at spaces within 100 columns and keeps a longer word on its own line", () => {
  const text = wrap(`${"word ".repeat(40)}${"x".repeat(120)} end`, "    ");
  const lines = text.split("\n");
  assert.ok(lines.every((line) => line.startsWith("    ")));
  assert.ok(lines.filter((line) => !line.includes("x")).every((line) => line.length <= 100));
  assert.equal(lines.find((line) => line.includes("x")), `    ${"x".repeat(120)}`);
  assert.equal(
    lines.join(" ").replace(/\s+/g, " ").trim(),
    `${"word ".repeat(40)}${"x".repeat(120)} end`,
  );
});
