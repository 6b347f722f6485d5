/**
 * Drives the dashboard in Debian's Chromium with playwright-core and prints what it saw as JSON.
 * Run by `dashboard_test.ts` with `--allow-all`, which playwright-core needs (it probes /proc);
 * the rest of the test run keeps narrow permissions.
 *
 * Usage: drive_dashboard.ts URL live|stale|hostile|usage|prefixed SCREENSHOT_DIR
 *
 * - live: a Dutch browser (`nl-NL`) at 1,280 px then 390 px: live power, charts, and the layout
 *   (axis labels that overlap, values that wrap); then an American one (`en-US`).
 * - stale: the banner of a meter that went quiet, and which cards it shows.
 * - hostile: a telegram whose texts are markup: what ran, and what the page shows.
 * - usage: the energy history's panel in a Dutch browser in Amsterdam: its rows, titles and bars,
 *   the titles of the other cards, and the layout at 1,280 px and at 390 px.
 * - prefixed: URL is a reverse proxy's path prefix; where `URL/` lands, and whether the page goes
 *   live through the proxy.
 */
import { type Browser, chromium, type Page } from "playwright-core";

const [url, mode, screenshots] = Deno.args;

/** Errors the page reports: console errors and uncaught exceptions. */
function watchErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") errors.push(message.text());
  });
  page.on("pageerror", (error) => errors.push(String(error)));
  return errors;
}

/**
 * The layout faults in view: axis labels that overlap, leave their chart or run off its right
 * edge (the time charts must have two), figures and their labels that wrap onto a second line or
 * do not fit their box, and neighbouring table cells whose texts stand closer than 8 px. Runs in
 * the page, so it is passed as text.
 */
const LAYOUT = `(() => {
  const faults = [];
  const shown = (node) => node.getClientRects().length > 0;
  for (const canvas of [...document.querySelectorAll("canvas")].filter(shown)) {
    const boxes = JSON.parse(canvas.dataset.axis ?? "null");
    const timeChart = canvas.id === "chart-hour" || canvas.id === "chart-days";
    if (timeChart && (!boxes || boxes.length < 2)) faults.push(canvas.id + ": fewer than two time labels");
    for (const [i, [from, to]] of (boxes ?? []).entries()) {
      if (from < 0 || to > canvas.clientWidth) faults.push(canvas.id + ": label " + i + " leaves the chart");
      if (i > 0 && from < boxes[i - 1][1]) faults.push(canvas.id + ": label " + i + " overlaps the one before");
    }
    // A label cut off at the right edge leaves ink in the canvas's last column of pixels.
    const band = Math.round(14 * devicePixelRatio);
    const edge = canvas.getContext("2d").getImageData(canvas.width - 1, canvas.height - band, 1, band).data;
    if (edge.some((value, i) => i % 4 === 3 && value > 0)) faults.push(canvas.id + ": a label runs off the right edge");
  }
  const textBox = (cell) => {
    const range = document.createRange();
    range.selectNodeContents(cell);
    return range.getBoundingClientRect();
  };
  for (const cell of [...document.querySelectorAll("dd, td, dt, .power")].filter(shown)) {
    const range = document.createRange();
    range.selectNodeContents(cell);
    const lines = new Set([...range.getClientRects()].map((r) => Math.round(r.top)));
    if (lines.size > 1) faults.push("wraps: " + cell.textContent);
    if (cell.scrollWidth > cell.clientWidth + 1) faults.push("does not fit: " + cell.textContent);
  }
  for (const row of [...document.querySelectorAll("tr")].filter(shown)) {
    const cells = [...row.children].filter((cell) => cell.textContent.trim() !== "");
    for (let i = 1; i < cells.length; i++) {
      const gap = textBox(cells[i]).left - textBox(cells[i - 1]).right;
      if (gap < 8) faults.push("cramped (" + Math.round(gap) + " px): " + cells[i - 1].textContent + " | " + cells[i].textContent);
    }
  }
  return faults;
})()`;

/**
 * Waits until an expression is true in the page. Polled through `evaluate`, which the page's
 * Content-Security-Policy does not govern; `waitForFunction` evaluates strings in the page, and the
 * policy (rightly) refuses that.
 */
async function until(page: Page, expression: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await page.evaluate(expression))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${expression}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function waitForLive(page: Page): Promise<void> {
  await until(page, `document.getElementById("power").textContent !== "–"`);
  await until(page, `Number(document.getElementById("chart-hour").dataset.points) >= 2`);
}

