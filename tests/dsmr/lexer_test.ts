import assert from "node:assert/strict";
import { lexTelegram as lex, ReferenceTable } from "../../lib/dsmr/lexer.ts";
import { latin1Bytes } from "../../lib/bytes.ts";

/**
 * What a text lexes to, each line as its reference and groups: where they stand and their
 * symbols have tests of their own below.
 */
function lexTelegram(text: string) {
  const { lines, ...rest } = lex(text);
  return { ...rest, lines: lines.map(({ reference, groups }) => ({ reference, groups })) };
}

Deno.test("lexTelegram() reads CR LF and bare LF lines alike, skipping empty ones", () => {
  const crlf = lexTelegram("/ISK5\r\n\r\n1-0:1.8.1(1.5*kWh)\r\n0-0:96.14.0(0002)\r\n!1234\r\n");
  const lf = lexTelegram("/ISK5\n\n1-0:1.8.1(1.5*kWh)\n\n0-0:96.14.0(0002)\n!1234\n");
  const expected = {
    header: "ISK5",
    lines: [
      { reference: "1-0:1.8.1", groups: ["1.5*kWh"] },
      { reference: "0-0:96.14.0", groups: ["0002"] },
    ],
  };
  assert.deepEqual(crlf, expected);
  assert.deepEqual(lf, expected);
});

Deno.test("lexTelegram() keeps every group, empty ones included, and ignores text after them", () => {
  const { lines } = lexTelegram(
    "/X\r\n1-0:99.97.0(1)(0-0:96.7.19)(230101010101W)(0000000240*s) trailing\r\n" +
      "0-0:96.13.0()\r\n!",
  );
  assert.deepEqual(lines, [
    {
      reference: "1-0:99.97.0",
      groups: ["1", "0-0:96.7.19", "230101010101W", "0000000240*s"],
    },
    { reference: "0-0:96.13.0", groups: [""] },
  ]);
});

Deno.test("lexTelegram() joins a line that starts with ( to the line before (DSMR 2.2 gas)", () => {
  const { lines } = lexTelegram(
    "/KMP5\r\n0-1:24.3.0(121030140000)(00)(60)(1)(0-1:24.2.1)(m3)\r\n(00123.456)\r\n!\r\n",
  );
  assert.deepEqual(lines, [{
    reference: "0-1:24.3.0",
    groups: ["121030140000", "00", "60", "1", "0-1:24.2.1", "m3", "00123.456"],
  }]);
});

Deno.test("lexTelegram() runs an unclosed group to its line end, and never past it", () => {
  const { lines } = lexTelegram("/X\r\n1-0:1.8.1(12.5*kWh\r\n1-0:1.8.2(3.0*kWh)\r\n!");
  assert.deepEqual(lines, [
    { reference: "1-0:1.8.1", groups: ["12.5*kWh"] },
    { reference: "1-0:1.8.2", groups: ["3.0*kWh"] },
  ]);
});

Deno.test("lexTelegram() keeps a line without parentheses, and trims references", () => {
  const { lines } = lexTelegram("/X\r\n  1-0:1.8.1 (1)\r\nno values\r\n!");
  assert.deepEqual(lines, [
    { reference: "1-0:1.8.1", groups: ["1"] },
    { reference: "no values", groups: [] },
  ]);
});

Deno.test("lexTelegram() stops at the ! line and reads only the first header", () => {
  const { header, lines } = lexTelegram(
    "/ONE\r\n1-0:1.8.1(1)\r\n/TWO\r\n!ABCD\r\n1-0:1.8.2(2)\r\n",
  );
  assert.equal(header, "ONE");
  assert.deepEqual(lines, [{ reference: "1-0:1.8.1", groups: ["1"] }]);
});

Deno.test("lexTelegram() reads a text without identification line", () => {
  assert.deepEqual(lexTelegram("1-0:1.7.0(00.404*kW)"), {
    lines: [{ reference: "1-0:1.7.0", groups: ["00.404*kW"] }],
  });
});

Deno.test("lexTelegram() gives each line its reference's symbol and the table's one string", () => {
  const table = new ReferenceTable(["1-0:1.8.1", "1-0:1.8.2", "0-1:24.2.1"]);
  const text =
    "/X\r\n1-0:1.8.2(1)\r\n 1-0:1.8.1 (2)\r\n1-0:1.8.1\r\n1-0:1.8.3(3)\r\n1-0:1.8.10(4)\r\n!";
  const lines = lex(text, latin1Bytes(text), table).lines;
  assert.deepEqual(lines.map((line) => [line.reference, line.symbol]), [
    ["1-0:1.8.2", 1],
    ["1-0:1.8.1", 0],
    ["1-0:1.8.1", 0],
    ["1-0:1.8.3", -1],
    ["1-0:1.8.10", -1],
  ]);
  for (const line of lines.filter((line) => line.symbol >= 0)) {
    assert.equal(line.reference, table.referenceOf(line.symbol));
  }
});

Deno.test("ReferenceTable finds every reference it holds, and none other, among thousands", () => {
  const references = [];
  for (let a = 0; a < 40; a++) for (let b = 0; b < 100; b++) references.push(`1-0:${a}.${b}.0`);
  const table = new ReferenceTable(references);
  assert.equal(table.size, references.length);
  references.forEach((reference, symbol) => {
    assert.equal(table.symbolOf(reference), symbol);
    assert.equal(table.referenceOf(symbol), reference);
  });
  for (const other of ["1-0:40.0.0", "1-0:1.100.0", "", "1-0:1.8", "1-0:1.8.0.0"]) {
    assert.equal(table.symbolOf(other), -1, other);
  }
});

Deno.test("lexTelegram() says where a line's groups stand, when they follow each other on it", () => {
  const text = "/X\r\n1-0:1.8.1(1)(22)\r\n 1-0:1.8.2 (3)\r\n1-0:99.1.0\r\n" +
    "0-1:24.3.0(4)\r\n(5)\r\n0-0:96.13.0(3031\r\n3233)\r\n!";
  const lines = lex(text).lines;
  assert.deepEqual(lines.map((line) => [line.reference, line.at]), [
    ["1-0:1.8.1", text.indexOf("(1)")],
    ["1-0:1.8.2", text.indexOf("(3)")],
    ["1-0:99.1.0", -1], // no groups
    ["0-1:24.3.0", -1], // a group on the next line
    ["0-0:96.13.0", -1], // a group joined over a line break
  ]);
  const [first] = lines;
  assert.equal(text.slice(first!.at + 1 + 1 + 2, first!.at + 1 + 1 + 2 + 2), "22");
});
