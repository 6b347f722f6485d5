import assert from "node:assert/strict";
import { Counter, Gauge, Registry } from "prom-client";
import {
  type ExposedSample,
  exposition,
  type ExpositionFormat,
  type FamilyDescription,
  FamilyWriter,
  formatValue,
} from "../../lib/metrics/exposition.ts";

interface Case extends FamilyDescription {
  samples: ExposedSample[];
}

const CASES: Case[] = [
  { name: "p1_plain", help: "A plain gauge", type: "gauge", samples: [{ value: 229.8 }] },
  {
    name: "p1_energy_joules_total",
    help: "A counter with labels",
    type: "counter",
    samples: [
      { labels: { tariff: "1" }, value: 39888003600 },
      { labels: { tariff: "2" }, value: 0.001 },
    ],
  },
  {
    name: "p1_awkward",
    help: 'Help with a back\\slash,\na line end and "quotes"',
    type: "gauge",
    samples: [{ labels: { header: 'ISK5\\2M "x"\nnext', major: 26 }, value: -1.5e-7 }],
  },
  { name: "p1_counter_without_suffix", help: "Counter", type: "counter", samples: [{ value: 7 }] },
  { name: "p1_no_samples", help: "Nothing read yet", type: "gauge", samples: [] },
  { name: "p1_huge", help: "Big", type: "gauge", samples: [{ value: 1.7e21 }] },
];

/** The same families through prom-client's own registry, as it renders them. */
async function promClientRendering(format: ExpositionFormat): Promise<string> {
  const registry = new Registry();
  if (format === "openmetrics") {
    registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE as never);
  }
  for (const { name, help, type, samples } of CASES) {
    // An unlabelled prom-client gauge reads 0 before it is set; a labelled one reads nothing.
    const labelNames = samples.length === 0
      ? ["channel"]
      : [...new Set(samples.flatMap((s) => Object.keys(s.labels ?? {})))];
    const metric = type === "gauge"
      ? new Gauge({ name, help, labelNames, registers: [registry] })
      : new Counter({ name, help, labelNames, registers: [registry] });
    for (const { labels, value } of samples) {
      if (metric instanceof Gauge) metric.set(labels ?? {}, value);
      else metric.inc(labels ?? {}, value);
    }
  }
  return await registry.metrics();
}

for (const format of ["text", "openmetrics"] as const) {
  Deno.test(`the ${format} exposition is byte for byte prom-client's`, async () => {
    const ours = exposition(
      CASES.map((family) => new FamilyWriter(family, format).write(family.samples)),
      format,
    );
    assert.equal(ours, await promClientRendering(format));
  });
}

Deno.test("OpenMetrics names a counter family without _total and its samples with it", () => {
  const written = new FamilyWriter(CASES[1]!, "openmetrics").write(CASES[1]!.samples);
  assert.equal(
    written,
    [
      "# HELP p1_energy_joules A counter with labels",
      "# TYPE p1_energy_joules counter",
      'p1_energy_joules_total{tariff="1"} 39888003600',
      'p1_energy_joules_total{tariff="2"} 0.001',
    ].join("\n"),
  );
});

Deno.test("formatValue() spells the special values as the formats do", () => {
  assert.equal(formatValue(NaN), "NaN"); // prom-client writes "Nan"
  assert.equal(formatValue(Infinity), "+Inf");
  assert.equal(formatValue(-Infinity), "-Inf");
  assert.equal(formatValue(-0), "0");
  assert.equal(formatValue(6919.956), "6919.956");
});
