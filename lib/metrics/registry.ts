/**
 * The `/metrics` registry: the metric table (the meter's families written once per telegram, the
 * reader's per scrape), the original's per-device M-Bus families as devices come and go, the
 * outputs' families, and the process's (named as prom-client names them). Served as Prometheus
 * text, or OpenMetrics when the scraper asks for it.
 *
 * @module
 */

import type { MbusDevice, Telegram } from "../dsmr/model.ts";
import type { Output, OutputMetric } from "../outputs/output.ts";
import { gasDevice, rawMbusId } from "../dsmr/derive.ts";
import {
  exposition,
  type ExpositionFormat,
  type FamilyDescription,
  FamilyWriter,
  joinFamilies,
} from "./exposition.ts";
import { PROCESS_FAMILIES, type ProcessFamily, ProcessReader } from "./process.ts";
import {
  METER_METRICS,
  type MetricRow,
  type MetricSnapshot,
  originalMbusRows,
  READER_METRICS,
} from "./table.ts";

/** The content types of the two formats, as prom-client's registry names them. */
const CONTENT_TYPES: Record<ExpositionFormat, string> = {
  text: "text/plain; version=0.0.4; charset=utf-8",
  openmetrics: "application/openmetrics-text; version=1.0.0; charset=utf-8",
};

/** An M-Bus device not in any telegram for this long loses its per-device families. */
export const MBUS_FAMILIES_KEPT_MS = 10 * 60_000;

/**
 * Most M-Bus devices with per-device families at once: twice the four channels a meter has, so
 * that a device replaced on every channel keeps its old families for a while, and ids that change
 * with every telegram cannot grow `/metrics` without bound.
 */
export const MBUS_FAMILIES_MAX_DEVICES = 8;

/** The longest device id used in a metric name; a longer one is named by its position. */
const MBUS_KEY_MAX_LENGTH = 64;

/**
 * The format under which the original named its only M-Bus device `1`: its `XS210ESMR5` parser
 * read no device id, only the gas value (ORIGINAL-BEHAVIOUR.md, sections 3.3 and 5).
 */
const POSITION_NAMED_FORMAT = "XS210ESMR5";

/** The original's M-Bus key of a device: its raw hex identifier, or its 1-based position. */
function originalMbusKey(telegram: Telegram, device: MbusDevice, index: number): string {
  const raw = rawMbusId(telegram, device.channel);
  return raw && raw.length <= MBUS_KEY_MAX_LENGTH && /^[A-Za-z0-9_]+$/.test(raw)
    ? raw
    : String(index + 1);
}

/**
 * The M-Bus devices of a telegram by the `<id>` the original gave them under the configured
 * format: with `XS210ESMR5` only the gas meter, as `1`; with `V502` (and every other name) each
 * device by its raw hex identifier, or its position when it has none.
 */
function originalMbusDevices(
  telegram: Telegram | undefined,
  format: string | undefined,
): Map<string, MbusDevice> {
  const devices = new Map<string, MbusDevice>();
  if (!telegram) return devices;
  if (format?.toUpperCase() === POSITION_NAMED_FORMAT) {
    const gas = gasDevice(telegram);
    if (gas) devices.set("1", gas);
    return devices;
  }
  telegram.mbus.forEach((device, index) => {
    const key = originalMbusKey(telegram, device, index);
    if (!devices.has(key)) devices.set(key, device);
  });
  return devices;
}

/** A family in both formats. */
function writers(family: FamilyDescription): Record<ExpositionFormat, FamilyWriter> {
  return {
    text: new FamilyWriter(family, "text"),
    openmetrics: new FamilyWriter(family, "openmetrics"),
  };
}

/** A family of the process: its writers and what it reads. */
interface ProcessFamilyWriters {
  writers: Record<ExpositionFormat, FamilyWriter>;
  family: ProcessFamily;
}

/** A family of the table: its writers and the row to read. */
interface TableFamily {
  writers: Record<ExpositionFormat, FamilyWriter>;
  row: MetricRow;
}

/** One M-Bus device's families, and when a scrape last found the device in the telegram. */
interface MbusFamilies {
  families: TableFamily[];
  seenAt: number;
}

/** Options for {@linkcode MetricsRegistry}. */
export interface MetricsRegistryOptions {
  /** The clock that ages M-Bus families. @default {Date.now} */
  now?: () => number;
  /** Outputs that are on: their families follow the table's, read from one `stats()` a scrape. */
  outputs?: readonly Output[];
}

/** An output's families, with its writers prepared once. */
interface OutputFamilies {
  output: Output;
  families: { writers: Record<ExpositionFormat, FamilyWriter>; metric: OutputMetric<unknown> }[];
}

function tableFamilies(rows: readonly MetricRow[]): TableFamily[] {
  return rows.map((row) => ({ writers: writers(row), row }));
}

/** The meter's families as written for one telegram, in one format. */
interface MeterText {
  /** The telegram they were written for. */
  telegram: Telegram | undefined;
  /** The set of per-device M-Bus families they were written with (see `#mbusVersion`). */
  mbusVersion: number;
  /** The fixed families, written and joined. */
  table: string;
  /** The per-device M-Bus families, written and joined (empty without devices). */
  mbus: string;
}

