/**
 * The dashboard in a real browser: Debian's Chromium, driven by playwright-core in a subprocess
 * (`drive_dashboard.ts`), against the real service.
 */
import assert from "node:assert/strict";
import { fixture, ROOT } from "../support/paths.ts";
import { type RunningServer, startServer } from "../support/server.ts";

const enabled = (() => {
  try {
    return Deno.statSync("/usr/bin/chromium").isFile;
  } catch {
    return Deno.env.get("CI") !== undefined; // CI installs it; there, a missing browser must fail
  }
})();

async function drive(
  server: RunningServer,
  mode: "live" | "stale",
): Promise<Record<string, unknown>> {
  await Deno.mkdir(`${ROOT}dist`, { recursive: true });
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}tests/ui/drive_dashboard.ts`, server.url, mode, `${ROOT}dist`],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  assert.equal(code, 0, decoder.decode(stderr) + server.log());
  return JSON.parse(decoder.decode(stdout));
}

Deno.test({
  name: "the dashboard shows live power that updates, charts with points, no console errors",
  ignore: !enabled,
  async fn() {
    const server = await startServer(["--source", "demo"]);
    try {
      const seen = await drive(server, "live");
      assert.equal(seen.path, "/ui", "a browser asking for / lands on the dashboard");
      assert.match(seen.first as string, /^\d+(,\d\d)? k?W$/);
      assert.notEqual(seen.second, seen.first, "the power figure updates between telegrams");
      assert.ok((seen.points as number) >= 2, "the chart has points");
      assert.equal(seen.bannerHidden, true);
      assert.equal(seen.phases, 3);
      assert.match(
        seen.registers as string,
        /Imported tariff 1\s*11\.080,\d{3} kWh/,
        "Dutch number formatting",
      );
      assert.match(seen.age as string, /^last telegram \d+ s ago$/);
      assert.deepEqual(seen.errors, []);
      assert.ok(
        Deno.statSync(`${ROOT}dist/dashboard-desktop.png`).size > 10_000,
        "a screenshot for review",
      );
    } finally {
      await server.stop();
    }
  },
});

Deno.test({
  name: "the dashboard shows a clear banner when the data is stale",
  ignore: !enabled,
  async fn() {
    // One telegram shows no interval: without --stale-after it would be stale only after 30 s.
    const server = await startServer([
      ...["--source", `file:${fixture("nl-dsmr50-3phase-4mbus.txt")}`, "--stale-after", "2"],
    ]);
    try {
      const seen = await drive(server, "stale");
      assert.match(seen.banner as string, /^Data is stale: no valid telegram for \d+ s$/);
      assert.deepEqual(seen.errors, []);
    } finally {
      await server.stop();
    }
  },
});
