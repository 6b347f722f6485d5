/**
 * The dashboard (`GET /ui`): a page, its style (`/ui/app.css`) and its script (`/ui/app.js`),
 * with a small canvas chart; nothing from a CDN. It is fed by `/api/v1/stream`, `/api/v1/history`
 * and (the energy history's panel, `usage_panel.ts`) `/api/v1/usage`. Being a module, it is part
 * of the bundle and of the compiled binary.
 *
 * The page never passes another day's figures off as today's: the history says which day is today
 * (by the meter's clock while it is live, else the host's), and figures of another day are
 * labelled with their date, charts that do not reach up to now with the time they end.
 *
 * Two rules hold throughout. Meter text (units, identifiers, the header) only ever reaches the
 * page as text (`textContent`), never as markup; and the page has no inline script or style, so
 * the server's Content-Security-Policy can forbid both. Numbers, times and weekdays follow the
 * browser's locale; labels are English.
 *
 * @module
 */

import { USAGE_CSS, USAGE_SCRIPT, USAGE_SECTIONS } from "./usage_panel.ts";

/** The page. */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>P1 meter</title>
<link rel="icon" href="data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E%3Cpath d='M9 1 3 9h4l-1 6 6-8H8z' fill='%23f97316'/%3E%3C/svg%3E">
<link rel="stylesheet" href="ui/app.css">
<script src="ui/app.js" defer></script>
</head>
<body>
<div id="banner" hidden></div>
<header><h1>P1 meter</h1><span id="meter"></span><span id="source"></span><span id="age"></span></header>
<main>
  <section>
    <h2 id="direction">Power</h2>
    <div id="power" class="power">–</div>
    <div class="legend" id="tariff"></div>
  </section>
  <section>
    <h2 id="today-title">Today</h2>
    <dl class="figures">
      <dt>Imported</dt><dd id="today-import">–</dd>
      <dt>Exported</dt><dd id="today-export">–</dd>
      <dt>Gas</dt><dd id="today-gas">–</dd>
    </dl>
  </section>
  <section id="registers-card" hidden>
    <h2>Meter readings</h2>
    <dl class="figures" id="registers"></dl>
  </section>
  <section id="phases-card" hidden>
    <h2>Phases</h2>
    <table><thead><tr><th></th><th>Power</th><th>Voltage</th><th>Current</th></tr></thead><tbody id="phases"></tbody></table>
  </section>
  <section class="wide">
    <h2 id="hour-title">Last hour</h2>
    <canvas id="chart-hour"></canvas>
    <div class="legend"><b class="import">import</b> above, <b class="export">export</b> below the line</div>
  </section>
  <section class="wide">
    <h2 id="days-title">Last 48 hours (per minute)</h2>
    <canvas id="chart-days"></canvas>
  </section>${USAGE_SECTIONS}
