import assert from "node:assert/strict";
import {
  escapeMeasurement,
  escapeTagValue,
  formatLine,
  quoteString,
} from "../../../lib/outputs/influx/line_protocol.ts";

Deno.test("a measurement escapes commas and spaces, not equals signs", () => {
  assert.equal(escapeMeasurement("a b,c=d"), "a\\ b\\,c=d");
});

Deno.test("a tag value escapes commas, equals signs and spaces", () => {
  assert.equal(escapeTagValue("E00 44,7=x"), "E00\\ 44\\,7\\=x");
});

Deno.test("a tag value with a backslash or a control character is sent as hex", () => {
  assert.equal(escapeTagValue("a\\b"), "615c62");
  assert.equal(escapeTagValue("a\nb"), "610a62");
  assert.equal(escapeTagValue("\x7f"), "7f");
});

Deno.test("a string field escapes quotes, backslashes, line ends and tabs", () => {
  assert.equal(quoteString('say "hi"\\\r\n\tnow'), '"say \\"hi\\"\\\\\\r\\n\\tnow"');
});

Deno.test("a point is measurement, sorted tags, fields and seconds", () => {
  assert.equal(
    formatLine({
      measurement: "m",
      tags: { z: "1", a: "2" },
      fields: {
        f: { kind: "float", value: 1.5 },
        i: { kind: "integer", value: -3 },
        s: { kind: "string", value: "x" },
      },
      seconds: 1_600_000_000.9,
    }),
    'm,a=2,z=1 f=1.5,i=-3i,s="x" 1600000000',
  );
});

Deno.test("a tag with an empty value is left out", () => {
  assert.equal(
    formatLine({
      measurement: "m",
      tags: { equipment_id: "" },
      fields: { f: { kind: "float", value: 0 } },
      seconds: 1,
    }),
    "m f=0 1",
  );
});

Deno.test("non-finite numbers are left out, and a point without fields gives no line", () => {
  const fields = {
    nan: { kind: "float", value: NaN },
    inf: { kind: "float", value: Infinity },
    big: { kind: "integer", value: 2 ** 60 },
  } as const;
  assert.equal(formatLine({ measurement: "m", tags: {}, fields, seconds: 1 }), undefined);
  assert.equal(
    formatLine({
      measurement: "m",
      tags: {},
      fields: { ...fields, ok: { kind: "float", value: 2 } },
      seconds: 1,
    }),
    "m ok=2 1",
  );
});
