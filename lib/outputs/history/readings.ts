/**
 * What the history keeps of a telegram: the meter time, every register reading of the
 * electricity meter and of each M-Bus device (gas, water, heat) with the time it was taken, and
 * the power samples. An M-Bus reading keeps the device's own capture time (hourly on DSMR 4, every
 * 5 minutes on DSMR 5), so its usage lands in the hour it was measured in, not the hour the
 * telegram relayed it.
 *
 * @module
 */

import { countedRegisters, meterReading } from "../../dsmr/derive.ts";
import type { MbusKind, Quantity, Telegram } from "../../dsmr/model.ts";

/** A register of the electricity meter: a direction and a tariff, or the meter's only total. */
export type EnergyRegister = `${"import" | "export"}_${"t1" | "t2" | "t3" | "t4" | "total"}`;

/** A register: the electricity meter's, or an M-Bus device's one `reading`. */
export type RegisterName = EnergyRegister | "reading";

/** The electricity registers, in the order of the per-minute table's columns. */
export const ENERGY_REGISTERS: readonly EnergyRegister[] = [
  "import_t1",
  "import_t2",
  "import_t3",
  "import_t4",
  "import_total",
  "export_t1",
  "export_t2",
  "export_t3",
  "export_t4",
  "export_total",
];

/** Which meter took a reading; a new equipment id is a new meter. */
export interface MeterIdentity {
  /** `electricity` for the meter itself, else the M-Bus device's kind. */
  readonly kind: "electricity" | MbusKind;
  /** 0 for the meter itself, 1 to 4 for an M-Bus channel. */
  readonly channel: number;
  /** The equipment identifier, or `""` when the meter sends none. */
  readonly equipmentId: string;
  /** The registers' unit: `kWh`, `m3`, `GJ`. */
  readonly unit: string;
}

/** A register's value at an instant. */
export interface Reading {
  /** When it was taken (ms since the epoch). */
  readonly time: number;
  /** The register's value in its unit. */
  readonly value: number;
}

/** One register reading of one meter. */
export interface RegisterReading {
  /** The meter. */
  readonly meter: MeterIdentity;
  /** Which of its registers. */
  readonly register: RegisterName;
  /** The reading. */
  readonly reading: Reading;
}

/** The power values a minute keeps the average, minimum and maximum of, in this order. */
export const POWER_FIELDS = [
  "import",
  "export",
  "l1_import",
  "l1_export",
  "l2_import",
  "l2_export",
  "l3_import",
  "l3_export",
] as const;

/** What the history takes from one telegram. */
export interface TelegramFacts {
  /** The meter's time, or the receive time for a meter that sends none. */
  readonly time: number;
  /** The format the telegram was read with (its zone rule places days). */
  readonly format: string;
  /** The electricity meter. */
  readonly meter: MeterIdentity;
  /** Every register reading, the electricity meter's first. */
  readonly readings: readonly RegisterReading[];
  /** Power in W, in the order of {@linkcode POWER_FIELDS}; `undefined` where not sent. */
  readonly power: readonly (number | undefined)[];
}

function watts(quantity: Quantity | undefined): number | undefined {
  return quantity === undefined ? undefined : Math.round(quantity.value * 1000);
}

/**
 * The facts of a telegram.
 *
 * @param telegram The telegram.
 * @param receivedAt When it arrived, for a meter without a clock.
 * @returns Its facts.
 */
export function factsOf(telegram: Telegram, receivedAt: number): TelegramFacts {
  const time = telegram.timestamp?.epochMs ?? receivedAt;
  const meter: MeterIdentity = {
    kind: "electricity",
    channel: 0,
    equipmentId: telegram.equipmentId ?? "",
    unit: "kWh",
  };
  const readings: RegisterReading[] = [];
  for (const direction of ["import", "export"] as const) {
    for (const [register, quantity] of countedRegisters(telegram.energy[direction])) {
      readings.push({
        meter,
        register: `${direction}_${register}`,
        reading: { time, value: quantity.value },
      });
    }
  }
  for (const device of telegram.mbus) {
    const reading = meterReading(device); // an empty slot's placeholder is no reading
    if (!reading) continue;
    readings.push({
      meter: {
        kind: device.kind,
        channel: device.channel,
        equipmentId: device.id ?? "",
        unit: reading.value.unit,
      },
      register: "reading",
      reading: { time: reading.time?.epochMs ?? time, value: reading.value.value },
    });
  }
  const { l1, l2, l3 } = telegram.phases;
  return {
    time,
    format: telegram.format,
    meter,
    readings,
    power: [
      watts(telegram.power.import),
      watts(telegram.power.export),
      watts(l1?.powerImport),
      watts(l1?.powerExport),
      watts(l2?.powerImport),
      watts(l2?.powerExport),
      watts(l3?.powerImport),
      watts(l3?.powerExport),
    ],
  };
}

/** A key naming a meter, for maps. */
export function meterKey(meter: MeterIdentity): string {
  return `${meter.kind}\u0000${meter.channel}\u0000${meter.equipmentId}`;
}
