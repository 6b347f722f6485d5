/**
 * The points of a telegram: one measurement per meter kind, so that a Grafana panel is one
 * `SELECT` of fields from one measurement, and arithmetic between fields of the same reading
 * (tariff 1 plus tariff 2) works in InfluxQL and MetricsQL alike.
 *
 * - `electricity`: the meter's registers and totals (energy per tariff, power, tariff, power
 *   failures, thresholds, Belgian quarter-hour demand, text message), at the meter's time.
 * - `electricity_phase`, tag `phase` (`l1`, `l2`, `l3`): voltage, current, power per phase; one
 *   query `GROUP BY "phase"` draws all three.
 * - `gas`, `water`, `warm_water`, `heat`, `cold`, `electricity_mbus`, `mbus` (unknown kind): an
 *   M-Bus device's reading at the time the device took it, tags `channel` and its `equipment_id`.
 * - `power_failure`: each entry of the long power failure log, at the time the failure ended.
 * - `demand_peak`: Belgian monthly peak demand (this month's so far, and the history), at the
 *   quarter-hour of the peak.
 *
 * The meter's points carry its `equipment_id`. Field names end in their unit (`_kwh`, `_kw`,
 * `_v`, `_a`, `_m3`, `_gj`, `_s`); counts and states are integers. Timestamps are the meter's own
 * clock (the receive time only for a telegram without one), so a point sent twice overwrites
 * itself.
 *
 * @module
 */

import { meterReading } from "../../dsmr/derive.ts";
import type { MbusDevice, MbusKind, Quantity, Telegram, Timestamp } from "../../dsmr/model.ts";
import type { FieldValue, Point } from "./line_protocol.ts";

/** The points of one telegram: those of this reading, and events with times of their own. */
export interface TelegramPoints {
  /** `electricity` and `electricity_phase`, at the telegram's time. */
  reading: Point[];
  /**
   * M-Bus readings, power failures and demand peaks: the meter repeats them unchanged in many
   * telegrams, so the output sends one again only when it changed.
   */
  events: Point[];
}

const MBUS_MEASUREMENTS: Readonly<Record<MbusKind, string>> = {
  gas: "gas",
  water: "water",
  warm_water: "warm_water",
  heat: "heat",
  cold: "cold",
  electricity: "electricity_mbus",
  unknown: "mbus",
};

/** A unit as the end of a field name: `kWh` gives `kwh`, `m3` gives `m3`. */
function unitSuffix(unit: string): string {
  const suffix = unit.toLowerCase().replace(/[^a-z0-9]+/g, "_").replace(/^_|_$/g, "");
  return suffix === "" ? "" : `_${suffix}`;
}

/** Collects fields, leaving out what the telegram does not have. */
class Fields {
  readonly values: Record<string, FieldValue> = {};

  /** A quantity, named with its unit. */
  quantity(name: string, q: Quantity | undefined): this {
    if (q) this.values[`${name}${unitSuffix(q.unit)}`] = { kind: "float", value: q.value };
    return this;
  }

  /** A count or state. */
  integer(name: string, value: number | undefined): this {
    if (value !== undefined) this.values[name] = { kind: "integer", value };
    return this;
  }

  /** Text. */
  text(name: string, value: string | undefined): this {
    if (value !== undefined) this.values[name] = { kind: "string", value };
    return this;
  }
}

function seconds(time: Timestamp | undefined, fallbackMs: number): number {
  return Math.floor((time?.epochMs ?? fallbackMs) / 1000);
}

function electricity(t: Telegram): Fields {
  const fields = new Fields();
  for (const direction of ["import", "export"] as const) {
    const registers = t.energy[direction];
    for (const tariff of ["t1", "t2", "t3", "t4", "total"] as const) {
      fields.quantity(`${direction}_${tariff}`, registers[tariff]);
    }
  }
  return fields
    .quantity("power_import", t.power.import)
    .quantity("power_export", t.power.export)
    .integer("tariff", t.tariff)
    .integer("power_failures", t.powerFailures.short)
    .integer("long_power_failures", t.powerFailures.long)
    .integer("breaker_state", t.breakerState)
    .quantity("limiter_threshold", t.limiterThreshold)
    .quantity("fuse_threshold", t.fuseThreshold)
    .quantity("demand_average", t.demand?.currentAverage)
    .text("text_message", t.textMessage)
    .text("text_code", t.textCode);
}

function mbusPoint(device: MbusDevice, fallbackMs: number): Point | undefined {
  const reading = meterReading(device);
  if (!reading) return undefined;
  return {
    measurement: MBUS_MEASUREMENTS[device.kind],
    tags: { channel: String(device.channel), equipment_id: device.id ?? "" },
    fields: new Fields().quantity("value", reading.value).integer("valve", device.valve).values,
    seconds: seconds(reading.time, fallbackMs),
  };
}

/**
 * The points of a telegram.
 *
 * @param t The telegram.
 * @param receivedAt When it arrived: the time of its reading when it has no timestamp.
 * @returns Its points.
 */
export function telegramPoints(t: Telegram, receivedAt: number): TelegramPoints {
  const at = seconds(t.timestamp, receivedAt);
  const meterMs = t.timestamp?.epochMs ?? receivedAt;
  const meter = { equipment_id: t.equipmentId ?? "" };
  const reading: Point[] = [
    { measurement: "electricity", tags: meter, fields: electricity(t).values, seconds: at },
  ];
  for (const phase of ["l1", "l2", "l3"] as const) {
    const p = t.phases[phase];
    if (!p) continue;
    const fields = new Fields()
      .quantity("voltage", p.voltage)
      .quantity("current", p.current)
      .quantity("power_import", p.powerImport)
      .quantity("power_export", p.powerExport)
      .integer("voltage_sags", p.voltageSags)
      .integer("voltage_swells", p.voltageSwells);
    reading.push({
      measurement: "electricity_phase",
      tags: { ...meter, phase },
      fields: fields.values,
      seconds: at,
    });
  }
  const events: Point[] = [];
  for (const device of t.mbus) {
    const point = mbusPoint(device, meterMs); // a reading without its own time: the telegram's
    if (point) events.push(point);
  }
  for (const failure of t.powerFailures.log ?? []) {
    if (!failure.end) continue;
    events.push({
      measurement: "power_failure",
      tags: meter,
      fields: new Fields().integer("duration_s", failure.durationSeconds).values,
      seconds: seconds(failure.end, receivedAt),
    });
  }
  const peaks = [t.demand?.monthPeak, ...t.demand?.history ?? []];
  for (const peak of peaks) {
    if (!peak?.time) continue;
    events.push({
      measurement: "demand_peak",
      tags: meter,
      fields: new Fields().quantity("peak", peak.value).values,
      seconds: seconds(peak.time, receivedAt),
    });
  }
  return { reading, events };
}
