import assert from "node:assert/strict";
import { catalogueKey, FIELDS, valueFormat } from "../../lib/dsmr/fields.ts";
import { fieldsOf, FORMAT_ALIASES, FORMATS, resolveFormat } from "../../lib/dsmr/formats.ts";
import { AUTO_SERIAL_SETTINGS, serialSettingsFor } from "../../lib/source/create.ts";

const OBIS = /^\d-(\d|n):\d{1,3}\.\d{1,3}\.\d{1,3}$/;

Deno.test("FIELDS rows all have a well-formed OBIS reference", () => {
  for (const row of FIELDS) assert.match(row.obis, OBIS, row.obis);
});

Deno.test("FIELDS has no reference twice within a group", () => {
  const seen = new Set<string>();
  for (const row of FIELDS) {
    const key = `${row.group} ${row.obis}`;
    assert.ok(!seen.has(key), `${key} is in FIELDS twice`);
    seen.add(key);
  }
});

Deno.test("a format reads a later group's row for a reference an earlier group has too", () => {
  const luxembourg = fieldsOf(FORMATS.luxembourg!).get("0-0:17.0.0");
  assert.equal(luxembourg?.group, "luxembourg");
  assert.equal(luxembourg?.format, "F5(3) kVA");
  assert.equal(fieldsOf(FORMATS.dsmr50!).get("0-0:17.0.0")?.format, "F4(1) kW|A");
});

Deno.test("every row's value format can be read, and gives the digits before the point", () => {
  for (const row of FIELDS) if (row.format) valueFormat(row.format);
  assert.equal(valueFormat("F9(3) kWh").limit, 1e6);
  assert.equal(valueFormat("S4").limit, 1e4);
  assert.deepEqual(valueFormat("F4(1) kW|A").units, ["kW", "A"]);
  assert.throws(() => valueFormat("9(3) kWh"), SyntaxError);
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

Deno.test("the original's format names fix no format: they detect it and try both line settings", () => {
  for (const name of ["XS210ESMR5", "V502", "xs210esmr5", "auto"]) {
    assert.equal(resolveFormat(name), undefined, name);
    assert.deepEqual(serialSettingsFor(name), [...AUTO_SERIAL_SETTINGS], name);
  }
  assert.equal(resolveFormat("dsmr42")?.id, "dsmr42");
  assert.throws(() => resolveFormat("XS210"), /Unknown format "XS210": expected one of auto/);
});
