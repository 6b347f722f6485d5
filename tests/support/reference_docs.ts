/**
 * The generated parts of `docs/`: the option reference from `OPTIONS`, the metric list from
 * `METRICS` and the runtime collectors, and the format table from `FORMATS`. Each sits between
 * two marker comments in its page, so the prose around it stays hand-written.
 *
 * `deno run -A tests/support/reference_docs.ts` rewrites them; `tests/docs/reference_test.ts`
 * fails while a page is out of date.
 *
 * @module
 */

import { OPTIONS, type OptionSpec } from "../../lib/config.ts";
import { FORMAT_ALIASES, FORMATS } from "../../lib/dsmr/formats.ts";
import { MetricsRegistry } from "../../lib/metrics/registry.ts";
import {
  type MetricRow,
  METRICS,
  type MetricSnapshot,
  originalMbusRows,
  receiverSnapshot,
} from "../../lib/metrics/table.ts";
import { OUTPUTS } from "../../lib/outputs/list.ts";
import { VERSION } from "../../lib/version.ts";
import { ROOT } from "./paths.ts";
import { receiverOf } from "./service.ts";

/** One generated part: the page, the marker name and what renders it. */
export interface GeneratedPart {
  /** The page, relative to the project root. */
  path: string;
  /** The name in its marker comments. */
  name: string;
  /** Renders the text between the markers. */
  render(): Promise<string>;
}

/** The command that rewrites the generated parts, as the pages and test messages name it. */
export const REGENERATE = "deno run -A tests/support/reference_docs.ts";

/** The marker lines around a generated part. */
export function markers(name: string): { begin: string; end: string } {
  return {
    begin: `<!-- generated: ${name} (do not edit; ${REGENERATE}) -->`,
    end: `<!-- end of generated: ${name} -->`,
  };
}

/** The original product's names of an option: environment variables and appsettings.json path. */
function originalNames(option: OptionSpec): string[] {
  const names = (option.original ?? []).filter((name) => !(name in OTHER_PROGRAMS_NAMES))
    .map((name) => `\`${name}\``);
  if (option.appsettings) {
    const [section, key] = option.appsettings.split(":");
    names.push(
      key === undefined
        ? `\`{ "${section}": ... }\` in appsettings.json`
        : `\`{ "${section}": { "${key}": ... } }\` in appsettings.json`,
    );
  }
  return names;
}

/** Environment names an option also reads that are not the original's, with whose they are. */
const OTHER_PROGRAMS_NAMES: Record<string, string> = { STATE_DIRECTORY: "systemd's" };

/** The line naming the other programs' names an option reads, if it reads any. */
function otherProgramsNames(option: OptionSpec): string[] {
  return (option.original ?? []).filter((name) => name in OTHER_PROGRAMS_NAMES)
    .map((name) => `- also read from ${OTHER_PROGRAMS_NAMES[name]} \`${name}\``);
}

/** The option reference: one heading and a short list per option, in table order. */
export function renderOptions(): Promise<string> {
  const sections = OPTIONS.map((option) => {
    const usage = option.type === "string"
      ? `--${option.name} ${option.value ?? "VALUE"}`
      : `--${option.name}`;
    const lines = [
      `### \`--${option.name}\``,
      "",
      `\`${usage}\`: ${option.help}.`,
      "",
      `- default: ${option.default === undefined ? "unset" : `\`${option.default}\``}`,
      `- environment: \`${option.env}\``,
      `- in a \`--config\` file: \`"${option.name}"\``,
    ];
    const original = originalNames(option);
    if (original.length > 0) lines.push(`- the original's names: ${original.join(", ")}`);
    lines.push(...otherProgramsNames(option));
    if (option.type === "boolean") lines.push("- a switch: it takes no value on the command line");
    if (option.secret) lines.push("- a secret: never printed or logged");
    return lines.join("\n");
  });
  return Promise.resolve(sections.join("\n\n"));
}

/** The option that turns on each optional output, whose metrics appear only then. */
/** Fixtures whose telegrams together give every label a telegram metric has. */
const LABEL_FIXTURES = [
  "nl-dsmr50-3phase-4mbus.txt",
  "be-emucs-peak.txt",
  "nl-dsmr22-gas-nextline.txt",
  "nl-original-readme-example.txt",
];

/**
 * Stand-in stats for every output: any property is another stand-in, and any number read from
 * it is 0. Only the label names of the families that read it matter here.
 */
const ANY_STATS: unknown = new Proxy(() => {}, {
  get: (_, key) => (key === Symbol.toPrimitive ? () => 0 : ANY_STATS),
});

/** Label names each row gives, read from real receivers fed the fixtures. */
async function labelNames(): Promise<Map<string, Set<string>>> {
  const names = new Map<string, Set<string>>();
  for (const fixture of LABEL_FIXTURES) {
    const snapshot: MetricSnapshot = receiverSnapshot(await receiverOf(fixture), VERSION);
    for (const row of METRICS) {
      const set = names.get(row.name) ?? new Set<string>();
      for (const sample of row.read(snapshot)) {
        for (const label of Object.keys(sample.labels ?? {})) set.add(label);
      }
      names.set(row.name, set);
    }
  }
  return names;
}

/** Text that Markdown would otherwise take for an HTML tag (`<id>`). */
function escapeHtml(text: string): string {
  return text.replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}

