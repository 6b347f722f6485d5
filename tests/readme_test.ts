import assert from "node:assert/strict";
import { FORMAT_ALIASES, FORMATS } from "../lib/dsmr/formats.ts";
import { ROOT } from "./support/paths.ts";

const README = Deno.readTextFileSync(`${ROOT}README.md`);
/** Every Markdown table row of the README as its trimmed cells joined by " | ". */
const ROWS = new Set(
  README.split("\n").filter((line) => line.startsWith("|")).map((line) =>
    line.split("|").slice(1, -1).map((cell) => cell.trim()).join(" | ")
  ),
);

Deno.test("README lists every format with its serial settings and CRC rule", () => {
  for (const spec of Object.values(FORMATS)) {
    const serial = `${spec.serial.baudRate} ${spec.serial.dataBits}${
      spec.serial.parity[0]!.toUpperCase()
    }${spec.serial.stopBits}`;
    const row =
      `\`${spec.id}\` | ${spec.description} | ${serial} | ${spec.checksum} | ${spec.intervalSeconds} s`;
    assert.ok(ROWS.has(row), `README is missing the row: ${row}`);
  }
  for (const alias of Object.keys(FORMAT_ALIASES)) {
    assert.ok(README.includes(`\`${alias}\``), alias);
  }
});

Deno.test("README's development table names every deno.json task", () => {
  const { tasks } = JSON.parse(Deno.readTextFileSync(`${ROOT}deno.json`));
  for (const task of Object.keys(tasks)) assert.ok(README.includes(`deno task ${task}`), task);
});

Deno.test("README's configuration table has every option with its names and default", async () => {
  const { OPTIONS } = await import("../lib/config.ts");
  for (const option of OPTIONS) {
    const original = (option.original ?? []).map((name) => `\`${name}\``).join(", ") || "-";
    const fallback = option.default === undefined ? "-" : `\`${option.default}\``;
    const prefix = `\`--${option.name}\` | \`${option.env}\` | ${original} | ${fallback} |`;
    assert.ok([...ROWS].some((row) => row.startsWith(prefix)), `README is missing: ${prefix}`);
  }
});

Deno.test("README's metrics table names every metric", async () => {
  const { METRICS } = await import("../lib/metrics/table.ts");
  for (const metric of METRICS) {
    assert.ok(
      [...ROWS].some((row) => row.startsWith(`\`${metric.name}\` | ${metric.type} |`)),
      metric.name,
    );
  }
});
