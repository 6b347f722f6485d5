/**
 * The dashboard in a real browser: Debian's Chromium, driven by playwright-core in a subprocess
 * (`drive_dashboard.ts`), against the real service. Each browser run is shared by the steps that
 * check what it saw.
 */
import assert from "node:assert/strict";
import { crc16, formatCrc } from "../../lib/dsmr/crc16.ts";
import { MeterCalendar } from "../../lib/outputs/history/calendar.ts";
import { CENTRAL_EUROPEAN_TIME } from "../../lib/dsmr/values.ts";
import { captureOf, generateStates } from "../support/history_capture.ts";
import { fixture, ROOT } from "../support/paths.ts";
import { runMain } from "../support/run.ts";
import { type RunningServer, SERVE_PERMISSIONS, startServer } from "../support/server.ts";

const enabled = (() => {
  try {
    return Deno.statSync("/usr/bin/chromium").isFile;
  } catch {
    return Deno.env.get("CI") !== undefined; // CI installs it; there, a missing browser must fail
  }
})();

async function drive(
  server: RunningServer,
  mode: "live" | "stale" | "hostile" | "usage" | "prefixed",
  url = server.url,
): Promise<Record<string, unknown>> {
  await Deno.mkdir(`${ROOT}dist`, { recursive: true });
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${ROOT}tests/ui/drive_dashboard.ts`, url, mode, `${ROOT}dist`],
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
    await t.step("a live meter's cards are titled today and the last hour", () => {
      assert.deepEqual(seen.titles, ["Today", "Last hour", "Last 48 hours (per minute)"]);
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
  name: "behind a reverse proxy's path prefix, / leads to the dashboard and it goes live",
  ignore: !enabled,
  async fn() {
    const server = await startServer(["--source", "demo"]);
    // The proxy a user puts in front (nginx `location /p1/ { proxy_pass http://reader/; }`):
    // it strips the prefix and streams the answer, so the live stream passes too.
    const proxy = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (request) => {
      const { pathname, search } = new URL(request.url);
      if (!pathname.startsWith("/p1/")) return new Response("not here", { status: 404 });
      return fetch(server.url + pathname.slice("/p1".length) + search, {
        headers: request.headers,
        redirect: "manual", // the browser follows redirects, as behind nginx
      });
    });
    try {
      const seen = await drive(server, "prefixed", `http://127.0.0.1:${proxy.addr.port}/p1`);
      assert.equal(seen.path, "/p1/ui");
      assert.match(seen.power as string, /\d/);
      assert.deepEqual(seen.errors, []);
    } finally {
      await proxy.shutdown();
      await server.stop();
    }
  },
});