</main>
</body>
</html>
`;

/** The page's style. */
export const DASHBOARD_CSS =
  `:root { --bg: #0f172a; --card: #1e293b; --text: #e2e8f0; --muted: #94a3b8; --import: #f97316; --export: #22c55e; --warn: #b91c1c; }
* { box-sizing: border-box; }
body { margin: 0; font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background: var(--bg); color: var(--text); }
header { display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: baseline; padding: .75rem 1rem; }
header h1 { font-size: 1.1rem; margin: 0; }
header span { color: var(--muted); font-size: .9rem; overflow-wrap: anywhere; }
#banner { background: var(--warn); color: white; padding: .6rem 1rem; font-weight: 600; }
main { display: grid; gap: 1rem; padding: 0 1rem 1rem; grid-template-columns: repeat(auto-fit, minmax(280px, 1fr)); }
section { background: var(--card); border-radius: .75rem; padding: 1rem; min-width: 0; }
section.wide { grid-column: 1 / -1; }
h2 { font-size: .8rem; text-transform: uppercase; letter-spacing: .05em; color: var(--muted); margin: 0 0 .5rem; }
.power { font-size: clamp(2.5rem, 12vw, 3.25rem); font-weight: 700; line-height: 1.1; white-space: nowrap; }
.importing, .import { color: var(--import); } .exporting, .export { color: var(--export); }
.figures { display: grid; grid-template-columns: minmax(6em, 1fr) minmax(0, max-content); gap: .25rem 1rem; margin: 0; }
.figures dt { color: var(--muted); }
.figures dd { margin: 0; text-align: right; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; font-variant-numeric: tabular-nums; }
table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { text-align: right; padding: .25rem .5rem; white-space: nowrap; } th:first-child, td:first-child { text-align: left; }
th { color: var(--muted); font-weight: 500; }
canvas { width: 100%; height: 220px; display: block; }
.legend { font-size: .8rem; color: var(--muted); } .legend b { font-weight: 600; }
${USAGE_CSS}`;

/** The page's script. */
export const DASHBOARD_SCRIPT = `"use strict";
// Numbers and times in the browser's locale (undefined picks it); labels stay English.
const NBSP = "\\u00a0";
const formats = new Map();
function number(value, digits) {
  let format = formats.get(digits);
  if (!format) {
    format = new Intl.NumberFormat(undefined, { minimumFractionDigits: digits, maximumFractionDigits: digits });
    formats.set(digits, format);
  }
  return format.format(value);
}
function withUnit(value, digits, unit) { return number(value, digits) + NBSP + unit; }
function watts(w) { return Math.abs(w) < 1000 ? withUnit(w, 0, "W") : withUnit(w / 1000, 2, "kW"); }
function kwh(v, digits) { return v == null ? "–" : withUnit(v, digits, "kWh"); }
function quantity(q, digits, unit) { return q ? withUnit(q.value, digits, unit) : "–"; }
function meterUnit(unit) { return unit === "m3" ? "m³" : unit; }
const $ = (id) => document.getElementById(id);

/** Makes an element holding text: meter text is never parsed as markup. */
function element(tag, text) {
  const node = document.createElement(tag);
  node.textContent = text;
  return node;
}

const HOUR = 3600000;
let status = null, lastAt = null, hour = [], days = [];
/** Today's meter-local date (YYYY-MM-DD), from the history; whether telegrams arrive as they should. */
let currentDay = null, live = false;

/** The date some days after a YYYY-MM-DD date. */
function addDays(day, days) {
  return new Date(Date.parse(day + "T00:00:00Z") + days * 86400000).toISOString().slice(0, 10);
}

/** A meter-local date in the browser's locale, "Mon 30 Nov", with the year when not this year's. */
function dateName(day) {
  const options = { weekday: "short", day: "numeric", month: "short", timeZone: "UTC" };
  if (currentDay && day.slice(0, 4) !== currentDay.slice(0, 4)) options.year = "numeric";
  return new Date(day + "T00:00:00Z").toLocaleDateString(undefined, options);
}

/** What a day is called: Today, Yesterday, or its date. */
function dayName(day) {
  if (currentDay && day === currentDay) return "Today";
  if (currentDay && day === addDays(currentDay, -1)) return "Yesterday";
  return dateName(day);
}

/** Where a chart's points end, as "18:31" or "Mon 30 Nov, 23:59"; "" while live or empty. */
function chartEnd(points) {
  const newest = points[points.length - 1];
  if (live || !newest) return "";
  const time = new Date(newest.time).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
  // A live point of a meter without a clock has no day: it is today's.
  return !newest.day || newest.day === currentDay ? time : dateName(newest.day) + ", " + time;
}

/** The charts' titles: "Last hour" while the meter is live, else the time their points end. */
function titleCharts() {
  const hourEnd = chartEnd(hour), daysEnd = chartEnd(days);
  $("hour-title").textContent = hourEnd ? "Hour until " + hourEnd : "Last hour";
  $("days-title").textContent = (daysEnd ? "48 hours until " + daysEnd : "Last 48 hours") + " (per minute)";
}

function showTelegram(t) {
  lastAt = Date.parse(t.receivedAt);
  const imp = t.power.import ? t.power.import.value * 1000 : 0;
  const exp = t.power.export ? t.power.export.value * 1000 : 0;
  const net = Math.round(imp - exp);
  $("power").textContent = watts(Math.abs(net));
  $("power").className = "power " + (net < 0 ? "exporting" : "importing");
  $("direction").textContent = net < 0 ? "Exporting" : "Importing";
  $("meter").textContent = t.equipmentId ?? t.header ?? "";
  const names = t.format === "belgium" ? ["day", "night"] : ["low", "normal"];
  $("tariff").textContent = t.tariff == null ? "" : "Tariff " + t.tariff + (names[t.tariff - 1] ? " (" + names[t.tariff - 1] + ")" : "");
  const registers = [];
  for (const [dir, label] of [["import", "Import"], ["export", "Export"]]) {
    for (const key of ["t1", "t2", "t3", "t4", "total"]) {
      const q = t.energy[dir][key];
      if (q) registers.push(element("dt", label + " " + (key === "total" ? "total" : "tariff " + key.slice(1))), element("dd", kwh(q.value, 3)));
    }
  }
  for (const d of t.mbus) {
    if (!d.reading) continue;
    const kind = d.kind.replace("_", " ");
    registers.push(element("dt", kind.charAt(0).toUpperCase() + kind.slice(1) + " (" + d.channel + ")"), element("dd", withUnit(d.reading.value.value, 3, meterUnit(d.reading.value.unit))));
  }
  $("registers").replaceChildren(...registers);
  $("registers-card").hidden = registers.length === 0;
  const phases = ["l1", "l2", "l3"].filter((p) => t.phases[p]).map((p) => {
    const r = t.phases[p];
    const w = Math.round(((r.powerImport?.value ?? 0) - (r.powerExport?.value ?? 0)) * 1000);
    const tr = document.createElement("tr");
    tr.append(element("td", p.toUpperCase()), element("td", watts(w)), element("td", quantity(r.voltage, 1, "V")), element("td", quantity(r.current, 1, "A")));
    return tr;
  });
  $("phases").replaceChildren(...phases);
  // A meter without phases (DSMR 2 and 3) gets no card of column headers.
  $("phases-card").hidden = phases.length === 0;
  const time = t.timestamp ? Date.parse(t.timestamp.iso) : lastAt;
  hour.push({ time, day: t.timestamp ? t.timestamp.iso.slice(0, 10) : null, importW: imp, exportW: exp });
  while (hour.length && hour[0].time < time - HOUR) hour.shift();
  draw($("chart-hour"), hour, HOUR);
  tick();
}

function showStatus(s) {
  status = s;
  $("source").textContent = s.source;
  if (s.lastTelegramAt) lastAt = Date.parse(s.lastTelegramAt);
  tick();
}

let streamProblem = "";
function tick() {
  const age = lastAt == null ? null : (Date.now() - lastAt) / 1000;
  $("age").textContent = age == null ? "no telegram yet" : "last telegram " + number(Math.max(0, age), 0) + " s ago";
  let problem = "";
  if (streamProblem) problem = streamProblem;
  else if (!status) problem = "Connecting to the reader…";
  else if (status.state === "connecting") problem = "The meter is disconnected: " + (status.lastError ?? "reconnecting…");
  else if (age != null && age > status.staleAfterSeconds) problem = "Data is stale: no valid telegram for " + number(age, 0) + " s";
  else if (age == null) problem = "Waiting for the first telegram…";
  $("banner").hidden = problem === "";
  $("banner").textContent = problem;
  // An ended replay shows no banner until it is stale, but no longer shows the last hour.
  live = problem === "" && status.state === "connected";
  titleCharts();
}

/** Tick steps of the time axis; the smallest whose labels do not touch is used. */
const STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 180, 360, 720, 1440].map((minutes) => minutes * 60000);

