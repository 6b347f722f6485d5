/**
 * The `/metrics` registry: the {@linkcode METRICS} table read once per scrape, the original's
 * per-device M-Bus families as devices come and go, and prom-client's process metrics that work
 * under Deno. Served as Prometheus text, or OpenMetrics when the scraper asks for it.
 *
 * @module
 */

// prom-client's pieces one by one: its index also loads the collectors that do not work under
// Deno (event-loop lag, GC, /proc readers), which costs about 8 MB of idle memory.
import type * as PromClient from "prom-client";
import untypedRegistry from "prom-client/lib/registry.js";
import processCpuTotal from "prom-client/lib/metrics/processCpuTotal.js";
import processStartTime from "prom-client/lib/metrics/processStartTime.js";
import processResources from "prom-client/lib/metrics/processResources.js";
import heapSizeAndUsed from "prom-client/lib/metrics/heapSizeAndUsed.js";
import heapSpacesSizeAndUsed from "prom-client/lib/metrics/heapSpacesSizeAndUsed.js";
import version from "prom-client/lib/metrics/version.js";
import type { MbusDevice, Telegram } from "../dsmr/model.ts";
import type { Output, OutputMetric } from "../outputs/output.ts";
import { rawValue } from "../views/original.ts";
import {
  type ExposedSample,
  exposition,
  type ExpositionFormat,
  type FamilyDescription,
  FamilyWriter,
} from "./exposition.ts";
import {
  type Feature,
  gasDevice,
  type MetricRow,
  METRICS,
  type MetricSnapshot,
  originalMbusRows,
} from "./table.ts";

const Registry = untypedRegistry as typeof PromClient.Registry;
type Registry = PromClient.Registry;

/**
 * prom-client's default collectors that work under Deno. Left out: event-loop lag (its
 * collector cuts /metrics from ~2,300 to ~200 requests/s), GC durations (Deno reports no GC
 * entries), resident/virtual memory and descriptors (read from /proc, which needs
 * --allow-all: the table exports our own resident memory), active handles and requests
 * (always 0 under Deno).
 */
const DEFAULT_COLLECTORS: ReadonlyArray<(registry: Registry) => void> = [
  processCpuTotal,
  processStartTime,
  processResources,
  heapSizeAndUsed,
  heapSpacesSizeAndUsed,
  version,
];

/** A gauge named like a counter, which promtool rejects; its labelled sibling stays. */
const DROPPED_DEFAULT = "nodejs_active_resources_total";

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
  const raw = rawValue(telegram, `0-${device.channel}:96.1.0`) ??
    rawValue(telegram, `0-${device.channel}:96.1.1`);
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

/** A family of prom-client's runtime collectors: its writers and the metric to read. */
interface RuntimeFamily {
  writers: Record<ExpositionFormat, FamilyWriter>;
  metric: { get(): Promise<{ values: ExposedSample[] }> };
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

/**
 * Renders `/metrics` from whatever `snapshot()` returns at scrape time. prom-client collects the
 * runtime's own metrics; one writer formats them and the table's rows.
 */
export class MetricsRegistry {
  readonly #runtime: RuntimeFamily[];
  readonly #table: TableFamily[];
  readonly #snapshot: () => MetricSnapshot;
  readonly #now: () => number;
  readonly #outputs: OutputFamilies[];
  /** Per-device M-Bus families by the original's `<id>`, in the order devices appeared. */
  readonly #mbus = new Map<string, MbusFamilies>();
  /** The last telegram's devices by name: every family of every device looks its device up. */
  #named: { telegram: Telegram | undefined; devices: Map<string, MbusDevice> } | undefined;

  /**
   * Makes the registry.
   *
   * @param snapshot Reads the receiver's state; called once per scrape.
   * @param features The optional outputs that are on (their metrics appear only then).
   * @param options The clock.
   */
  constructor(
    snapshot: () => MetricSnapshot,
    features: readonly Feature[] = [],
    options: MetricsRegistryOptions = {},
  ) {
    this.#snapshot = snapshot;
    this.#now = options.now ?? Date.now;
    this.#outputs = (options.outputs ?? []).map((output) => ({
      output,
      families: (output.metrics ?? []).map((metric) => ({ writers: writers(metric), metric })),
    }));
    const registry = new Registry();
    for (const collect of DEFAULT_COLLECTORS) collect(registry);
    registry.removeSingleMetric(DROPPED_DEFAULT);
    this.#runtime = registry.getMetricsAsArray().map((metric) => ({
      writers: writers(metric as unknown as FamilyDescription),
      metric: metric as unknown as RuntimeFamily["metric"],
    }));
    this.#table = tableFamilies(
      METRICS.filter((row) => row.feature === undefined || features.includes(row.feature)),
    );
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
    }
    const bySeen = [...this.#mbus].sort(([, a], [, b]) => b.seenAt - a.seenAt);
    bySeen.forEach(([key, { seenAt }], rank) => {
      if (now - seenAt > MBUS_FAMILIES_KEPT_MS || rank >= MBUS_FAMILIES_MAX_DEVICES) {
        this.#mbus.delete(key);
      }
    });
    return [...this.#mbus.values()].flatMap((device) => device.families);
  }

  /**
   * Renders a scrape: the runtime's families first, then the table's.
   *
   * @param accept The scraper's `Accept` header.
   * @returns The body and its content type.
   */
  async render(accept: string | undefined): Promise<{ body: string; contentType: string }> {
    const format: ExpositionFormat = accept?.includes("application/openmetrics-text")
      ? "openmetrics"
      : "text";
    const snapshot = this.#snapshot();
    const table = [...this.#table, ...this.#mbusFamilies(snapshot)];
    const runtime = await Promise.all(
      this.#runtime.map(async ({ writers, metric }) =>
        writers[format].write((await metric.get()).values)
      ),
    );
    const written = table.map(({ writers, row }) => writers[format].write(row.read(snapshot)));
    const outputs = this.#outputs.flatMap(({ output, families }) => {
      const stats = output.stats();
      return families.map(({ writers, metric }) => writers[format].write(metric.read(stats)));
    });
    return {
      body: exposition([...runtime, ...written, ...outputs], format),
      contentType: format === "text"
        ? Registry.PROMETHEUS_CONTENT_TYPE
        : Registry.OPENMETRICS_CONTENT_TYPE,
    };
  }
}