Deno.test({
  name: "the dashboard of a DSMR 3 meter gone quiet: a clear banner, and no empty phases card",
  ignore: !enabled,
  async fn(t) {
    // One telegram shows no interval: without --stale-after it would be stale only after 30 s.
    const server = await startServer([
      ...["--source", `file:${fixture("nl-dsmr30-slash-in-text.txt")}`, "--stale-after", "2"],
    ]);
    let seen: Record<string, unknown>;
    try {
      seen = await drive(server, "stale");
    } finally {
      await server.stop();
    }
    await t.step("a clear banner when the data is stale", () => {
      assert.match(seen.banner as string, /^Data is stale: no valid telegram for \d+ s$/);
      assert.deepEqual(seen.errors, []);
    });
    await t.step("a meter without phases shows its readings and no phases card", () => {
      assert.match(seen.registers as string, /^Import tariff 1/);
      assert.deepEqual([seen.registersHidden, seen.phasesHidden], [false, true]);
    });
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

/** The history's figures as the panel should show them in a Dutch browser. */
const dutch = {
  kwh(value: number): string {
    const digits = value < 100 ? 2 : 0;
    return new Intl.NumberFormat("nl-NL", {
      maximumFractionDigits: digits,
      minimumFractionDigits: digits,
    }).format(value);
  },
  euro(value: number): string {
    return new Intl.NumberFormat("nl-NL", { style: "currency", currency: "EUR" }).format(value);
  },
  /** A meter-local date, "za 3 mei", with the year when asked. */
  date(day: string, withYear = false): string {
    return new Date(`${day}T00:00:00Z`).toLocaleDateString("nl-NL", {
      weekday: "short",
      day: "numeric",
      month: "short",
      timeZone: "UTC",
      ...(withYear ? { year: "numeric" } : {}),
    });
  },
  month(day: string): string {
    return new Date(`${day}T00:00:00Z`).toLocaleString("nl-NL", { month: "long", timeZone: "UTC" });
  },
};

/** Waits until the service has read its source and written every minute. */
async function historyWritten(server: RunningServer): Promise<void> {
  for (;;) {
    const status = await (await fetch(`${server.url}/api/v1/status`)).json();
    if (status.state === "ended" && status.history.pendingMinutes === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** The usage totals of some `/api/v1/usage` queries. */
async function usageTotals(server: RunningServer, queries: string[]) {
  return await Promise.all(
    queries.map(async (query) =>
      (await (await fetch(`${server.url}/api/v1/usage?${query}`)).json()).total
    ),
  );
}

Deno.test({
  name:
    "the dashboard shows the month and the year from the history, each day named by its date when it is not today",
  ignore: !enabled,
  async fn(t) {
    // Six weeks of a meter, the last telegram on Saturday 3 May 2025, replayed to its end.
    const dir = await Deno.makeTempDir({ prefix: "dashboard-usage-" });
    const states = generateStates({
      start: Date.UTC(2025, 2, 22, 11, 0, 30),
      end: Date.UTC(2025, 4, 3, 10, 0),
      stepMs: 60_000,
      downtime: [[Date.UTC(2025, 4, 1, 8), Date.UTC(2025, 4, 1, 20)]],
    });
    await Deno.writeTextFile(`${dir}/capture.txt`, captureOf(states));
    const server = await startServer([
      ...["--source", `file:${dir}/capture.txt`, "--price-import", "0.30", "--price-gas", "1.25"],
    ]);
    let seen: Record<string, unknown>;
    let expected: Awaited<ReturnType<typeof usageTotals>>;
    try {
      await historyWritten(server);
      expected = await usageTotals(server, [
        "from=2025-05-03&to=2025-05-03",
        "from=2025-05-02&to=2025-05-02",
        "from=2025-05",
        "from=2025",
      ]);
      seen = await drive(server, "usage");
    } finally {
      await server.stop();
      await Deno.remove(dir, { recursive: true });
    }
    await t.step("the rows name the days by date, the year included, and mark gaps", () => {
      const may = dutch.month("2025-05-01");
      assert.deepEqual(
        (seen.rows as string[][]).map((row) => [row[0], row[1], row[4]]),
        [
          [
            dutch.date("2025-05-03", true),
            dutch.kwh(expected[0].import.total),
            dutch.euro(expected[0].cost.total),
          ],
          [
            dutch.date("2025-05-02", true),
            dutch.kwh(expected[1].import.total),
            dutch.euro(expected[1].cost.total),
          ],
          [`${may} *`, dutch.kwh(expected[2].import.total), dutch.euro(expected[2].cost.total)],
          ["2025 *", dutch.kwh(expected[3].import.total), dutch.euro(expected[3].cost.total)],
        ],
      );
      assert.match(seen.note as string, /includes time without readings/);
      assert.equal(seen.monthTitle, `Days of ${may} 2025`);
      assert.equal(seen.dayBars, 3, "1 to 3 May");
      assert.equal(seen.monthBars, 3, "March to May");
    });
    await t.step("the other cards say which day and hours they show", () => {
      const day = dutch.date("2025-05-03", true);
      assert.deepEqual(seen.titles, [
        day,
        `Hour until ${day}, 11:59`,
        `48 hours until ${day}, 11:59 (per minute)`,
      ]);
    });
    await t.step(
      "at 1,280 px and at 390 px nothing is cramped, and the 31 days' labels fit",
      () => {
        assert.deepEqual(seen.desktopFaults, []);
        assert.deepEqual(seen.phoneFaults, []);
        assert.deepEqual(seen.errors, []);
      },
    );
  },
});

Deno.test({
  name: "after an import of earlier days and with no meter, the dashboard calls none of them today",
  ignore: !enabled,
  async fn() {
    // Three whole days that ended the day before yesterday, imported; then no meter at all.
    const calendar = new MeterCalendar(CENTRAL_EUROPEAN_TIME);
    const today = new Intl.DateTimeFormat("en-CA", { timeZone: "Europe/Amsterdam" })
      .format(new Date());
    const day = (offset: number) =>
      new Date(Date.parse(`${today}T00:00:00Z`) + offset * 86_400_000).toISOString().slice(0, 10);
    const dir = await Deno.makeTempDir({ prefix: "dashboard-imported-" });
    const states = generateStates({
      start: calendar.startOfDay(day(-4)) + 30_000,
      end: calendar.startOfDay(day(-1)),
      stepMs: 60_000,
    });
    await Deno.writeTextFile(`${dir}/capture.txt`, captureOf(states));
    const imported = await runMain(
      ["import", "--data-dir", `${dir}/data`, `${dir}/capture.txt`],
      { permissions: SERVE_PERMISSIONS },
    );
    assert.equal(imported.code, 0, imported.stderr);
    const server = await startServer([
      ...["--source", "file:/dev/null", "--data-dir", `${dir}/data`, "--price-import", "0.30"],
    ]);
    try {
      await historyWritten(server);
      const expected = await usageTotals(server, [
        `from=${day(-2)}&to=${day(-2)}`,
        `from=${day(-3)}&to=${day(-3)}`,
      ]);
      const seen = await drive(server, "usage");
      assert.equal(seen.banner, "Waiting for the first telegram…");
      // Early in January those days lie in another year, which their names then say.
      const named = (offset: number) =>
        dutch.date(day(offset), !day(offset).startsWith(today.slice(0, 4)));
      const shown = named(-2);
      assert.deepEqual(seen.titles, [
        shown,
        `Hour until ${shown}, 23:59`,
        `48 hours until ${shown}, 23:59 (per minute)`,
      ]);
      assert.deepEqual(
        (seen.rows as string[][]).slice(0, 2).map((row) => [row[0], row[1]]),
        [
          [shown, dutch.kwh(expected[0].import.total)],
          [named(-3), dutch.kwh(expected[1].import.total)],
        ],
      );
      assert.deepEqual(seen.errors, []);
    } finally {
      await server.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});