async function live(browser: Browser): Promise<Record<string, unknown>> {
  const report: Record<string, unknown> = {};
  const dutch = await browser.newContext({
    viewport: { width: 1280, height: 900 },
    locale: "nl-NL",
  });
  const page = await dutch.newPage();
  const errors = watchErrors(page);
  await page.goto(`${url}/`); // a browser asking for / lands on the dashboard
  report.path = new URL(page.url()).pathname;
  await waitForLive(page);
  report.first = await page.textContent("#power");
  await until(
    page,
    `document.getElementById("power").textContent !== ${JSON.stringify(report.first)}`,
  );
  report.second = await page.textContent("#power");
  report.points = Number(await page.getAttribute("#chart-hour", "data-points"));
  report.bannerHidden = await page.isHidden("#banner");
  report.phases = await page.locator("#phases tr").count();
  report.registers = await page.textContent("#registers");
  report.age = await page.textContent("#age");
  report.titles = await titles(page);
  report.desktopFaults = await page.evaluate(LAYOUT);
  await page.screenshot({ path: `${screenshots}/dashboard-desktop.png`, fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  // The charts redraw on resize; wait until the hour chart's labels fit the new width.
  await until(
    page,
    `JSON.parse(document.getElementById("chart-hour").dataset.axis).every(([, to]) => to <= 360)`,
  );
  report.phoneFaults = await page.evaluate(LAYOUT);
  await page.screenshot({ path: `${screenshots}/dashboard-phone.png`, fullPage: true });
  report.errors = errors;

  const american = await browser.newContext({
    viewport: { width: 1280, height: 900 },
    locale: "en-US",
  });
  const english = await american.newPage();
  await english.goto(`${url}/ui`);
  await waitForLive(english);
  report.registersEnglish = await english.textContent("#registers");
  report.errors = [...errors, ...watchErrors(english)];
  return report;
}

/** The titles of the cards that name a day or a time span (null for one that is missing). */
async function titles(page: Page): Promise<(string | null)[]> {
  return await page.evaluate(
    `["today-title", "hour-title", "days-title"].map((id) => document.getElementById(id)?.textContent ?? null)`,
  );
}

async function prefixed(browser: Browser): Promise<Record<string, unknown>> {
  const page = await browser.newPage();
  const errors = watchErrors(page);
  await page.goto(`${url}/`);
  await waitForLive(page);
  return { path: new URL(page.url()).pathname, power: await page.textContent("#power"), errors };
}

async function stale(browser: Browser): Promise<Record<string, unknown>> {
  const page = await browser.newPage();
  const errors = watchErrors(page);
  await page.goto(`${url}/ui`);
  await until(
    page,
    `!document.getElementById("banner").hidden && /stale/.test(document.getElementById("banner").textContent)`,
  );
  return {
    banner: await page.textContent("#banner"),
    registers: await page.textContent("#registers"),
    registersHidden: await page.isHidden("#registers-card"),
    phasesHidden: await page.isHidden("#phases-card"),
    errors,
  };
}

async function hostile(browser: Browser): Promise<Record<string, unknown>> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, locale: "en-US" });
  const errors = watchErrors(page);
  const dialogs: string[] = [];
  page.on("dialog", (dialog) => {
    dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  await page.goto(`${url}/ui`);
  // The telegram is shown: its identifier in the header, its registers in their list.
  await until(
    page,
    `document.getElementById("meter").textContent !== "" && document.getElementById("registers").children.length > 0`,
  );
  // Give any injected handler (an image's onerror) time to run.
  await page.waitForTimeout(500);
  const report: Record<string, unknown> = {
    pwned: await page.evaluate(`window.pwned ?? null`),
    images: await page.evaluate(`document.images.length`),
    registers: await page.textContent("#registers"),
    meter: await page.textContent("#meter"),
  };
  // The policy is the second wall: markup that did reach the page could still not run script.
  await page.evaluate(`document.body.insertAdjacentHTML("beforeend",
    '<img src="data:," onerror="window.injected = 1"><script>window.injected = 2</script>')`);
  await page.waitForTimeout(500);
  report.injected = await page.evaluate(`window.injected ?? null`);
  report.dialogs = dialogs;
  // The policy's refusals are console errors; anything else is a fault.
  report.errors = errors.filter((e) => !/Content Security Policy/.test(e));
  report.refusals = errors.length - (report.errors as string[]).length;
  await page.screenshot({ path: `${screenshots}/dashboard-hostile.png`, fullPage: true });
  return report;
}

async function usage(browser: Browser): Promise<Record<string, unknown>> {
  const page = await browser.newPage({
    viewport: { width: 1280, height: 900 },
    locale: "nl-NL",
    timezoneId: "Europe/Amsterdam",
  });
  const errors = watchErrors(page);
  await page.goto(`${url}/ui`);
  await until(
    page,
    `!document.getElementById("usage-year").hidden && document.getElementById("usage-rows").children.length === 4`,
  );
  const report: Record<string, unknown> = {
    rows: await page.$$eval(
      "#usage-rows tr",
      (rows) => rows.map((row) => [...row.children].map((cell) => cell.textContent)),
    ),
    note: await page.textContent("#usage-note"),
    monthTitle: await page.textContent("#usage-month-title"),
    dayBars: Number(await page.getAttribute("#chart-month", "data-bars")),
    monthBars: Number(await page.getAttribute("#chart-year", "data-bars")),
    titles: await titles(page),
    banner: await page.textContent("#banner"),
    desktopFaults: await page.evaluate(LAYOUT),
  };
  await page.screenshot({ path: `${screenshots}/dashboard-usage.png`, fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  // The charts redraw on resize, to their new size.
  await until(
    page,
    `[...document.querySelectorAll("canvas")].every((c) => c.width === Math.floor(c.clientWidth * devicePixelRatio))`,
  );
  report.phoneFaults = await page.evaluate(LAYOUT);
  await page.screenshot({ path: `${screenshots}/dashboard-usage-phone.png`, fullPage: true });
  report.errors = errors;
  return report;
}

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking"],
});
let report: Record<string, unknown>;
try {
  report = mode === "live"
    ? await live(browser)
    : mode === "stale"
    ? await stale(browser)
    : mode === "usage"
    ? await usage(browser)
    : mode === "prefixed"
    ? await prefixed(browser)
    : await hostile(browser);
} finally {
  await browser.close();
}
Deno.stdout.writeSync(new TextEncoder().encode(JSON.stringify(report)));
