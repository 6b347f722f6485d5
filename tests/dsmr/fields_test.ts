import assert from "node:assert/strict";
import { catalogueEntry, catalogueKey, rowsOf } from "../../lib/dsmr/catalogue.ts";
import { FIELDS } from "../../lib/dsmr/fields.ts";
import { FORMAT_ALIASES, FORMAT_IDS, FORMATS, resolveFormat } from "../../lib/dsmr/formats.ts";
import { valueFormat } from "../../lib/dsmr/lines.ts";
import { DEVICE_SETTERS, TELEGRAM_SETTERS } from "../../lib/dsmr/store.ts";
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

Deno.test("FIELDS fill only fields that have a setter, M-Bus fields only from 0-n rows", () => {
  for (const row of FIELDS) {
    const device = row.field.startsWith("mbus[].");
    assert.equal(device, row.obis.startsWith("0-n:"), row.obis);
    assert.ok(row.field in (device ? DEVICE_SETTERS : TELEGRAM_SETTERS), row.field);
  }
});

Deno.test("a format reads a later group's row for a reference an earlier group has too", () => {
  const luxembourg = rowsOf(FORMATS.luxembourg).get("0-0:17.0.0");
  assert.equal(luxembourg?.group, "luxembourg");
  assert.equal(luxembourg?.format, "F5(3) kVA");
  assert.equal(rowsOf(FORMATS.dsmr50).get("0-0:17.0.0")?.format, "F4(1) kW|A");
});

Deno.test("every row's value format can be read, and gives the digits before the point", () => {
  for (const row of FIELDS) if (row.format) valueFormat(row.format);
  assert.equal(valueFormat("F9(3) kWh").limit, 1e6);
  assert.equal(valueFormat("S4").limit, 1e4);
  assert.deepEqual(valueFormat("F4(1) kW|A").units, ["kW", "A"]);
  assert.throws(() => valueFormat("9(3) kWh"), SyntaxError);
});

Deno.test("every format id is lower case and every alias names a format", () => {
  assert.deepEqual(FORMAT_IDS, Object.keys(FORMATS));
  for (const id of FORMAT_IDS) assert.match(id, /^[a-z0-9]+$/);
  for (const target of Object.values(FORMAT_ALIASES)) assert.ok(FORMATS[target]);
});

Deno.test("catalogueKey() maps M-Bus channels to n and drops a .255 suffix", () => {
  assert.deepEqual(catalogueKey("0-2:24.2.1"), { key: "0-n:24.2.1", channel: 2 });
  assert.deepEqual(catalogueKey("1-0:1.8.0*255"), { key: "1-0:1.8.0", channel: 0 });
  assert.deepEqual(catalogueKey("0-0:96.1.1"), { key: "0-0:96.1.1", channel: 0 });
});

Deno.test("a format's catalogue knows each reference as meters write it, and only those", () => {
  const dsmr50 = (reference: string) => catalogueEntry("dsmr50", reference);
  for (const reference of ["1-0:1.8.1", "1-0:1.8.1*255", "1-0:1.8.1.255"]) {
    assert.equal(dsmr50(reference)?.field, "energy.import.t1", reference);
  }
  for (let channel = 1; channel <= 9; channel++) {
    const entry = dsmr50(`0-${channel}:24.2.1`);
    assert.deepEqual([entry?.field, entry?.channel], ["mbus[].reading", channel]);
  }
  for (const reference of ["0-n:24.2.1", "0-0:24.2.1", "0-10:24.2.1", "1-0:1.8.10", "1-0:1.8"]) {
    assert.equal(dsmr50(reference), undefined, reference);
  }
  // Q3D's serial number row is written with its own .255, so only a further suffix reads it.
  assert.equal(catalogueEntry("q3d", "0-0:96.1.255*255")?.field, "equipmentId");
  assert.equal(catalogueEntry("q3d", "0-0:96.1.255"), undefined);
});

Deno.test("resolveFormat() fixes an id and detects for auto and the original's names", () => {
  assert.deepEqual(resolveFormat("dsmr42"), { kind: "fixed", id: "dsmr42", name: "dsmr42" });
  assert.deepEqual(resolveFormat("Belgium"), { kind: "fixed", id: "belgium", name: "Belgium" });
  assert.deepEqual(resolveFormat("auto"), { kind: "detect", name: "auto" });
  assert.deepEqual(resolveFormat("xs210esmr5"), {
    kind: "detect",
    name: "xs210esmr5",
    meant: "dsmr50",
  });
  assert.throws(() => resolveFormat("XS210"), /Unknown format "XS210": expected one of auto/);
  assert.throws(() => resolveFormat("toString"), RangeError);
});

Deno.test("the original's format names fix no format: they detect it and try both line settings", () => {
  for (const name of ["XS210ESMR5", "V502", "xs210esmr5", "auto"]) {
    assert.equal(resolveFormat(name).kind, "detect", name);
    assert.deepEqual(serialSettingsFor(resolveFormat(name)), [...AUTO_SERIAL_SETTINGS], name);
  }
  assert.deepEqual(serialSettingsFor("dsmr22"), [FORMATS.dsmr22.serial]);
});
