/**
 * The dashboard in a real browser: Debian's Chromium, driven by playwright-core in a subprocess
 * (`drive_dashboard.ts`), against the real service. Each browser run is shared by the steps that
 * check what it saw.
 */
import assert from "node:assert/strict";
import { crc16, formatCrc } from "../../lib/dsmr/crc16.ts";
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
  mode: "live" | "stale" | "hostile" | "usage",
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
  name: "the dashboard on the demo meter, in Chromium",
  ignore: !enabled,
  async fn(t) {
    const server = await startServer(["--source", "demo"]);
    let seen: Record<string, unknown>;
    try {
      seen = await drive(server, "live");
    } finally {
      await server.stop();
    }
    await t.step("a browser asking for / lands on the dashboard", () => {
      assert.equal(seen.path, "/ui");
    });
    await t.step("live power updates, the charts have points, no console errors", () => {
      assert.match(seen.first as string, /^\d+(,\d\d)?\u00a0k?W$/);
      assert.notEqual(seen.second, seen.first, "the power figure updates between telegrams");
      assert.ok((seen.points as number) >= 2, "the chart has points");
      assert.equal(seen.bannerHidden, true);
      assert.equal(seen.phases, 3);
      assert.match(seen.age as string, /^last telegram \d+ s ago$/);
      assert.deepEqual(seen.errors, []);
    });
    await t.step("numbers follow the browser's locale; labels stay English", () => {
      assert.match(seen.registers as string, /^Import tariff 1\s*\d{1,3}(\.\d{3})+,\d{3}\u00a0kWh/);
      assert.match(
        seen.registersEnglish as string,
        /^Import tariff 1\s*\d{1,3}(,\d{3})+\.\d{3}\u00a0kWh/,
      );
    });
    await t.step("at 1,280 px and at 390 px no axis labels overlap and no value wraps", () => {
      assert.deepEqual(seen.desktopFaults, []);
      assert.deepEqual(seen.phoneFaults, []);
      for (const name of ["dashboard-desktop.png", "dashboard-phone.png"]) {
        assert.ok(Deno.statSync(`${ROOT}dist/${name}`).size > 10_000, `${name} for review`);
      }
    });
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

/** A valid telegram whose texts are markup: identifiers, a text message and an M-Bus unit. */
function hostileTelegram(): Uint8Array {
  const hex = (text: string) =>
    [...new TextEncoder().encode(text)].map((b) => b.toString(16).padStart(2, "0")).join("");
  const lines = new TextDecoder().decode(Deno.readFileSync(fixture("nl-dsmr50-3phase-4mbus.txt")))
    .split("\r\n").filter((line) => line.startsWith("1-0:") || line.startsWith("0-0:96.14"));
  const body = [
    "/ISK5\\2M550T-1013",
    "",
    "1-3:0.2.8(50)",
    "0-0:1.0.0(240630235959S)",
    `0-0:96.1.1(${hex("<img src=x onerror=window.pwned=1>")})`,
    ...lines,
    `0-0:96.13.0(${hex("<script>window.pwned=2</script>")})`,
    "0-1:24.1.0(003)",
    `0-1:96.1.0(${hex("<b>bold</b>")})`,
    "0-1:24.2.1(240630235500S)(00042.000*<img src=x onerror=window.pwned=3>)",
    "!",
  ].join("\r\n");
  const bytes = new TextEncoder().encode(body);
  return new TextEncoder().encode(`${body}${formatCrc(crc16(bytes))}\r\n`);
}

Deno.test({
  name:
    "meter text that is markup is shown as text and runs nothing, and the policy blocks injected script",
  ignore: !enabled,
  async fn() {
    const dir = await Deno.makeTempDir();
    const capture = `${dir}/hostile.txt`;
    await Deno.writeFile(capture, hostileTelegram());
    const server = await startServer([
      "--source",
      `file:${capture}`,
      "--replay-interval",
      "1",
      "--replay-loop",
    ]);
    try {
      const seen = await drive(server, "hostile");
      assert.equal(seen.pwned, null, "no meter text ran as script");
      assert.equal(seen.images, 0, "no meter text became an element");
      assert.equal(seen.meter, "<img src=x onerror=window.pwned=1>");
      // A parser that refuses such a unit leaves the gas row out; one that takes it shows it as text.
      if (/Gas \(1\)/.test(seen.registers as string)) {
        assert.match(
          seen.registers as string,
          /Gas \(1\)42\.000\u00a0<img src=x onerror=window\.pwned=3>/,
        );
      }
      assert.equal(seen.injected, null, "inline script and handlers are refused");
      assert.ok((seen.refusals as number) >= 1, "the browser reported the refusals");
      assert.deepEqual(seen.dialogs, []);
      assert.deepEqual(seen.errors, []);
    } finally {
      await server.stop();
      await Deno.remove(dir, { recursive: true });
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
      // Month names are dates, so they follow the browser's locale too; the labels stay English.
      const april = new Date(Date.UTC(2025, 3, 1)).toLocaleString("nl-NL", {
        month: "long",
        timeZone: "UTC",
      });
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
          [`${april} *`, kwh(expected[2].import.total), euro(expected[2].cost.total)],
          ["2025 *", kwh(expected[3].import.total), euro(expected[3].cost.total)],
        ],
      );
      assert.match(seen.note as string, /includes time without readings/);
      assert.equal(seen.monthTitle, `Days of ${april} 2025`);
      assert.equal(seen.dayBars, 3, "1 to 3 April");
      assert.equal(seen.monthBars, 3, "February to April");
      assert.deepEqual(seen.errors, []);
    } finally {
      await server.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
