import assert from "node:assert/strict";
import { catalogueKey, FIELDS } from "../../lib/dsmr/fields.ts";
import { fieldsOf, FORMAT_ALIASES, FORMATS } from "../../lib/dsmr/formats.ts";

const OBIS = /^\d-(\d|n):\d{1,3}\.\d{1,3}\.\d{1,3}$/;

Deno.test("FIELDS rows all have a well-formed OBIS reference", () => {
  for (const row of FIELDS) assert.match(row.obis, OBIS, row.obis);
});

Deno.test("FIELDS has no reference twice within a format", () => {
  for (const spec of Object.values(FORMATS)) {
    const rows = FIELDS.filter((row) => spec.groups.includes(row.group));
    assert.equal(fieldsOf(spec).size, rows.length, `${spec.id} has duplicate references`);
  }
});

Deno.test("every format id is lower case and every alias names a format", () => {
  for (const [id, spec] of Object.entries(FORMATS)) {
    assert.equal(id, spec.id);
    assert.match(id, /^[a-z0-9]+$/);
  }
  for (const target of Object.values(FORMAT_ALIASES)) assert.ok(FORMATS[target]);
});

Deno.test("catalogueKey() maps M-Bus channels to n and drops a .255 suffix", () => {
  assert.deepEqual(catalogueKey("0-2:24.2.1"), { key: "0-n:24.2.1", channel: 2 });
  assert.deepEqual(catalogueKey("1-0:1.8.0*255"), { key: "1-0:1.8.0", channel: 0 });
  assert.deepEqual(catalogueKey("0-0:96.1.1"), { key: "0-0:96.1.1", channel: 0 });
});
