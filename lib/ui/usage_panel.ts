/**
 * The dashboard's energy history: today, yesterday, this month and this year (energy, gas and
 * costs), and bar charts of the days of the month and the months of the year, from
 * `/api/v1/usage`. Its markup, style and script are spliced into the page's (`page.ts`); like the
 * page, it has no inline style or script (the Content-Security-Policy forbids both), writes only
 * numbers and its own labels, and those through `textContent`, never HTML, and shows numbers,
 * money and month names in the browser's locale. Without the history (`--history off`) it stays
 * hidden.
 *
 * @module
 */

/** The panel's style, appended to the page's. */
export const USAGE_CSS =
  `table.usage td { white-space: nowrap; } table.usage thead th { font-size: .8rem; vertical-align: bottom; white-space: normal; }
@media (max-width: 480px) { table.usage { font-size: .85rem; } table.usage th, table.usage td { padding: .25rem 0 .25rem .6rem; } table.usage th:first-child { padding-left: 0; } }
`;

/** The panel's sections, placed after the page's own. */
export const USAGE_SECTIONS = `
  <section class="wide" id="usage" hidden>
    <h2>Energy and costs</h2>
    <table class="usage">
      <thead><tr><th></th><th>Imported kWh</th><th>Exported kWh</th><th>Gas m³</th><th>Cost</th></tr></thead>
      <tbody id="usage-rows"></tbody>
    </table>
    <div class="legend" id="usage-note"></div>
  </section>
  <section class="wide" id="usage-month" hidden>
    <h2 id="usage-month-title">Days of this month</h2>
    <canvas id="chart-month"></canvas>
    <div class="legend"><b class="import">imported</b> above, <b class="export">exported</b> below the line (kWh)</div>
  </section>
  <section class="wide" id="usage-year" hidden>
    <h2 id="usage-year-title">Months of this year</h2>
    <canvas id="chart-year"></canvas>
  </section>`;

/**
 * The panel's script: `loadUsage()` fetches and shows; the page calls it after the history every
 * minute, and `drawUsage()` on resize. It uses the page's `$`, `number` and `clearCanvas`, and
 * names the newest reading's day and the one before with the page's `dayName` (Today and
 * Yesterday only when they are).
 */
