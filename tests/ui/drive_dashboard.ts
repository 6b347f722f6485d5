/**
 * Drives the dashboard in Debian's Chromium with playwright-core and prints what it saw as JSON.
 * Run by `dashboard_test.ts` with `--allow-all`, which playwright-core needs (it probes /proc);
 * the rest of the test run keeps narrow permissions.
 *
 * Usage: drive_dashboard.ts URL live|stale|usage SCREENSHOT_DIR
 */
import { chromium } from "playwright-core";

const [url, mode, screenshots] = Deno.args;
const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking"],
});
const report: Record<string, unknown> = {};
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const errors: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(message.text());
  });
  page.on("pageerror", (error) => errors.push(String(error)));
  if (mode === "live") {
    await page.goto(`${url}/`); // a browser asking for / lands on the dashboard
    report.path = new URL(page.url()).pathname;
    // Predicates run in the page, so they are passed as text.
    await page.waitForFunction(`document.getElementById("power").textContent !== "–"`);
    report.first = await page.textContent("#power");
    await page.waitForFunction(
      `document.getElementById("power").textContent !== ${JSON.stringify(report.first)}`,
      null,
      {
        timeout: 10_000,
      },
    );
    report.second = await page.textContent("#power");
    await page.waitForFunction(`Number(document.getElementById("chart-hour").dataset.points) >= 2`);
    report.points = Number(await page.getAttribute("#chart-hour", "data-points"));
    report.bannerHidden = await page.isHidden("#banner");
    report.phases = await page.locator("#phases tr").count();
    report.registers = await page.textContent("#registers");
    report.age = await page.textContent("#age");
    await page.screenshot({ path: `${screenshots}/dashboard-desktop.png`, fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: `${screenshots}/dashboard-phone.png`, fullPage: true });
  } else if (mode === "usage") {
    await page.goto(`${url}/ui`);
    await page.waitForFunction(
      `!document.getElementById("usage-year").hidden && document.getElementById("usage-rows").children.length === 4`,
      null,
      { timeout: 10_000 },
    );
    report.rows = await page.$$eval(
      "#usage-rows tr",
      (rows) => rows.map((row) => [...row.children].map((cell) => cell.textContent)),
    );
    report.note = await page.textContent("#usage-note");
    report.monthTitle = await page.textContent("#usage-month-title");
    report.dayBars = Number(await page.getAttribute("#chart-month", "data-bars"));
    report.monthBars = Number(await page.getAttribute("#chart-year", "data-bars"));
    await page.screenshot({ path: `${screenshots}/dashboard-usage.png`, fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: `${screenshots}/dashboard-usage-phone.png`, fullPage: true });
  } else {
    await page.goto(`${url}/ui`);
    await page.waitForFunction(
      `!document.getElementById("banner").hidden && /stale/.test(document.getElementById("banner").textContent)`,
      null,
      { timeout: 10_000 },
    );
    report.banner = await page.textContent("#banner");
  }
  report.errors = errors;
} finally {
  await browser.close();
}
Deno.stdout.writeSync(new TextEncoder().encode(JSON.stringify(report)));
