/**
 * Facts derived from a telegram, decided once for every view, metric, history and push: which
 * M-Bus channel holds a meter and which one is the gas meter, which energy registers count and
 * their total, a single-register meter's total as tariff 1, and the raw text of the lines the
 * original product showed as the meter wrote them (found through the catalogue's references).
 *
 * @module
 */

import { FIELDS } from "./fields.ts";
import type { EnergyRegisters, MbusDevice, Quantity, Telegram } from "./model.ts";

/** The tariff registers a meter may have, in order. */
export const TARIFFS = ["t1", "t2", "t3", "t4"] as const;

/** A tariff register's name. */
export type Tariff = typeof TARIFFS[number];

/**
 * Meters stamp an empty M-Bus channel's reading 1 January 1970 or 2000: a reading captured before
 * this instant is such a placeholder, not a measurement.
 */
const PLACEHOLDER_BEFORE_MS = Date.UTC(2001, 0, 1);

/**
 * The reading of an M-Bus channel that holds a meter, or `undefined` for an empty slot: one that
 * relays no reading, a reading stamped with a placeholder time (`700101010000W`,
 * `000101000000W`), or a 0 it never captured (no valid time).
 *
 * @param device An M-Bus device of a telegram.
 * @returns Its reading, or `undefined` for an empty slot.
 *
 * @example
 * ```ts
 * import { meterReading } from "./derive.ts";
 * import assert from "node:assert/strict";
 * const empty = { time: { iso: "1970-01-01T01:00:00+01:00", epochMs: 0, raw: "700101010000W" }, value: { value: 0, unit: "m3" } };
 * assert.equal(meterReading({ channel: 1, kind: "gas", reading: empty }), undefined);
 * ```
 */
export function meterReading(device: MbusDevice): MbusDevice["reading"] {
  const reading = device.reading;
  if (!reading) return undefined;
  const time = reading.time?.epochMs;
  if (time === undefined ? reading.value.value === 0 : time < PLACEHOLDER_BEFORE_MS) {
    return undefined;
  }
  return reading;
}

/**
 * The gas meter: the first M-Bus device whose type says gas and whose channel holds a meter.
 * An empty slot of gas type is passed over, and a water or heat meter is never taken for gas.
 *
 * @param t The telegram.
 * @returns The device, or `undefined` when the telegram relays no gas meter.
 */
export function gasDevice(t: Telegram): MbusDevice | undefined {
  return t.mbus.find((device) => device.kind === "gas" && meterReading(device) !== undefined);
}

/**
 * The registers of one direction that count: its tariff registers, or, for a meter that has
 * none, its own total. Where both are sent, the total is their sum and is left out.
 *
 * @param energy The registers of one direction.
 * @returns The registers by name, tariffs in order.
 */
export function countedRegisters(energy: EnergyRegisters): [Tariff | "total", Quantity][] {
  const tariffs = TARIFFS.flatMap((tariff): [Tariff, Quantity][] => {
    const quantity = energy[tariff];
    return quantity ? [[tariff, quantity]] : [];
  });
  if (tariffs.length > 0 || !energy.total) return tariffs;
  return [["total", energy.total]];
}

/**
 * The energy of one direction over all tariffs (kWh, to the meter's 3 decimals): the sum of its
 * tariff registers, or its own total when it has none.
 *
 * @param energy The registers of one direction.
 * @returns The total, or `undefined` when the meter sends no register.
 */
export function energyTotal(energy: EnergyRegisters): number | undefined {
  const registers = countedRegisters(energy);
  if (registers.length === 0) return undefined;
  const sum = registers.reduce((total, [, quantity]) => total + quantity.value, 0);
  return Math.round(sum * 1000) / 1000;
}

/**
 * Tariffs 1 and 2 as a two-tariff consumer (DSMR reader, the original product) wants them. A
 * single-register meter (Luxembourg, Sweden) counts its total as tariff 1, with 0 in tariff 2.
 *
 * @param energy The registers of one direction.
 * @returns Both tariffs, or `undefined` when the meter sends neither them nor a total.
 */
export function twoTariffs(energy: EnergyRegisters): { t1: Quantity; t2: Quantity } | undefined {
  const t1 = energy.t1 ?? energy.total;
  const t2 = energy.t2 ?? (energy.total ? { value: 0, unit: energy.total.unit } : undefined);
  return t1 && t2 ? { t1, t2 } : undefined;
}

/** The reference of the catalogue's row that fills `field` in the DSMR group. */
function dsmrReference(field: string): string {
  const row = FIELDS.find((candidate) => candidate.field === field && candidate.group === "dsmr");
  if (!row) throw new Error(`The catalogue has no DSMR row for ${field}`);
  return row.obis;
}

const EQUIPMENT_ID = dsmrReference("equipmentId");
const TEXT_MESSAGE = dsmrReference("textMessage");
/** The M-Bus id lines (DSMR's, then e-MUCS's), `0-n:` standing for the channel. */
const MBUS_IDS = FIELDS.filter((row) => row.field === "mbus[].id").map((row) => row.obis);

/** The raw first value of the line with this reference, as the meter wrote it. */
function rawValue(t: Telegram, reference: string): string | undefined {
  return t.obis.find((line) => line.reference === reference)?.raw[0];
}

/** The meter's equipment identifier as it wrote it (hex), as the original showed it. */
export function rawEquipmentId(t: Telegram): string | undefined {
  return rawValue(t, EQUIPMENT_ID);
}

/** The text message as the meter wrote it (hex), as the original showed it. */
export function rawTextMessage(t: Telegram): string | undefined {
  return rawValue(t, TEXT_MESSAGE);
}

/**
 * An M-Bus device's equipment identifier as the meter wrote it (hex), as the original showed it
 * and named its metric families by.
 *
 * @param t The telegram.
 * @param channel The device's channel.
 * @returns The raw identifier, or `undefined` when the telegram has no id line for the channel.
 */
export function rawMbusId(t: Telegram, channel: number): string | undefined {
  for (const reference of MBUS_IDS) {
    const raw = rawValue(t, reference.replace("0-n:", `0-${channel}:`));
    if (raw !== undefined) return raw;
  }
  return undefined;
}