/**
 * Renders `/metrics` from whatever `snapshot()` returns at scrape time. The meter's families
 * change only with a telegram: they are written once for each telegram (and format) and kept;
 * the process's (`process.ts`), the reader's and the outputs' are written per scrape.
 */
export class MetricsRegistry {
  readonly #process: ProcessFamilyWriters[];
  readonly #processReader = new ProcessReader();
  readonly #meter: TableFamily[];
  readonly #reader: TableFamily[];
  readonly #snapshot: () => MetricSnapshot;
  readonly #now: () => number;
  readonly #outputs: OutputFamilies[];
  /** Per-device M-Bus families by the original's `<id>`, in the order devices appeared. */
  readonly #mbus = new Map<string, MbusFamilies>();
  /** The last telegram's devices by name: every family of every device looks its device up. */
  #named: { telegram: Telegram | undefined; devices: Map<string, MbusDevice> } | undefined;
  /** Counts changes to the set of per-device M-Bus families. */
  #mbusVersion = 0;
  /** The meter's families as last written, by format. */
  readonly #written: Partial<Record<ExpositionFormat, MeterText>> = {};

  /**
   * Makes the registry.
   *
   * @param snapshot Reads the receiver's state; called once per scrape.
   * @param options The outputs that are on, and the clock.
   */
  constructor(snapshot: () => MetricSnapshot, options: MetricsRegistryOptions = {}) {
    this.#snapshot = snapshot;
    this.#now = options.now ?? Date.now;
    this.#outputs = (options.outputs ?? []).map((output) => ({
      output,
      families: (output.metrics ?? []).map((metric) => ({ writers: writers(metric), metric })),
    }));
    this.#process = PROCESS_FAMILIES.map((family) => ({ writers: writers(family), family }));
    this.#meter = tableFamilies(METER_METRICS);
    this.#reader = tableFamilies(READER_METRICS);
  }

  #devicesOf(telegram: Telegram | undefined, format: string | undefined): Map<string, MbusDevice> {
    let named = this.#named;
    if (!named || named.telegram !== telegram) {
      this.#named = named = { telegram, devices: originalMbusDevices(telegram, format) };
    }
    return named.devices;
  }

  /**
   * The original's per-device M-Bus families: added for a device in the telegram, dropped for a
   * device no scrape has found for {@linkcode MBUS_FAMILIES_KEPT_MS}, or beyond the
   * {@linkcode MBUS_FAMILIES_MAX_DEVICES} most recently found.
   */
  #mbusFamilies(snapshot: MetricSnapshot): TableFamily[] {
    const now = this.#now();
    const format = snapshot.configuredFormat;
    for (const key of this.#devicesOf(snapshot.telegram, format).keys()) {
      const known = this.#mbus.get(key);
      if (known) {
        known.seenAt = now;
        continue;
      }
      const find = (t: Telegram) => this.#devicesOf(t, format).get(key);
      this.#mbus.set(key, { families: tableFamilies(originalMbusRows(key, find)), seenAt: now });
      this.#mbusVersion++;
    }
    const bySeen = [...this.#mbus].sort(([, a], [, b]) => b.seenAt - a.seenAt);
    bySeen.forEach(([key, { seenAt }], rank) => {
      if (now - seenAt > MBUS_FAMILIES_KEPT_MS || rank >= MBUS_FAMILIES_MAX_DEVICES) {
        this.#mbus.delete(key);
        this.#mbusVersion++;
      }
    });
    return [...this.#mbus.values()].flatMap((device) => device.families);
  }

  /** The meter's families for the snapshot's telegram: written once, then kept until the next. */
  #meterText(snapshot: MetricSnapshot, format: ExpositionFormat): MeterText {
    const mbus = this.#mbusFamilies(snapshot);
    const kept = this.#written[format];
    if (kept && kept.telegram === snapshot.telegram && kept.mbusVersion === this.#mbusVersion) {
      return kept;
    }
    const write = ({ writers, row }: TableFamily) => writers[format].write(row.read(snapshot));
    const text: MeterText = {
      telegram: snapshot.telegram,
      mbusVersion: this.#mbusVersion,
      table: joinFamilies(this.#meter.map(write), format),
      mbus: joinFamilies(mbus.map(write), format),
    };
    this.#written[format] = text;
    return text;
  }

  /**
   * Renders a scrape: the process's families first, then the table's, then the outputs'.
   *
   * @param accept The scraper's `Accept` header.
   * @returns The body and its content type.
   */
  render(accept: string | undefined): { body: string; contentType: string } {
    const format: ExpositionFormat = accept?.includes("application/openmetrics-text")
      ? "openmetrics"
      : "text";
    const snapshot = this.#snapshot();
    const meter = this.#meterText(snapshot, format);
    const figures = this.#processReader.read();
    const process = this.#process.map(({ writers, family }) =>
      writers[format].write(family.read(figures))
    );
    const reader = this.#reader.map(({ writers, row }) =>
      writers[format].write(row.read(snapshot))
    );
    const outputs = this.#outputs.flatMap(({ output, families }) => {
      const stats = output.stats();
      return families.map(({ writers, metric }) => writers[format].write(metric.read(stats)));
    });
    return {
      body: exposition([...process, meter.table, ...reader, meter.mbus, ...outputs], format),
      contentType: CONTENT_TYPES[format],
    };
  }
}
