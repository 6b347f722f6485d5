/**
 * DSMR 5.0.2 telegrams written the way a meter writes them, with a valid CRC, for tests that need
 * many telegrams at chosen times with chosen registers (history over months, DST changes, gaps).
 * The meter-local times follow the EU rule here independently of `lib/`.
 *
 * @module
 */

import { crc16, formatCrc } from "../../lib/dsmr/crc16.ts";

/** What one telegram says. */
export interface MeterState {
  /** The meter's time (ms since the epoch). */
  time: number;
  /** The electricity meter's equipment id (text; sent hex-encoded). */
  equipmentId: string;
  /** Registers in kWh. */
  importT1: number;
  importT2: number;
  exportT1: number;
  exportT2: number;
  /** The active tariff. */
  tariff: 1 | 2;
  /** Power in kW. */
  powerImport: number;
  powerExport: number;
  /** The gas meter's last reading and when it took it, if there is a gas meter. */
  gas?: { time: number; m3: number; equipmentId?: string };
}

/** Whether EU summer time is in force at an instant (from 01:00 UTC on the last Sunday of March). */
export function euSummer(time: number): boolean {
  const year = new Date(time).getUTCFullYear();
  const lastSunday = (month: number) => {
    const last = new Date(Date.UTC(year, month, 0));
    return last.getUTCDate() - last.getUTCDay();
  };
  return time >= Date.UTC(year, 2, lastSunday(3), 1) && time < Date.UTC(year, 9, lastSunday(10), 1);
}

/** The Dutch meter-local date of an instant, `YYYY-MM-DD`. */
export function dutchDate(time: number): string {
  return new Date(time + (euSummer(time) ? 2 : 1) * 3_600_000).toISOString().slice(0, 10);
}

/** When a Dutch meter-local day starts (ms since the epoch). */
export function dutchMidnight(date: string): number {
  const utc = Date.parse(`${date}T00:00:00Z`);
  return euSummer(utc - 3_600_000) ? utc - 2 * 3_600_000 : utc - 3_600_000;
}

/** A Dutch meter timestamp, `YYMMDDhhmmssS` or `...W`. */
export function tst(time: number): string {
  const summer = euSummer(time);
  const local = new Date(time + (summer ? 2 : 1) * 3_600_000).toISOString();
  const digits = local.slice(2, 19).replace(/[-T:]/g, "");
  return `${digits}${summer ? "S" : "W"}`;
}

function hex(text: string): string {
  return [...new TextEncoder().encode(text)].map((b) => b.toString(16).padStart(2, "0")).join("")
    .toUpperCase();
}

function kwh(value: number, width = 10): string {
  return value.toFixed(3).padStart(width, "0");
}

/**
 * A telegram with a valid CRC.
 *
 * @param state What it says.
 * @returns Its text, CR LF line ends.
 */
export function telegramText(state: MeterState): string {
  const lines = [
    "/ISK5\\2M550T-1012",
    "",
    "1-3:0.2.8(50)",
    `0-0:1.0.0(${tst(state.time)})`,
    `0-0:96.1.1(${hex(state.equipmentId)})`,
    `1-0:1.8.1(${kwh(state.importT1)}*kWh)`,
    `1-0:1.8.2(${kwh(state.importT2)}*kWh)`,
    `1-0:2.8.1(${kwh(state.exportT1)}*kWh)`,
    `1-0:2.8.2(${kwh(state.exportT2)}*kWh)`,
    `0-0:96.14.0(000${state.tariff})`,
    `1-0:1.7.0(${kwh(state.powerImport, 6)}*kW)`,
    `1-0:2.7.0(${kwh(state.powerExport, 6)}*kW)`,
    "0-0:96.7.21(00004)",
    "0-0:96.7.9(00002)",
    "1-0:32.7.0(230.1*V)",
    "1-0:31.7.0(002*A)",
    `1-0:21.7.0(${kwh(state.powerImport, 6)}*kW)`,
    `1-0:22.7.0(${kwh(state.powerExport, 6)}*kW)`,
  ];
  if (state.gas) {
    lines.push(
      "0-1:24.1.0(003)",
      `0-1:96.1.0(${hex(state.gas.equipmentId ?? "G0012345678901234")})`,
      `0-1:24.2.1(${tst(state.gas.time)})(${kwh(state.gas.m3, 9)}*m3)`,
    );
  }
  const body = `${lines.join("\r\n")}\r\n!`;
  return `${body}${formatCrc(crc16(new TextEncoder().encode(body)))}\r\n`;
}
