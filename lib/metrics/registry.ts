/**
 * The `/metrics` registry: the {@linkcode METRICS} table read once per scrape, the original's
 * per-device M-Bus families as devices appear, and prom-client's process metrics that work under
 * Deno. Served as Prometheus text, or OpenMetrics when the scraper asks for it.
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

/** The original's M-Bus key of a device: its raw hex identifier, or its 1-based position. */
function originalMbusKey(telegram: Telegram, device: MbusDevice, index: number): string {
  const raw = rawValue(telegram, `0-${device.channel}:96.1.0`) ??
    rawValue(telegram, `0-${device.channel}:96.1.1`);
  return raw && /^[A-Za-z0-9_]+$/.test(raw) ? raw : String(index + 1);
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

/** A family of an output: its writers, the output, and the family to read from its stats. */
interface OutputFamily {
  writers: Record<ExpositionFormat, FamilyWriter>;
  output: Output;
  metric: OutputMetric<unknown>;
}

/**
 * Renders `/metrics` from whatever `snapshot()` returns at scrape time. prom-client collects the
 * runtime's own metrics; one writer formats them and the table's rows.
 */
export class MetricsRegistry {
  readonly #runtime: RuntimeFamily[];
  readonly #table: TableFamily[] = [];
  readonly #outputs: OutputFamily[];
  readonly #snapshot: () => MetricSnapshot;
  readonly #mbusKeys = new Set<string>();

  /**
   * Makes the registry.
   *
   * @param snapshot Reads the receiver's state; called once per scrape.
   * @param features The optional outputs that are on (their metrics appear only then).
   * @param outputs Outputs of the common shape that are on, whose families follow the table's.
   */
  constructor(
    snapshot: () => MetricSnapshot,
    features: readonly Feature[] = [],
    outputs: readonly Output[] = [],
  ) {
    this.#snapshot = snapshot;
    const registry = new Registry();
    for (const collect of DEFAULT_COLLECTORS) collect(registry);
    registry.removeSingleMetric(DROPPED_DEFAULT);
    this.#runtime = registry.getMetricsAsArray().map((metric) => ({
      writers: writers(metric as unknown as FamilyDescription),
      metric: metric as unknown as RuntimeFamily["metric"],
    }));
    this.#add(METRICS.filter((row) => row.feature === undefined || features.includes(row.feature)));
    this.#outputs = outputs.flatMap((output) =>
      (output.metrics ?? []).map((metric) => ({ writers: writers(metric), output, metric }))
    );
  }

  #add(rows: readonly MetricRow[]): void {
    for (const row of rows) this.#table.push({ writers: writers(row), row });
  }

  /** Adds the original's families for M-Bus devices not seen before (they are never removed). */
  #addMbusFamilies(telegram: Telegram | undefined): void {
    telegram?.mbus.forEach((device, index) => {
      const key = originalMbusKey(telegram, device, index);
      if (this.#mbusKeys.has(key)) return;
      this.#mbusKeys.add(key);
      this.#add(
        originalMbusRows(key, (t) => t.mbus.find((d, i) => originalMbusKey(t, d, i) === key)),
      );
    });
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
    this.#addMbusFamilies(snapshot.telegram);
    const runtime = await Promise.all(
      this.#runtime.map(async ({ writers, metric }) =>
        writers[format].write((await metric.get()).values)
      ),
    );
    const table = this.#table.map(({ writers, row }) => writers[format].write(row.read(snapshot)));
    const stats = new Map<Output, unknown>();
    const outputs = this.#outputs.map(({ writers, output, metric }) => {
      if (!stats.has(output)) stats.set(output, output.stats());
      return writers[format].write(metric.read(stats.get(output)));
    });
    return {
      body: exposition([...runtime, ...table, ...outputs], format),
      contentType: format === "text"
        ? Registry.PROMETHEUS_CONTENT_TYPE
        : Registry.OPENMETRICS_CONTENT_TYPE,
    };
  }
}
