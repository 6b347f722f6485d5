import assert from "node:assert/strict";
import { crc16, formatCrc } from "../../../lib/dsmr/crc16.ts";
import { parseTelegram } from "../../../lib/dsmr/parse.ts";
import { formatLine } from "../../../lib/outputs/influx/line_protocol.ts";
import { telegramPoints } from "../../../lib/outputs/influx/points.ts";
import { fixture } from "../../support/paths.ts";

const RECEIVED_AT = Date.UTC(2025, 0, 2, 3, 4, 5, 600);

function linesOf(text: string) {
  const { reading, events } = telegramPoints(parseTelegram(text, { format: "auto" }), RECEIVED_AT);
  return { reading: reading.map(formatLine), events: events.map(formatLine) };
}

function fixtureText(name: string): string {
  return new TextDecoder("latin1").decode(Deno.readFileSync(fixture(name)));
}

Deno.test("a Dutch three-phase meter with four M-Bus devices gives every value with its unit and time", () => {
  const meter = "equipment_id=E0043007052870318";
  assert.deepEqual(linesOf(fixtureText("nl-dsmr50-3phase-4mbus.txt")), {
    reading: [
      `electricity,${meter} import_t1_kwh=12345.678,import_t2_kwh=23456.789,` +
      "export_t1_kwh=1234.567,export_t2_kwh=2345.678,power_import_kw=1.193,power_export_kw=0," +
      'tariff=2i,power_failures=12i,long_power_failures=3i,text_message="Storing gepland 1 juli" ' +
      "1719784799",
      `electricity_phase,${meter},phase=l1 voltage_v=230.1,current_a=2,power_import_kw=0.412,` +
      "power_export_kw=0,voltage_sags=2i,voltage_swells=0i 1719784799",
      `electricity_phase,${meter},phase=l2 voltage_v=229.8,current_a=1,power_import_kw=0.131,` +
      "power_export_kw=0,voltage_sags=1i,voltage_swells=3i 1719784799",
      `electricity_phase,${meter},phase=l3 voltage_v=231,current_a=3,power_import_kw=0.65,` +
      "power_export_kw=0,voltage_sags=0i,voltage_swells=0i 1719784799",
    ],
    events: [
      "gas,channel=1,equipment_id=G0012345678901234 value_m3=4321.987 1719784500",
      "water,channel=2,equipment_id=W0098765432109876 value_m3=123.456 1719784200",
      "heat,channel=3,equipment_id=H0055555555555555 value_gj=12.34 1719781200",
      "electricity_mbus,channel=4,equipment_id=E0077777777777777 value_kwh=987.654 1719784500",
      `power_failure,${meter} duration_s=3600i 1698544512`,
      `power_failure,${meter} duration_s=240i 1711847700`,
    ],
  });
});

Deno.test("a Belgian meter gives its thresholds, quarter-hour demand and monthly peaks", () => {
  const meter = "equipment_id=1SAG1100042181";
  assert.deepEqual(linesOf(fixtureText("be-emucs-peak.txt")), {
    reading: [
      `electricity,${meter} import_t1_kwh=512.345,import_t2_kwh=400.1,export_t1_kwh=150,` +
      "export_t2_kwh=50.5,power_import_kw=0.87,power_export_kw=0,tariff=1i,breaker_state=1i," +
      'limiter_threshold_kw=999.9,fuse_threshold_a=999,demand_average_kw=2.351,text_message="" ' +
      "1734260400",
      `electricity_phase,${meter},phase=l1 voltage_v=232.4,current_a=4.12,power_import_kw=0.87,` +
      "power_export_kw=0 1734260400",
    ],
    events: [
      "gas,channel=1,equipment_id=3SAG4420112345 value_m3=1234.567,valve=1i 1734260100",
      `demand_peak,${meter} peak_kw=4.128 1733247900`,
      `demand_peak,${meter} peak_kw=3.695 1726593300`,
      `demand_peak,${meter} peak_kw=5 1729748700`,
    ],
  });
});

Deno.test("a telegram without a timestamp is written at the second it arrived", () => {
  const { reading } = linesOf(fixtureText("nl-dsmr22-gas-nextline.txt"));
  assert.ok(reading.length > 0);
  for (const line of reading) assert.match(line!, / 1735787045$/);
});

Deno.test("an M-Bus reading stamped 1970 (an empty channel) is not a point", () => {
  const text = "/ISK5\\2M550T-1012\r\n\r\n1-3:0.2.8(50)\r\n0-0:1.0.0(200426223325S)\r\n" +
    "1-0:1.8.1(002130.115*kWh)\r\n0-1:24.1.0(003)\r\n0-1:96.1.0()\r\n" +
    "0-1:24.2.1(700101010000W)(00000000)\r\n!";
  const crc = formatCrc(crc16(new TextEncoder().encode(text)));
  assert.deepEqual(linesOf(`${text}${crc}\r\n`).events, []);
});
