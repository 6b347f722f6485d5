/**
 * The Prometheus snippet and the Grafana dashboard in `examples/`, tried on the real things: the
 * service on its demo meter, scraped by Debian's `prometheus` with the documented snippet (only
 * the target and the interval changed), and every query of the dashboard asked of Prometheus.
 */
import assert from "node:assert/strict";
import { ROOT } from "../support/paths.ts";
import { startServer } from "../support/server.ts";

const SNIPPET_PATH = `${ROOT}examples/prometheus.yml`;
const DASHBOARD_PATH = `${ROOT}examples/grafana-dashboard.json`;

/**
 * Whether a program runs here. `.ci/run` installs Debian's prometheus (server and promtool), so
 * under CI a missing one fails the test instead of skipping it.
 */
function installed(program: string): boolean {
  if (Deno.env.get("CI") !== undefined) return true;
  try {
    new Deno.Command(program, { args: ["--version"], stdout: "null", stderr: "null" })
      .outputSync();
    return true;
  } catch {
    return false;
  }
}

/** A query of the dashboard: the panel it belongs to and its PromQL. */
interface DashboardQuery {
  panel: string;
  expr: string;
}

interface GrafanaTarget {
  expr?: string;
  refId?: string;
}

interface GrafanaPanel {
  id: number;
  title: string;
  type: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: { type: string; uid: string };
  targets?: GrafanaTarget[];
}

interface GrafanaDashboard {
  __inputs: { name: string; pluginId: string }[];
  panels: GrafanaPanel[];
  templating: { list: { name: string; definition: string }[] };
}

const DASHBOARD: GrafanaDashboard = JSON.parse(Deno.readTextFileSync(DASHBOARD_PATH));
const PAGE = Deno.readTextFileSync(`${ROOT}docs/prometheus-grafana.md`);