export const USAGE_SCRIPT = `
let usageCharts = [];

async function usageAnswer(query) {
  const response = await fetch("api/v1/usage?" + query);
  if (response.status === 404) return null; // the history is off
  const body = await response.json();
  if (!response.ok) throw new Error(body.reason ?? body.error);
  return body;
}

function usageCell(row, text) {
  const cell = document.createElement(row.children.length === 0 ? "th" : "td");
  cell.textContent = text;
  row.appendChild(cell);
}

function usageRow(label, step, money) {
  const row = document.createElement("tr");
  usageCell(row, label + (step && step.gap ? " *" : ""));
  const amount = (value) => (value == null ? "–" : number(value, value < 100 ? 2 : 0));
  usageCell(row, amount(step && step.import && step.import.total));
  usageCell(row, amount(step && step.export && step.export.total));
  usageCell(row, amount(step && step.gas));
  usageCell(row, step && step.cost && money ? money.format(step.cost.total) : "–");
  return row;
}

function drawBars(canvas, bars) {
  const { g, width, height } = clearCanvas(canvas);
  canvas.dataset.bars = String(bars.filter((b) => b.importKwh != null || b.exportKwh != null).length);
  const top = Math.max(1, ...bars.map((b) => b.importKwh ?? 0));
  const bottom = Math.max(0, ...bars.map((b) => b.exportKwh ?? 0));
  const left = 44, plotW = width - left - 4, plotH = height - 24;
  const zero = 6 + plotH * top / (top + bottom);
  const scale = plotH / (top + bottom);
  const slot = plotW / bars.length;
  g.font = "11px system-ui, sans-serif"; g.fillStyle = "#94a3b8"; g.strokeStyle = "#334155";
  g.beginPath(); g.moveTo(left, zero); g.lineTo(width, zero); g.stroke();
  g.fillText(number(top, 0), 2, 16);
  if (bottom > 0) g.fillText("−" + number(bottom, 0), 2, height - 20);
  const labelWidth = Math.max(...bars.map((b) => g.measureText(b.label).width)) + 6;
  const every = Math.max(1, Math.ceil(labelWidth / slot));
  const boxes = [];
  bars.forEach((bar, i) => {
    const x = left + i * slot + slot * 0.15, w = slot * 0.7;
    if (bar.importKwh) { g.fillStyle = bar.gap ? "#f9731688" : "#f97316"; g.fillRect(x, zero - bar.importKwh * scale, w, bar.importKwh * scale); }
    if (bar.exportKwh) { g.fillStyle = bar.gap ? "#22c55e88" : "#22c55e"; g.fillRect(x, zero, w, bar.exportKwh * scale); }
    if (i % every !== 0) return;
    // Centred under its bar, and kept off the chart's right edge (the 31st on a phone ran off it).
    const textWidth = g.measureText(bar.label).width;
    const from = Math.min(Math.max(x + w / 2 - textWidth / 2, left), width - textWidth - 2);
    g.fillStyle = "#94a3b8"; g.fillText(bar.label, from, height - 4);
    boxes.push([from, from + textWidth]);
  });
  // The drawn labels' extents, so that a test can check that none overlap.
  canvas.dataset.axis = JSON.stringify(boxes);
}

function drawUsage() {
  for (const [canvas, bars] of usageCharts) drawBars(canvas, bars);
}

async function loadUsage() {
  try {
    const month = await usageAnswer("step=day");
    if (!month) return;
    // The newest reading's day: today while the meter is live, an earlier day after an import.
    const newest = month.to;
    const [year, monthNumber, day] = newest.split("-").map(Number);
    const yearAnswer = await usageAnswer("step=month&from=" + year + "&to=" + year);
    let yesterday = month.steps[month.steps.length - 2];
    if (day === 1) {
      const date = new Date(Date.UTC(year, monthNumber - 1, 0)).toISOString().slice(0, 10);
      yesterday = (await usageAnswer("from=" + date + "&to=" + date)).steps[0];
    }
    const money = month.currency ? new Intl.NumberFormat(undefined, { style: "currency", currency: month.currency }) : null;
    const monthName = new Date(Date.UTC(year, monthNumber - 1, 1)).toLocaleString(undefined, { month: "long", timeZone: "UTC" });
    $("usage-rows").replaceChildren(
      usageRow(dayName(newest), month.steps[month.steps.length - 1], money),
      usageRow(dayName(addDays(newest, -1)), yesterday, money),
      usageRow(monthName, month.total, money),
      usageRow(String(year), yearAnswer.total, money),
    );
    $("usage-note").textContent = [month.total, yearAnswer.total, yesterday].some((s) => s && s.gap)
      ? "* includes time without readings: its usage is spread evenly over that time"
      : "";
    const days = new Date(Date.UTC(year, monthNumber, 0)).getUTCDate();
    const dayBars = Array.from({ length: days }, (_, i) => {
      const step = month.steps[i];
      return { label: String(i + 1), importKwh: step?.import?.total, exportKwh: step?.export?.total, gap: step?.gap };
    });
    const monthBars = yearAnswer.steps.map((step, i) => ({
      label: new Date(Date.UTC(year, i, 1)).toLocaleString(undefined, { month: "short", timeZone: "UTC" }),
      importKwh: step.import?.total, exportKwh: step.export?.total, gap: step.gap,
    }));
    $("usage-month-title").textContent = "Days of " + monthName + " " + year;
    $("usage-year-title").textContent = "Months of " + year;
    for (const id of ["usage", "usage-month", "usage-year"]) $(id).hidden = false;
    usageCharts = [[$("chart-month"), dayBars], [$("chart-year"), monthBars]];
    drawUsage();
  } catch (error) {
    $("usage").hidden = false;
    $("usage-note").textContent = "The history is unavailable: " + error.message;
  }
}
`;
