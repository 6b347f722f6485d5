/**
 * The dashboard in a real browser: Debian's Chromium, driven by playwright-core in a subprocess
 * (`drive_dashboard.ts`), against the real service.
 */
import assert from "node:assert/strict";
import { captureOf, generateStates } from "../support/history_capture.ts";
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
  mode: "live" | "stale" | "usage",
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

Deno.test({
  name:
    "the dashboard shows today, yesterday, the month and the year from the history, with charts",
  ignore: !enabled,
  async fn() {
    // Six weeks of a meter, the last telegram on 3 April 2025: today is that day.
    const dir = await Deno.makeTempDir({ prefix: "dashboard-usage-" });
    const states = generateStates({
      start: Date.UTC(2025, 1, 20, 11, 0, 30),
      end: Date.UTC(2025, 3, 3, 10, 0),
      stepMs: 60_000,
      downtime: [[Date.UTC(2025, 3, 1, 8), Date.UTC(2025, 3, 1, 20)]],
    });
    await Deno.writeTextFile(`${dir}/capture.txt`, captureOf(states));
    const server = await startServer([
      ...["--source", `file:${dir}/capture.txt`, "--price-import", "0.30", "--price-gas", "1.25"],
    ]);
    try {
      for (;;) {
        const status = await (await fetch(`${server.url}/api/v1/status`)).json();
        if (status.state === "ended" && status.history.pendingMinutes === 0) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const usage = async (query: string) =>
        (await (await fetch(`${server.url}/api/v1/usage?${query}`)).json()).total;
      const kwh = (value: number) => {
        const digits = value < 100 ? 2 : 0;
        return new Intl.NumberFormat("nl-NL", {
          maximumFractionDigits: digits,
          minimumFractionDigits: digits,
        }).format(value);
      };
      const euro = (value: number) =>
        new Intl.NumberFormat("nl-NL", { style: "currency", currency: "EUR" }).format(value);
      const expected = await Promise.all(
        [
          "from=2025-04-03&to=2025-04-03",
          "from=2025-04-02&to=2025-04-02",
          "from=2025-04",
          "from=2025",
        ]
          .map((query) => usage(query)),
      );
      const seen = await drive(server, "usage");
      assert.deepEqual(
        (seen.rows as string[][]).map((row) => [row[0], row[1], row[4]]),
        [
          ["Today", kwh(expected[0].import.total), euro(expected[0].cost.total)],
          ["Yesterday", kwh(expected[1].import.total), euro(expected[1].cost.total)],
          ["April *", kwh(expected[2].import.total), euro(expected[2].cost.total)],
          ["2025 *", kwh(expected[3].import.total), euro(expected[3].cost.total)],
        ],
      );
      assert.match(seen.note as string, /includes time without readings/);
      assert.equal(seen.monthTitle, "Days of April 2025");
      assert.equal(seen.dayBars, 3, "1 to 3 April");
      assert.equal(seen.monthBars, 3, "February to April");
      assert.deepEqual(seen.errors, []);
    } finally {
      await server.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