/** The PromQL recipes of docs/prometheus-grafana.md: its table's second column. */
function recipeQueries(): DashboardQuery[] {
  return [...PAGE.matchAll(/^\| ([^|`]+?)\s*\| `(.+)`\s*\|$/gm)].map(([, what, expr]) => ({
    panel: `recipe "${what}"`,
    expr: expr!,
  }));
}

/** The page's YAML blocks. */
function yamlBlocks(): string[] {
  return [...PAGE.matchAll(/^```yaml\n([\s\S]*?)^```$/gm)].map(([, block]) => block!);
}

/** Every PromQL expression of the dashboard's panels. */
function dashboardQueries(): DashboardQuery[] {
  return DASHBOARD.panels.flatMap((panel) =>
    (panel.targets ?? []).map((target) => {
      assert.ok(target.expr, `panel "${panel.title}" has a target without a query`);
      return { panel: panel.title, expr: target.expr };
    })
  );
}

/**
 * A dashboard query with Grafana's variables replaced as Grafana would: `$__range` by the time
 * range, `$__interval` and `$__rate_interval` by a step, `$instance` by the chosen reader. An
 * unknown variable fails the test instead of reaching Prometheus.
 */
function substitute(expr: string, instance: string): string {
  const values: Record<string, string> = {
    __range: "1h",
    __interval: "30s",
    __rate_interval: "30s",
    instance,
  };
  return expr.replace(/\$\{?(\w+)\}?/g, (_, name: string) => {
    const value = values[name];
    assert.ok(value !== undefined, `unknown Grafana variable $${name} in ${expr}`);
    return value;
  });
}

Deno.test("the dashboard's panels use the Prometheus data source it asks for, in a 24-column grid without overlaps", () => {
  assert.deepEqual(DASHBOARD.__inputs.map((input) => input.pluginId), ["prometheus"]);
  const source = `\${${DASHBOARD.__inputs[0]!.name}}`;
  const taken = new Set<string>();
  for (const panel of DASHBOARD.panels) {
    assert.equal(panel.datasource?.uid, source, panel.title);
    const { x, y, w, h } = panel.gridPos;
    assert.ok(x >= 0 && w > 0 && x + w <= 24, `"${panel.title}" leaves the grid`);
    for (let row = y; row < y + h; row++) {
      for (let column = x; column < x + w; column++) {
        assert.ok(!taken.has(`${row},${column}`), `"${panel.title}" overlaps another panel`);
        taken.add(`${row},${column}`);
      }
    }
  }
  assert.equal(new Set(DASHBOARD.panels.map((panel) => panel.id)).size, DASHBOARD.panels.length);
});

Deno.test("docs/prometheus-grafana.md shows examples/prometheus.yml as it is", () => {
  assert.ok(yamlBlocks().includes(Deno.readTextFileSync(SNIPPET_PATH)));
});

Deno.test("promtool accepts the page's alerting rule", {
  ignore: !installed("promtool"),
}, async () => {
  const rules = yamlBlocks().find((block) => block.startsWith("groups:"));
  assert.ok(rules, "the page has a rule group");
  const dir = await Deno.makeTempDir();
  Deno.writeTextFileSync(`${dir}/rules.yml`, rules);
  const { code, stdout, stderr } = await new Deno.Command("promtool", {
    args: ["check", "rules", `${dir}/rules.yml`],
    stdout: "piped",
    stderr: "piped",
  }).output();
  await Deno.remove(dir, { recursive: true });
  const decoder = new TextDecoder();
  assert.equal(code, 0, decoder.decode(stdout) + decoder.decode(stderr));
});

Deno.test("promtool accepts the documented scrape configuration as it is", {
  ignore: !installed("promtool"),
}, async () => {
  const { code, stdout, stderr } = await new Deno.Command("promtool", {
    args: ["check", "config", SNIPPET_PATH],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  assert.equal(code, 0, decoder.decode(stdout) + decoder.decode(stderr));
});

/** A free loopback port (closed again, so that Prometheus can take it). */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  return port;
}

/** Asks Prometheus's HTTP API; fails on anything but `status: success`. */
async function ask<T>(prometheus: string, path: string): Promise<T> {
  const response = await fetch(`${prometheus}${path}`);
  const body = await response.json();
  assert.equal(body.status, "success", `${path}: ${JSON.stringify(body)}`);
  return body.data as T;
}

type InstantVector = { resultType: string; result: { metric: Record<string, string> }[] };

Deno.test({
  name:
    "real Prometheus scrapes the service with the documented snippet, and every dashboard and recipe query returns data",
  ignore: !installed("prometheus"),
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  const service = await startServer(["--source", "demo"]);
  const dir = await Deno.makeTempDir({ prefix: "p1reader-prometheus-" });
  const target = new URL(service.url).host;
  // The documented snippet, pointed at the service and scraping every second to keep this short.
  let config = Deno.readTextFileSync(SNIPPET_PATH);
  for (
    const [from, to] of [[/targets: \["[^"]+"\]/, `targets: ["${target}"]`], [
      /scrape_interval: \d+s/,
      "scrape_interval: 1s",
    ]] as const
  ) {
    assert.equal(config.match(new RegExp(from, "g"))?.length, 1, `the snippet has one ${from}`);
    config = config.replace(from, to);
  }
  Deno.writeTextFileSync(`${dir}/prometheus.yml`, config);
  const port = freePort();
  const prometheus = `http://127.0.0.1:${port}`;
  const child = new Deno.Command("prometheus", {
    args: [
      `--config.file=${dir}/prometheus.yml`,
      `--storage.tsdb.path=${dir}/data`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let log = "";
  const reading = (async () => {
    for await (const text of child.stderr.pipeThrough(new TextDecoderStream())) log += text;
  })();
  try {
    // `up` is 1 once Prometheus has scraped the service successfully.
    let up: { value: [number, string] }[] = [];
    await pollUntil(async () => {
      up = (await ask<{ result: { value: [number, string] }[] }>(
        prometheus,
        `/api/v1/query?query=${encodeURIComponent('up{job="p1reader"}')}`,
      )).result;
      return up[0]?.value[1] === "1";
    }, () => `up{job="p1reader"} to be 1 (got ${JSON.stringify(up)})\n${log}`);

    // The dashboard's variable lists this reader.
    const variable = DASHBOARD.templating.list.find((v) => v.name === "instance");
    const labelValues = /^label_values\((\w+),\s*(\w+)\)$/.exec(variable?.definition ?? "");
    assert.ok(labelValues, `the instance variable is label_values(METRIC, LABEL)`);
    const instances = await ask<string[]>(
      prometheus,
      `/api/v1/label/${labelValues[2]}/values?${new URLSearchParams({
        "match[]": labelValues[1]!,
      })}`,
    );
    assert.deepEqual(instances, [target]);

    // Every query returns at least one series; range functions need two scrapes, so wait.
    const recipes = recipeQueries();
    assert.ok(recipes.length >= 8, `only ${recipes.length} recipes found`);
    const queries = [...dashboardQueries(), ...recipes];
    assert.ok(queries.length >= 25, `only ${queries.length} queries`);
    const empty = new Set(queries.map((q) => q.expr));
    await pollUntil(
      async () => {
        for (const { expr } of queries) {
          if (!empty.has(expr)) continue;
          const data = await ask<InstantVector>(
            prometheus,
            `/api/v1/query?query=${encodeURIComponent(substitute(expr, target))}`,
          );
          if (data.result.length > 0) empty.delete(expr);
        }
        return empty.size === 0;
      },
      () =>
        `every dashboard query to return data; still empty:\n${
          queries.filter((q) => empty.has(q.expr)).map((q) => `  ${q.panel}: ${q.expr}`).join("\n")
        }`,
    );
  } finally {
    child.kill("SIGTERM");
    await child.status;
    await reading;
    await service.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

/** Polls an async condition every 250 ms; fails with `what()` after 60 s (a loaded machine). */
async function pollUntil(condition: () => Promise<boolean>, what: () => string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (true) {
    try {
      if (await condition()) return;
    } catch (error) {
      // Prometheus is still starting (connection refused): keep polling until the deadline.
      if (!(error instanceof TypeError)) throw error;
    }
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what()}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
