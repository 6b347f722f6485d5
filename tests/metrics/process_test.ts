import assert from "node:assert/strict";
import { Registry } from "prom-client";
import heapSizeAndUsed from "prom-client/lib/metrics/heapSizeAndUsed.js";
import heapSpacesSizeAndUsed from "prom-client/lib/metrics/heapSpacesSizeAndUsed.js";
import processCpuTotal from "prom-client/lib/metrics/processCpuTotal.js";
import processResources from "prom-client/lib/metrics/processResources.js";
import processStartTime from "prom-client/lib/metrics/processStartTime.js";
import version from "prom-client/lib/metrics/version.js";
import { exposition, FamilyWriter } from "../../lib/metrics/exposition.ts";
import { PROCESS_FAMILIES, ProcessReader } from "../../lib/metrics/process.ts";

/** Each family's HELP and TYPE lines, and each sample's name and labels without its value. */
function shape(text: string): string[] {
  return text.split("\n").filter((line) => line !== "").map((line) =>
    line.startsWith("#") ? line : line.slice(0, line.lastIndexOf(" "))
  );
}

/** The values of samples whose name starts with `prefix`. */
function values(text: string, prefix: string): string[] {
  return text.split("\n").filter((line) => line.startsWith(prefix)).map((line) =>
    line.slice(line.lastIndexOf(" ") + 1)
  );
}

Deno.test("the process families are prom-client's default collectors', named and labelled alike", async () => {
  const registry = new Registry();
  for (
    const collect of [
      processCpuTotal,
      processStartTime,
      processResources,
      heapSizeAndUsed,
      heapSpacesSizeAndUsed,
      version,
    ]
  ) {
    (collect as (registry: Registry) => void)(registry);
  }
  registry.removeSingleMetric("nodejs_active_resources_total"); // a gauge named like a counter
  const theirs = await registry.metrics();
  const figures = new ProcessReader().read();
  const ours = exposition(
    PROCESS_FAMILIES.filter((family) => family.name !== "process_resident_memory_bytes").map((
      family,
    ) => new FamilyWriter(family, "text").write(family.read(figures))),
    "text",
  );
  assert.deepEqual(shape(ours), shape(theirs));
  for (const exact of ["process_start_time_seconds", "nodejs_version_info"]) {
    assert.deepEqual(values(ours, exact), values(theirs, exact), exact);
  }
});

Deno.test("the process families count CPU time from their start and read the resident memory", () => {
  const reader = new ProcessReader();
  const before = reader.read();
  const until = performance.now() + 30;
  while (performance.now() < until) {
    // Spend CPU time.
  }
  const after = reader.read();
  assert.ok(after.cpu.user + after.cpu.system > before.cpu.user + before.cpu.system);
  assert.ok(after.memory.rss > 1_000_000, `${after.memory.rss} bytes resident`);
});