function metricLine(
  row: Pick<MetricRow, "name" | "type" | "help">,
  labels: Set<string> | undefined,
): string {
  const parts = [`- \`${row.name}\` (${row.type}`];
  if (labels && labels.size > 0) {
    parts.push(`; labels ${[...labels].map((l) => `\`${l}\``).join(", ")}`);
  }
  parts.push(`): ${escapeHtml(row.help)}`);
  return parts.join("");
}

/** The families of a real scrape that the table does not have: prom-client's runtime metrics. */
export async function runtimeFamilies(): Promise<{ name: string; type: string; help: string }[]> {
  const nothingYet = await receiverOf();
  const registry = new MetricsRegistry(() => receiverSnapshot(nothingYet, VERSION));
  const { body } = await registry.render(undefined);
  const table = new Set(METRICS.map((row) => row.name));
  const help = new Map<string, string>();
  const families: { name: string; type: string; help: string }[] = [];
  for (const line of body.split("\n")) {
    const described = /^# HELP (\S+) (.*)$/.exec(line);
    if (described) help.set(described[1]!, described[2]!);
    const typed = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (typed && !table.has(typed[1]!)) {
      families.push({ name: typed[1]!, type: typed[2]!, help: help.get(typed[1]!) ?? "" });
    }
  }
  return families;
}

/** The metric list: every row of the table, the original's per-device families, the runtime's. */
export async function renderMetrics(): Promise<string> {
  const labels = await labelNames();
  const table = METRICS.map((row) => metricLine(row, labels.get(row.name)));
  const mbus = originalMbusRows("<id>", () => undefined).map((row) => metricLine(row, undefined));
  const outputs = OUTPUTS.flatMap((output) =>
    output.metrics.map((metric) => {
      const labels = new Set(
        metric.read(ANY_STATS as never).flatMap((s) => Object.keys(s.labels ?? {})),
      );
      return `${metricLine(metric, labels)}${output.when ? ` (${output.when})` : ""}`;
    })
  );
  const runtime = (await runtimeFamilies()).map((family) =>
    `- \`${family.name}\` (${family.type}): ${escapeHtml(family.help)}`
  );
  return [
    "### Every metric with a fixed name",
    "",
    ...table,
    ...outputs,
    "",
    "### The original's per-device M-Bus families",
    "",
    "`<id>` is the device's identifier as the meter sends it (hex), or its position (1, 2, ...)",
    "when it has none.",
    "",
    ...mbus,
    "",
    "### The process's own (as prom-client names them)",
    "",
    ...runtime,
  ].join("\n");
}

/** The format table (short rows: it fits a terminal). */
export function renderFormats(): Promise<string> {
  const rows = Object.entries(FORMATS).map(([id, spec]) => {
    const { baudRate, dataBits, parity, stopBits } = spec.serial;
    const serial = `${baudRate} ${dataBits}${parity[0]!.toUpperCase()}${stopBits}`;
    return `| \`${id}\` | ${spec.description} | ${serial} | ${spec.checksum} | ${spec.intervalSeconds} s |`;
  });
  const aliases = Object.entries(FORMAT_ALIASES).map(([alias, id]) =>
    `- \`${alias}\`: the original product's name for its \`${id}\` meter; recognises the format as \`auto\` does`
  );
  return Promise.resolve(
    [
      "| format | meters | serial | CRC | interval |",
      "| --- | --- | --- | --- | --- |",
      ...rows,
      "",
      ...aliases,
    ].join("\n"),
  );
}

/** Every generated part of `docs/`. */
export const GENERATED: readonly GeneratedPart[] = [
  { path: "docs/configuration.md", name: "options", render: renderOptions },
  { path: "docs/metrics.md", name: "metrics", render: renderMetrics },
  { path: "docs/meters.md", name: "formats", render: renderFormats },
];

/**
 * A page with one generated part replaced by `body`.
 *
 * @throws {Error} When the page lacks the part's markers.
 */
export function withPart(page: string, name: string, body: string): string {
  const { begin, end } = markers(name);
  const from = page.indexOf(begin);
  const to = page.indexOf(end);
  if (from < 0 || to < from) throw new Error(`the page has no "${begin}" ... "${end}" markers`);
  return `${page.slice(0, from + begin.length)}\n\n${body}\n\n${page.slice(to)}`;
}

/** Formats Markdown as `deno fmt` would, so that a regenerated page passes `deno fmt --check`. */
export async function formatMarkdown(text: string): Promise<string> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["fmt", "--ext", "md", "-"],
    cwd: ROOT,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(text));
  await writer.close();
  const { code, stdout, stderr } = await child.output();
  const decoder = new TextDecoder();
  if (code !== 0) throw new Error(`deno fmt failed: ${decoder.decode(stderr)}`);
  return decoder.decode(stdout);
}

/** A page as it should be: every generated part rendered, then formatted. */
export async function expectedPage(path: string): Promise<string> {
  let page = await Deno.readTextFile(`${ROOT}${path}`);
  for (const part of GENERATED.filter((p) => p.path === path)) {
    page = withPart(page, part.name, await part.render());
  }
  return await formatMarkdown(page);
}

if (import.meta.main) {
  for (const path of new Set(GENERATED.map((part) => part.path))) {
    await Deno.writeTextFile(`${ROOT}${path}`, await expectedPage(path));
    // deno-lint-ignore no-console
    console.log(`wrote ${path}`);
  }
}
