import assert from "node:assert/strict";
import {
  convertUnit,
  decodeHexText,
  decodeValue,
  readNumber,
  readQuantity,
  readTimestamp,
} from "../../lib/dsmr/values.ts";

Deno.test("readNumber() reads numbers with and without unit", () => {
  assert.deepEqual(readNumber("011080.001*kWh"), { value: 11080.001, unit: "kWh" });
  assert.deepEqual(readNumber("00046"), { value: 46 });
  assert.deepEqual(readNumber("-001.5*kW"), { value: -1.5, unit: "kW" });
  assert.deepEqual(readNumber("0000000516*s"), { value: 516, unit: "s" });
});

Deno.test("readNumber() gives exactly what Number() gives for meter-shaped decimals", () => {
  let seed = 42;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  for (let n = 0; n < 20_000; n++) {
    const whole = String(Math.floor(random() * 10 ** (1 + Math.floor(random() * 9)))).padStart(
      6,
      "0",
    );
    const decimals = Math.floor(random() * 8);
    const fraction = decimals
      ? "." + String(Math.floor(random() * 10 ** decimals)).padStart(decimals, "0")
      : "";
    const text = whole + fraction;
    assert.equal(readNumber(`${text}*kWh`)?.value, Number(text), text);
  }
  assert.equal(readNumber("00052185.7825309")?.value, 52185.7825309);
  assert.equal(readNumber("12345678901234567890.5")?.value, 12345678901234567890.5);
});

Deno.test("readNumber() refuses what is not a number", () => {
  for (const raw of ["", "*kWh", "4B38", "1.2.3", "12 3", ".", "0-0:96.7.19", "1)", "1*k)W"]) {
    assert.equal(readNumber(raw), undefined, raw);
  }
});

Deno.test("readQuantity() converts W and Wh to the canonical kW and kWh", () => {
  assert.deepEqual(readQuantity("002124.86*W", "kW"), { value: 2.12486, unit: "kW" });
  assert.deepEqual(readQuantity("006545766*Wh", "kWh"), { value: 6545.766, unit: "kWh" });
  assert.deepEqual(readQuantity("00.404*kW", "kW"), { value: 0.404, unit: "kW" });
  assert.equal(readQuantity("1.0*m3", "kWh"), undefined);
});

Deno.test("readTimestamp() turns the S/W flag into the exact UTC offset", () => {
  assert.deepEqual(readTimestamp("230205165005W"), {
    iso: "2023-02-05T16:50:05+01:00",
    epochMs: Date.UTC(2023, 1, 5, 15, 50, 5),
    raw: "230205165005W",
  });
  assert.equal(readTimestamp("230705165005S")?.epochMs, Date.UTC(2023, 6, 5, 14, 50, 5));
});

Deno.test("readTimestamp() tells apart the two 02:30 of the autumn change by the flag", () => {
  const summer = readTimestamp("241027023000S")!;
  const winter = readTimestamp("241027023000W")!;
  assert.equal(summer.iso, "2024-10-27T02:30:00+02:00");
  assert.equal(winter.iso, "2024-10-27T02:30:00+01:00");
  assert.equal(winter.epochMs - summer.epochMs, 3_600_000);
});

Deno.test("readTimestamp() applies the EU summer rule to timestamps without flag (DSMR 2.2)", () => {
  assert.equal(readTimestamp("240117100000")?.iso, "2024-01-17T10:00:00+01:00");
  assert.equal(readTimestamp("240717100000")?.iso, "2024-07-17T10:00:00+02:00");
  assert.equal(readTimestamp("240331013000")?.iso, "2024-03-31T01:30:00+01:00");
  assert.equal(readTimestamp("240331033000")?.iso, "2024-03-31T03:30:00+02:00");
});

Deno.test("readTimestamp() uses the zone's offsets", () => {
  assert.equal(
    readTimestamp("230202132747S", { summer: 60, winter: 0 })?.iso,
    "2023-02-02T13:27:47+01:00",
  );
});

Deno.test("readTimestamp() refuses invalid dates instead of inventing them", () => {
  for (
    const raw of [
      "632525252525W",
      "230230120000W",
      "230229120000W",
      "2302051650W",
      "230205165005X",
      "23020516500aW",
    ]
  ) {
    assert.equal(readTimestamp(raw), undefined, raw);
  }
  assert.equal(readTimestamp("240229120000W")?.iso, "2024-02-29T12:00:00+01:00");
});

Deno.test("decodeHexText() decodes printable hex and leaves the rest alone", () => {
  assert.equal(decodeHexText("4530303435303033383039333631343137"), "E0045003809361417");
  assert.equal(decodeHexText("00000000000000"), undefined);
  assert.equal(decodeHexText("xxx"), undefined);
  assert.equal(decodeHexText("ADC3100000158491"), undefined);
  assert.equal(decodeHexText(""), undefined);
});

Deno.test("decodeValue() reads each shape and falls back to text", () => {
  assert.deepEqual(decodeValue("", "number"), { kind: "empty" });
  assert.deepEqual(decodeValue("1.5*kW", "auto"), { kind: "number", value: 1.5, unit: "kW" });
  assert.deepEqual(decodeValue("0-0:96.7.19", "auto"), { kind: "text", value: "0-0:96.7.19" });
  assert.deepEqual(decodeValue("4142", "hex"), { kind: "text", value: "AB" });
  assert.deepEqual(decodeValue("632525252525W", "timestamp"), {
    kind: "text",
    value: "632525252525W",
  });
  assert.equal(decodeValue("230205165005W", "auto").kind, "timestamp");
});

Deno.test("readTimestamp() agrees with Date on every day of 1970-2069, at any zone offset", () => {
  const zones = [
    { summer: 120, winter: 60 },
    { summer: 60, winter: 0 },
    { summer: -240, winter: -300 },
    { summer: 345, winter: 330 },
  ];
  const two = (n: number) => String(n).padStart(2, "0");
  for (let day = Date.UTC(1970, 0, 1); day < Date.UTC(2070, 0, 1); day += 86_400_000) {
    const date = new Date(day + 13 * 3600_000 + 7 * 60_000 + 9_000);
    const local = `${two(date.getUTCFullYear() % 100)}${two(date.getUTCMonth() + 1)}` +
      `${two(date.getUTCDate())}130709`;
    const zone = zones[(day / 86_400_000) % zones.length]!;
    const time = readTimestamp(`${local}S`, zone);
    const expectedMs = date.getTime() - zone.summer * 60_000;
    assert.equal(time?.epochMs, expectedMs, local);
    const sign = zone.summer < 0 ? "-" : "+";
    const abs = Math.abs(zone.summer);
    assert.equal(
      time?.iso,
      `${date.toISOString().slice(0, 19)}${sign}${two(Math.floor(abs / 60))}:${two(abs % 60)}`,
    );
  }
});

Deno.test("convertUnit() scales W, Wh and var to their kilo units and back, and nothing else", () => {
  assert.equal(convertUnit(2124.86, "W", "kW"), 2.12486);
  assert.equal(convertUnit(6545766, "Wh", "kWh"), 6545.766);
  assert.equal(convertUnit(1500, "var", "kvar"), 1.5);
  assert.equal(convertUnit(1.5, "kW", "W"), 1500);
  assert.equal(convertUnit(1.5, "kWh", "kWh"), 1.5);
  assert.equal(convertUnit(1, "m3", "kWh"), undefined);
  assert.equal(convertUnit(1, "kW", "kWh"), undefined);
  assert.deepEqual(readQuantity("1500*var", "kvar"), { value: 1.5, unit: "kvar" });
});
