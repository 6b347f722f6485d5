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
import { rawValue } from "../views/original.ts";
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

/** A table row as a metric prom-client's registry can render. */
class TableMetric {
  name: string;
  readonly help: string;
  readonly type: "gauge" | "counter";
  readonly aggregator = "sum";
  readonly #row: MetricRow;
  readonly #snapshot: () => MetricSnapshot;

  constructor(row: MetricRow, snapshot: () => MetricSnapshot) {
    this.name = row.name;
    this.help = row.help;
    this.type = row.type;
    this.#row = row;
    this.#snapshot = snapshot;
  }

  get() {
    // `name` may have been shortened by the registry (OpenMetrics counters drop `_total`).
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      values: this.#row.read(this.#snapshot()),
      aggregator: "sum",
    };
  }
}

/** The original's M-Bus key of a device: its raw hex identifier, or its 1-based position. */
function originalMbusKey(telegram: Telegram, device: MbusDevice, index: number): string {
  const raw = rawValue(telegram, `0-${device.channel}:96.1.0`) ??
    rawValue(telegram, `0-${device.channel}:96.1.1`);
  return raw && /^[A-Za-z0-9_]+$/.test(raw) ? raw : String(index + 1);
}

function openMetricsRegistry(): Registry {
  const registry = new Registry<typeof Registry.OPENMETRICS_CONTENT_TYPE>();
  registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
  return registry as unknown as Registry;
}

/** Renders `/metrics` from whatever `snapshot()` returns at scrape time. */
export class MetricsRegistry {
  readonly #text = new Registry();
  readonly #openMetrics = openMetricsRegistry();
  readonly #snapshot: () => MetricSnapshot;
  readonly #mbusKeys = new Set<string>();
  #current: MetricSnapshot | undefined;

  /**
   * Makes the registry.
   *
   * @param snapshot Reads the receiver's state; called once per scrape.
   * @param features The optional outputs that are on (their metrics appear only then).
   */
  constructor(snapshot: () => MetricSnapshot, features: readonly Feature[] = []) {
    this.#snapshot = snapshot;
    for (const registry of [this.#text, this.#openMetrics]) {
      for (const collect of DEFAULT_COLLECTORS) collect(registry);
      registry.removeSingleMetric(DROPPED_DEFAULT);
    }
    this.#add(METRICS.filter((row) => row.feature === undefined || features.includes(row.feature)));
  }

  #add(rows: readonly MetricRow[]): void {
    const current = () => this.#current ?? this.#snapshot();
    for (const registry of [this.#text, this.#openMetrics]) {
      for (const row of rows) registry.registerMetric(new TableMetric(row, current) as never);
    }
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
   * Renders a scrape.
   *
   * @param accept The scraper's `Accept` header.
   * @returns The body and its content type.
   */
  async render(accept: string | undefined): Promise<{ body: string; contentType: string }> {
    const registry = accept?.includes("application/openmetrics-text")
      ? this.#openMetrics
      : this.#text;
    this.#current = this.#snapshot();
    try {
      this.#addMbusFamilies(this.#current.telegram);
      return { body: await registry.metrics(), contentType: registry.contentType };
    } finally {
      this.#current = undefined;
    }
  }
}
