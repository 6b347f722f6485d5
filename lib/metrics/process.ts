/**
 * The process's own families, as prom-client's default collectors name and describe them (CPU
 * time, start time, resident memory, heap, heap spaces, active resources, runtime version), read
 * once per scrape: one call for the CPU time, one for the memory and one for the heap spaces, and
 * no promises. prom-client's collectors read the memory twice and went through its async metric
 * objects, which cost more than the rest of a scrape together.
 *
 * Left out, as before: event-loop lag (its collector cut `/metrics` from ~2,300 to ~200
 * requests/s), GC durations (Deno reports no GC entries), virtual memory and descriptors (read
 * from /proc, which needs --allow-all), active handles and requests (always 0 under Deno).
 *
 * @module
 */

import process from "node:process";
import { getHeapSpaceStatistics } from "node:v8";
import type { ExposedSample, FamilyDescription } from "./exposition.ts";

/** What one scrape reads of the process. */
export interface ProcessFigures {
  /** CPU time (µs) since the families were made. */
  cpu: { user: number; system: number };
  /** Memory (bytes). */
  memory: { rss: number; heapTotal: number; heapUsed: number; external: number };
  /** The V8 heap spaces. */
  spaces: ReturnType<typeof getHeapSpaceStatistics>;
  /** Resources keeping the event loop alive, by type. */
  resources: readonly string[];
}

/** A process family: its name, help and type, and its samples from one reading. */
export interface ProcessFamily extends FamilyDescription {
  /** The samples. */
  read(figures: ProcessFigures): ExposedSample[];
}

/** When the process started (Unix seconds), as prom-client works it out. */
const START_SECONDS = Math.round(Date.now() / 1000 - process.uptime());

const VERSION = process.version;
const [MAJOR, MINOR, PATCH] = VERSION.slice(1).split(".").map(Number);

/** A heap space's name as prom-client labels it: `old_space` is `old`. */
function spaceName(name: string): string {
  return name.slice(0, name.indexOf("_space"));
}

function bySpace(
  size: "space_size" | "space_used_size" | "space_available_size",
): (figures: ProcessFigures) => ExposedSample[] {
  return (figures) =>
    figures.spaces.map((space) => ({
      labels: { space: spaceName(space.space_name) },
      value: space[size],
    }));
}

/** The families, in prom-client's order. */
export const PROCESS_FAMILIES: readonly ProcessFamily[] = [
  {
    name: "process_cpu_user_seconds_total",
    help: "Total user CPU time spent in seconds.",
    type: "counter",
    read: (f) => [{ value: f.cpu.user / 1e6 }],
  },
  {
    name: "process_cpu_system_seconds_total",
    help: "Total system CPU time spent in seconds.",
    type: "counter",
    read: (f) => [{ value: f.cpu.system / 1e6 }],
  },
  {
    name: "process_cpu_seconds_total",
    help: "Total user and system CPU time spent in seconds.",
    type: "counter",
    read: (f) => [{ value: (f.cpu.user + f.cpu.system) / 1e6 }],
  },
  {
    name: "process_start_time_seconds",
    help: "Start time of the process since unix epoch in seconds.",
    type: "gauge",
    read: () => [{ value: START_SECONDS }],
  },
  {
    name: "process_resident_memory_bytes",
    help: "Resident memory size in bytes.",
    type: "gauge",
    read: (f) => [{ value: f.memory.rss }],
  },
  {
    name: "nodejs_active_resources",
    help: "Number of active resources that are currently keeping the event loop alive, grouped " +
      "by async resource type.",
    type: "gauge",
    read: (f) => {
      const counts = new Map<string, number>();
      for (const type of f.resources) counts.set(type, (counts.get(type) ?? 0) + 1);
      return [...counts].map(([type, value]) => ({ labels: { type }, value }));
    },
  },
  {
    name: "nodejs_heap_size_total_bytes",
    help: "Process heap size from Node.js in bytes.",
    type: "gauge",
    read: (f) => [{ value: f.memory.heapTotal }],
  },
  {
    name: "nodejs_heap_size_used_bytes",
    help: "Process heap size used from Node.js in bytes.",
    type: "gauge",
    read: (f) => [{ value: f.memory.heapUsed }],
  },
  {
    name: "nodejs_external_memory_bytes",
    help: "Node.js external memory size in bytes.",
    type: "gauge",
    read: (f) => [{ value: f.memory.external }],
  },
  {
    name: "nodejs_heap_space_size_total_bytes",
    help: "Process heap space size total from Node.js in bytes.",
    type: "gauge",
    read: bySpace("space_size"),
  },
  {
    name: "nodejs_heap_space_size_used_bytes",
    help: "Process heap space size used from Node.js in bytes.",
    type: "gauge",
    read: bySpace("space_used_size"),
  },
  {
    name: "nodejs_heap_space_size_available_bytes",
    help: "Process heap space size available from Node.js in bytes.",
    type: "gauge",
    read: bySpace("space_available_size"),
  },
  {
    name: "nodejs_version_info",
    help: "Node.js version info.",
    type: "gauge",
    read: () => [{
      labels: { version: VERSION, major: MAJOR!, minor: MINOR!, patch: PATCH! },
      value: 1,
    }],
  },
];

/** Reads the process's figures for one scrape; CPU time counts from when it was made. */
export class ProcessReader {
  readonly #cpuAtStart = process.cpuUsage();

  /** The figures now. */
  read(): ProcessFigures {
    const cpu = process.cpuUsage(this.#cpuAtStart);
    return {
      cpu,
      memory: process.memoryUsage(),
      spaces: getHeapSpaceStatistics(),
      resources: process.getActiveResourcesInfo(),
    };
  }
}
