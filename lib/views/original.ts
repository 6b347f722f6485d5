/**
 * The original product's JSON, exactly: generation 1 at `GET /` (flat, `actualElectricityRetreived`,
 * numeric `rawTimestamp`) and generation 2 at `GET /api` (nested, `rawTimestamp` with S/W,
 * `modBusClients`). Its bugs are not copied: gas keeps no digit of `m3`, L2 is L2.
 *
 * @module
 */

import type { PhaseReadings, Telegram, Timestamp } from "../dsmr/model.ts";
import { gasDevice, rawEquipmentId, rawMbusId, rawTextMessage } from "../dsmr/derive.ts";

/** Meter-local time without offset, as the original wrote it: `2023-02-05T16:50:05`. */
function localTime(time: Timestamp | undefined): string | null {
  return time ? time.iso.slice(0, 19) : null;
}

/** The 12 digits of a TST as a number, as the original's `rawTimestamp` and `rawCaptureTime`. */
function digits(time: Timestamp | undefined): number | null {
  return time ? Number(time.raw.slice(0, 12)) : null;
}

const value = (q: { value: number } | undefined): number | null => q?.value ?? null;
const orNull = <T>(v: T | undefined): T | null => v ?? null;

/** The generation 1 JSON of `GET /`, keys in the original's order. */
export interface OriginalFlatJson {
  timestamp: string | null;
  rawTimestamp: number | null;
  electricityUsageLow: number | null;
  electricityUsageHigh: number | null;
  electricityReturnedLow: number | null;
  electricityReturnedHigh: number | null;
  activeTariff: number | null;
  powerFailuresShort: number | null;
  powerFailuresLong: number | null;
  actualElectricityDelivered: number | null;
  actualElectricityRetreived: number | null;
  gasUsage: number | null;
}

/**
 * The original's generation 1 JSON (`GET /`).
 *
 * @param t The telegram.
 * @returns The flat object.
 */
export function originalFlat(t: Telegram): OriginalFlatJson {
  return {
    timestamp: localTime(t.timestamp),
    rawTimestamp: digits(t.timestamp),
    electricityUsageLow: value(t.energy.import.t1),
    electricityUsageHigh: value(t.energy.import.t2),
    electricityReturnedLow: value(t.energy.export.t1),
    electricityReturnedHigh: value(t.energy.export.t2),
    activeTariff: orNull(t.tariff),
    powerFailuresShort: orNull(t.powerFailures.short),
    powerFailuresLong: orNull(t.powerFailures.long),
    actualElectricityDelivered: value(t.power.import),
    actualElectricityRetreived: value(t.power.export),
    gasUsage: value(gasDevice(t)?.reading?.value),
  };
}

/** One phase in the generation 2 JSON. */
export interface OriginalPhaseJson {
  voltage: number | null;
  current: number | null;
  powerDelivered: number | null;
  powerReceived: number | null;
  voltageSags: number | null;
  voltageSwells: number | null;
}

/** One M-Bus device in the generation 2 JSON. */
export interface OriginalMbusJson {
  deviceIdentifier: string | null;
  deviceType: number | null;
  captureTime: string | null;
  rawCaptureTime: number | null;
  value: number | null;
}

/** The generation 2 JSON of `GET /api`, keys in the original's order. */
export interface OriginalApiJson {
  versionInformation: number | null;
  equipmentIdentifier: string | null;
  timestamp: string | null;
  rawTimestamp: string | null;
  tariffIndicator: number | null;
  electricityUsageLow: number | null;
  electricityUsageHigh: number | null;
  electricityReturnedLow: number | null;
  electricityReturnedHigh: number | null;
  actualElectricityDelivered: number | null;
  actualElectricityRetrieved: number | null;
  powerFailuresShort: number | null;
  powerFailuresLong: number | null;
  powerFailureEventLog: null;
  phaseL1: OriginalPhaseJson | null;
  phaseL2: OriginalPhaseJson | null;
  phaseL3: OriginalPhaseJson | null;
  textMessage: string | null;
  modBusClients: OriginalMbusJson[] | null;
}

function phase(p: PhaseReadings | undefined): OriginalPhaseJson | null {
  if (!p) return null;
  const json = {
    voltage: value(p.voltage),
    current: value(p.current),
    powerDelivered: value(p.powerImport),
    powerReceived: value(p.powerExport),
    voltageSags: orNull(p.voltageSags),
    voltageSwells: orNull(p.voltageSwells),
  };
  return Object.values(json).every((v) => v === null) ? null : json;
}

/**
 * The original's generation 2 JSON (`GET /api`); before the first telegram every key is null.
 * Identifiers and the text message stay hex, as the original sent them.
 *
 * @param t The telegram, or `undefined` before the first.
 * @returns The nested object.
 */
export function originalApi(t: Telegram | undefined): OriginalApiJson {
  return {
    versionInformation: t?.version === undefined ? null : Number(t.version),
    equipmentIdentifier: t ? orNull(rawEquipmentId(t)) : null,
    timestamp: localTime(t?.timestamp),
    rawTimestamp: t?.timestamp?.raw ?? null,
    tariffIndicator: orNull(t?.tariff),
    electricityUsageLow: value(t?.energy.import.t1),
    electricityUsageHigh: value(t?.energy.import.t2),
    electricityReturnedLow: value(t?.energy.export.t1),
    electricityReturnedHigh: value(t?.energy.export.t2),
    actualElectricityDelivered: value(t?.power.import),
    actualElectricityRetrieved: value(t?.power.export),
    powerFailuresShort: orNull(t?.powerFailures.short),
    powerFailuresLong: orNull(t?.powerFailures.long),
    powerFailureEventLog: null,
    phaseL1: phase(t?.phases.l1),
    phaseL2: phase(t?.phases.l2),
    phaseL3: phase(t?.phases.l3),
    textMessage: t ? orNull(rawTextMessage(t)) : null,
    modBusClients: t
      ? t.mbus.map((d) => ({
        deviceIdentifier: orNull(rawMbusId(t, d.channel)),
        deviceType: orNull(d.deviceType),
        captureTime: localTime(d.reading?.time),
        rawCaptureTime: digits(d.reading?.time),
        value: value(d.reading?.value),
      }))
      : null,
  };
}