/** A time label: the weekday at midnight on the 48-hour chart, else the time of day. */
function timeLabel(t, long) {
  const date = new Date(t);
  if (long && date.getHours() === 0 && date.getMinutes() === 0) return date.toLocaleDateString(undefined, { weekday: "short" });
  return date.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
}

/** Ticks every step from start to end, on whole steps of the local clock. */
function ticks(start, end, step) {
  const offset = (t) => new Date(t).getTimezoneOffset() * 60000;
  const out = [];
  for (let local = Math.ceil((start - offset(start)) / step) * step; local <= end - offset(end); local += step) {
    out.push(local + offset(local));
  }
  return out;
}

/** A chart's canvas sized to its box at the screen's pixel ratio, cleared: its context and size. */
function clearCanvas(canvas) {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth, height = canvas.clientHeight;
  canvas.width = width * ratio; canvas.height = height * ratio;
  const g = canvas.getContext("2d");
  g.scale(ratio, ratio);
  g.clearRect(0, 0, width, height);
  return { g, width, height };
}

function draw(canvas, points, span) {
  const { g, width, height } = clearCanvas(canvas);
  canvas.dataset.points = String(points.length);
  g.font = "11px system-ui, sans-serif"; g.fillStyle = "#94a3b8"; g.strokeStyle = "#334155";
  // An empty chart still shows its time axis, ending now.
  const end = points.length ? points[points.length - 1].time : Date.now(), start = end - span;
  const top = Math.max(100, ...points.map((p) => p.importW ?? 0));
  const bottom = Math.max(0, ...points.map((p) => p.exportW ?? 0));
  const topLabel = watts(top), bottomLabel = bottom > 0 ? watts(-bottom) : "";
  const left = Math.ceil(Math.max(g.measureText(topLabel).width, g.measureText(bottomLabel).width)) + 8;
  const plotW = width - left - 4, plotH = height - 28;
  const zero = 8 + plotH * top / (top + bottom || 1);
  const x = (t) => left + (t - start) / span * plotW;
  const y = (w) => zero - w / (top + bottom || 1) * plotH;
  g.beginPath(); g.moveTo(left, zero); g.lineTo(width, zero); g.stroke();
  g.fillText(topLabel, 0, y(top) + 10);
  if (bottomLabel) g.fillText(bottomLabel, 0, y(-bottom));
  // The time axis: the smallest step that leaves room for the widest label and a gap, and no
  // less than 90 px between ticks, so that a wide chart does not bristle with labels.
  const long = span > 86400000, gap = 12;
  const widest = Math.max(...["00:00", "23:59", "12:00"].map((s) => g.measureText(timeLabel(Date.parse("2024-01-01T" + s), false)).width), long ? g.measureText(timeLabel(new Date(2024, 0, 3).getTime(), true)).width : 0);
  const step = STEPS.find((s) => s / span * plotW >= Math.max(widest + gap, 90)) ?? STEPS[STEPS.length - 1];
  const boxes = [];
  for (const t of ticks(start, end, step)) {
    const label = timeLabel(t, long);
    const w = g.measureText(label).width;
    // Clamped inside the chart, with a pixel or two to spare: text set flush with the edge leaves
    // its anti-aliased last column in the canvas's, which reads as cut off.
    const from = Math.min(Math.max(x(t) - w / 2, left), width - w - 2);
    // Never draw over the label before, whatever the clamping at the edges did.
    if (boxes.length && from < boxes[boxes.length - 1][1] + gap) continue;
    g.fillText(label, from, height - 4);
    boxes.push([from, from + w]);
  }
  // The drawn labels' extents, so that a test can check that none overlap.
  canvas.dataset.axis = JSON.stringify(boxes);
  if (points.length === 0) {
    g.font = "13px system-ui, sans-serif";
    g.fillText("Collecting data…", left + 8, zero - plotH / 2);
    return;
  }
  for (const [key, color, sign] of [["importW", "#f97316", 1], ["exportW", "#22c55e", -1]]) {
    g.beginPath(); g.moveTo(x(points[0].time), zero);
    for (const p of points) g.lineTo(x(p.time), y(sign * (p[key] ?? 0)));
    g.lineTo(x(points[points.length - 1].time), zero); g.closePath();
    g.fillStyle = color + "55"; g.fill(); g.strokeStyle = color; g.stroke();
  }
}

