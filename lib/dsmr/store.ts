/**
 * Where each named field is stored: one setter per path of `FieldValues`, each writing its one
 * property. Fields of the telegram take the telegram, `mbus[].` fields the M-Bus device of the
 * line's channel. Objects on the way (a phase, the demand) are made when their first field is.
 *
 * @module
 */

import type { FieldPath, FieldValues } from "./fields.ts";
import type { MbusDevice, Telegram } from "./model.ts";

/** The paths of the fields of an M-Bus device. */
export type DevicePath = Extract<FieldPath, `mbus[].${string}`>;
/** The paths of the fields of the telegram itself. */
export type TelegramPath = Exclude<FieldPath, DevicePath>;

/** The setter of every field of the telegram, by path. */
export const TELEGRAM_SETTERS: {
  readonly [P in TelegramPath]: (telegram: Telegram, value: FieldValues[P]) => void;
} = {
  version: (t, v) => void (t.version = v),
  timestamp: (t, v) => void (t.timestamp = v),
  equipmentId: (t, v) => void (t.equipmentId = v),
  tariff: (t, v) => void (t.tariff = v),
  "energy.import.t1": (t, v) => void (t.energy.import.t1 = v),
  "energy.import.t2": (t, v) => void (t.energy.import.t2 = v),
  "energy.import.t3": (t, v) => void (t.energy.import.t3 = v),
  "energy.import.t4": (t, v) => void (t.energy.import.t4 = v),
  "energy.import.total": (t, v) => void (t.energy.import.total = v),
  "energy.export.t1": (t, v) => void (t.energy.export.t1 = v),
  "energy.export.t2": (t, v) => void (t.energy.export.t2 = v),
  "energy.export.t3": (t, v) => void (t.energy.export.t3 = v),
  "energy.export.t4": (t, v) => void (t.energy.export.t4 = v),
  "energy.export.total": (t, v) => void (t.energy.export.total = v),
  "power.import": (t, v) => void (t.power.import = v),
  "power.export": (t, v) => void (t.power.export = v),
  "powerFailures.short": (t, v) => void (t.powerFailures.short = v),
  "powerFailures.long": (t, v) => void (t.powerFailures.long = v),
  "powerFailures.log": (t, v) => void (t.powerFailures.log = v),
  "phases.l1.voltage": (t, v) => void ((t.phases.l1 ??= {}).voltage = v),
  "phases.l1.current": (t, v) => void ((t.phases.l1 ??= {}).current = v),
  "phases.l1.powerImport": (t, v) => void ((t.phases.l1 ??= {}).powerImport = v),
  "phases.l1.powerExport": (t, v) => void ((t.phases.l1 ??= {}).powerExport = v),
  "phases.l1.voltageSags": (t, v) => void ((t.phases.l1 ??= {}).voltageSags = v),
  "phases.l1.voltageSwells": (t, v) => void ((t.phases.l1 ??= {}).voltageSwells = v),
  "phases.l2.voltage": (t, v) => void ((t.phases.l2 ??= {}).voltage = v),
  "phases.l2.current": (t, v) => void ((t.phases.l2 ??= {}).current = v),
  "phases.l2.powerImport": (t, v) => void ((t.phases.l2 ??= {}).powerImport = v),
  "phases.l2.powerExport": (t, v) => void ((t.phases.l2 ??= {}).powerExport = v),
  "phases.l2.voltageSags": (t, v) => void ((t.phases.l2 ??= {}).voltageSags = v),
  "phases.l2.voltageSwells": (t, v) => void ((t.phases.l2 ??= {}).voltageSwells = v),
  "phases.l3.voltage": (t, v) => void ((t.phases.l3 ??= {}).voltage = v),
  "phases.l3.current": (t, v) => void ((t.phases.l3 ??= {}).current = v),
  "phases.l3.powerImport": (t, v) => void ((t.phases.l3 ??= {}).powerImport = v),
  "phases.l3.powerExport": (t, v) => void ((t.phases.l3 ??= {}).powerExport = v),
  "phases.l3.voltageSags": (t, v) => void ((t.phases.l3 ??= {}).voltageSags = v),
  "phases.l3.voltageSwells": (t, v) => void ((t.phases.l3 ??= {}).voltageSwells = v),
  textMessage: (t, v) => void (t.textMessage = v),
  textCode: (t, v) => void (t.textCode = v),
  breakerState: (t, v) => void (t.breakerState = v),
  limiterThreshold: (t, v) => void (t.limiterThreshold = v),
  fuseThreshold: (t, v) => void (t.fuseThreshold = v),
  "demand.currentAverage": (t, v) => void ((t.demand ??= {}).currentAverage = v),
  "demand.monthPeak": (t, v) => void ((t.demand ??= {}).monthPeak = v),
  "demand.history": (t, v) => void ((t.demand ??= {}).history = v),
};

/** The setter of every field of an M-Bus device, by path. */
export const DEVICE_SETTERS: {
  readonly [P in DevicePath]: (device: MbusDevice, value: FieldValues[P]) => void;
} = {
  "mbus[].deviceType": (d, v) => void (d.deviceType = v),
  "mbus[].id": (d, v) => void (d.id = v),
  "mbus[].reading": (d, v) => void (d.reading = v),
  "mbus[].valve": (d, v) => void (d.valve = v),
};
