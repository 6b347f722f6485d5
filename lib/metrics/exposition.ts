/**
 * Writes metric families in the Prometheus text format or OpenMetrics, byte for byte as
 * prom-client's registry renders them (except NaN, which prom-client misspells `Nan`), with each
 * family's HELP and TYPE lines prepared once
 * instead of on every scrape. prom-client's renderer spent most of a scrape on that, and on a
 * cache entry per sample that kept the garbage collector busy.
 *
 * @module
 */

/** The two exposition formats `/metrics` speaks. */
export type ExpositionFormat = "text" | "openmetrics";

/** What names a family. */
export interface FamilyDescription {
  /** The metric name (a counter's ends in `_total`). */
  readonly name: string;
  /** The HELP text. */
  readonly help: string;
  /** The TYPE. */
  readonly type: "gauge" | "counter";
}

/** One sample to write: labels (numbers are written as text) and a value. */
export interface ExposedSample {
  /** Label names and values. */
  readonly labels?: Readonly<Record<string, string | number>>;
  /** The value. */
  readonly value: number;
}

/** A sample value as the exposition formats spell it. */
export function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

function escapeHelp(text: string): string {
  return text.replaceAll("\\", "\\\\").replaceAll("\n", "\\n");
}

function formatLabels(labels: Readonly<Record<string, string | number>> | undefined): string {
  let out = "";
  for (const name in labels) {
    const value = escapeHelp(String(labels[name])).replaceAll('"', '\\"');
    out += `${out === "" ? "{" : ","}${name}="${value}"`;
  }
  return out === "" ? "" : `${out}}`;
}

/** One family in one format: its header lines prepared once, its samples written per scrape. */
export class FamilyWriter {
  readonly #header: string;
  readonly #sampleName: string;

  /**
   * Prepares a family.
   *
   * @param family Its name, help and type.
   * @param format The format to write. OpenMetrics names a counter family without `_total` and
   *   its samples with it, as prom-client does.
   */
  constructor(family: FamilyDescription, format: ExpositionFormat) {
    const counter = format === "openmetrics" && family.type === "counter";
    const name = counter ? family.name.replace(/_total$/, "") : family.name;
    this.#header = `# HELP ${name} ${escapeHelp(family.help)}\n# TYPE ${name} ${family.type}`;
    this.#sampleName = counter ? `${name}_total` : name;
  }

  /** The family's lines, without a final line end. */
  write(samples: readonly ExposedSample[]): string {
    let out = this.#header;
    for (const sample of samples) {
      out += `\n${this.#sampleName}${formatLabels(sample.labels)} ${formatValue(sample.value)}`;
    }
    return out;
  }
}

/**
 * Written families joined into one part of an exposition, as prom-client joins them: a blank
 * line between text families, OpenMetrics families back to back. The part is one flat string, so
 * a part kept for many scrapes is not walked piece by piece again in each.
 */
export function joinFamilies(families: readonly string[], format: ExpositionFormat): string {
  return families.join(format === "text" ? "\n\n" : "\n");
}

/**
 * A whole exposition of written families (or parts joined by {@linkcode joinFamilies}): joined
 * as prom-client joins them, OpenMetrics closed by `# EOF`.
 */
export function exposition(families: readonly string[], format: ExpositionFormat): string {
  // Concatenated, not joined: the parts are not copied into a new string here, only once when
  // the response is encoded.
  const separator = format === "text" ? "\n\n" : "\n";
  let body = "";
  for (const family of families) {
    if (family !== "") body += body === "" ? family : separator + family;
  }
  return format === "text" ? `${body}\n` : `${body}\n# EOF\n`;
}