async function history(minutes) {
  const response = await fetch("api/v1/history?minutes=" + minutes);
  return response.ok ? response.json() : { points: [], today: null, currentDay: null };
}

async function loadHistory() {
  const [h, d] = await Promise.all([history(60), history(2880)]);
  hour = h.points; days = d.points; currentDay = h.currentDay;
  draw($("chart-hour"), hour, HOUR);
  draw($("chart-days"), days, 48 * HOUR);
  titleCharts();
  const today = h.today;
  $("today-title").textContent = today ? dayName(today.day) : "Today";
  $("today-import").textContent = today ? kwh(today.importKwh, 2) : "–";
  $("today-export").textContent = today ? kwh(today.exportKwh, 2) : "–";
  $("today-gas").textContent = today && today.gasM3 != null ? withUnit(today.gasM3, 3, "m³") : "–";
}

/** Follows the event stream; one the browser gave up on (a 503 when the reader is full) is retried. */
function follow() {
  const events = new EventSource("api/v1/stream");
  events.addEventListener("open", () => { streamProblem = ""; tick(); });
  events.addEventListener("telegram", (e) => showTelegram(JSON.parse(e.data)));
  events.addEventListener("status", (e) => showStatus(JSON.parse(e.data)));
  events.addEventListener("error", () => {
    if (events.readyState === EventSource.CLOSED) {
      streamProblem = "Live updates are unavailable (the reader may have too many clients); trying again in 30 s";
      setTimeout(follow, 30000);
    } else {
      status = status && { ...status, state: "connecting", lastError: "the reader is not reachable" };
    }
    tick();
  });
}

${USAGE_SCRIPT}
fetch("api/v1/status").then((r) => r.json()).then(showStatus);
/** The history first: the energy panel names its days by the history's today. */
function refresh() { loadHistory().finally(loadUsage); }
refresh();
setInterval(refresh, 60000);
setInterval(tick, 1000);
window.addEventListener("resize", () => { draw($("chart-hour"), hour, HOUR); draw($("chart-days"), days, 48 * HOUR); drawUsage(); });
follow();
`;
