/**
 * The dashboard page (`GET /ui`): one self-contained HTML document (styles, script and a small
 * canvas chart inline; nothing from a CDN), fed by `/api/v1/stream`, `/api/v1/history` and (the
 * energy history's panel, `usage_panel.ts`) `/api/v1/usage`.
 * Being a module, it is part of the bundle and of the compiled binary.
 *
 * @module
 */

import { USAGE_SCRIPT, USAGE_SECTIONS } from "./usage_panel.ts";

/** The page. */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>P1 meter</title>
<link rel="icon" href="data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E%3Cpath d='M9 1 3 9h4l-1 6 6-8H8z' fill='%23f97316'/%3E%3C/svg%3E">
<style>
  :root { --bg: #0f172a; --card: #1e293b; --text: #e2e8f0; --muted: #94a3b8; --import: #f97316; --export: #22c55e; --warn: #b91c1c; }
  * { box-sizing: border-box; }
  body { margin: 0; font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; background: var(--bg); color: var(--text); }
  header { display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: baseline; padding: .75rem 1rem; }
  header h1 { font-size: 1.1rem; margin: 0; }
  header span { color: var(--muted); font-size: .9rem; }
  #banner { background: var(--warn); color: white; padding: .6rem 1rem; font-weight: 600; }
  main { display: grid; gap: 1rem; padding: 0 1rem 1rem; grid-template-columns: repeat(auto-fit, minmax(280px, 1fr)); }
  section { background: var(--card); border-radius: .75rem; padding: 1rem; }
  section.wide { grid-column: 1 / -1; }
  h2 { font-size: .8rem; text-transform: uppercase; letter-spacing: .05em; color: var(--muted); margin: 0 0 .5rem; }
  .power { font-size: clamp(2.5rem, 10vw, 4.5rem); font-weight: 700; line-height: 1.1; }
  .importing { color: var(--import); } .exporting { color: var(--export); }
  .figures { display: grid; grid-template-columns: auto 1fr; gap: .25rem 1rem; }
  .figures dt { color: var(--muted); } .figures dd { margin: 0; text-align: right; font-variant-numeric: tabular-nums; }
  table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
  th, td { text-align: right; padding: .25rem .5rem; } th:first-child, td:first-child { text-align: left; }
  th { color: var(--muted); font-weight: 500; }
  canvas { width: 100%; height: 220px; display: block; }
  .legend { font-size: .8rem; color: var(--muted); } .legend b { font-weight: 600; }
</style>
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
    <h2>Today</h2>
    <dl class="figures">
      <dt>Imported</dt><dd id="today-import">–</dd>
      <dt>Exported</dt><dd id="today-export">–</dd>
      <dt>Gas</dt><dd id="today-gas">–</dd>
    </dl>
  </section>
  <section>
    <h2>Meter readings</h2>
    <dl class="figures" id="registers"></dl>
  </section>
  <section>
    <h2>Phases</h2>
    <table><thead><tr><th></th><th>Power</th><th>Voltage</th><th>Current</th></tr></thead><tbody id="phases"></tbody></table>
  </section>
  <section class="wide">
    <h2>Last hour</h2>
    <canvas id="chart-hour"></canvas>
    <div class="legend"><b style="color:var(--import)">import</b> above, <b style="color:var(--export)">export</b> below the line</div>
  </section>
  <section class="wide">
    <h2>Last 48 hours (per minute)</h2>
    <canvas id="chart-days"></canvas>
  </section>${USAGE_SECTIONS}
</main>
<script>
"use strict";
const nl = (digits) => new Intl.NumberFormat("nl-NL", { minimumFractionDigits: digits, maximumFractionDigits: digits });
const f0 = nl(0), f1 = nl(1), f2 = nl(2), f3 = nl(3);
const $ = (id) => document.getElementById(id);
function watts(w) { return Math.abs(w) < 1000 ? f0.format(w) + " W" : f2.format(w / 1000) + " kW"; }
function kwh(v, digits = 3) { return v == null ? "–" : nl(digits).format(v) + " kWh"; }
function quantity(q, format, unit) { return q ? format.format(q.value) + " " + (unit ?? q.unit) : "–"; }
let status = null, lastAt = null, hour = [], days = [];

function showTelegram(t) {
  lastAt = Date.parse(t.receivedAt);
  const imp = t.power.import ? t.power.import.value * 1000 : 0;
  const exp = t.power.export ? t.power.export.value * 1000 : 0;
  const net = Math.round(imp - exp);
  $("power").textContent = watts(Math.abs(net));
  $("power").className = "power " + (net < 0 ? "exporting" : "importing");
  $("direction").textContent = net < 0 ? "Exporting" : "Importing";
  $("meter").textContent = t.equipmentId ?? t.header ?? "";
  $("tariff").textContent = t.tariff == null ? "" : "Tariff " + t.tariff + (t.format === "belgium" ? (t.tariff === 1 ? " (day)" : " (night)") : (t.tariff === 1 ? " (low)" : " (normal)"));
  const rows = [];
  for (const [dir, label] of [["import", "Imported"], ["export", "Exported"]]) {
    for (const key of ["t1", "t2", "t3", "t4", "total"]) {
      const q = t.energy[dir][key];
      if (q) rows.push("<dt>" + label + " " + (key === "total" ? "total" : "tariff " + key.slice(1)) + "</dt><dd>" + kwh(q.value) + "</dd>");
    }
  }
  for (const d of t.mbus) {
    if (d.reading) rows.push("<dt>" + d.kind.replace("_", " ") + " (" + d.channel + ")</dt><dd>" + f3.format(d.reading.value.value) + " " + (d.reading.value.unit === "m3" ? "m³" : d.reading.value.unit) + "</dd>");
  }
  $("registers").innerHTML = rows.join("");
  $("phases").innerHTML = ["l1", "l2", "l3"].filter((p) => t.phases[p]).map((p) => {
    const r = t.phases[p];
    const w = Math.round(((r.powerImport?.value ?? 0) - (r.powerExport?.value ?? 0)) * 1000);
    return "<tr><td>" + p.toUpperCase() + "</td><td>" + watts(w) + "</td><td>" + quantity(r.voltage, f1, "V") + "</td><td>" + quantity(r.current, f1, "A") + "</td></tr>";
  }).join("");
  const time = t.timestamp ? Date.parse(t.timestamp.iso) : lastAt;
  hour.push({ time, importW: imp, exportW: exp });
  const from = time - 3600000;
  while (hour.length && hour[0].time < from) hour.shift();
  draw($("chart-hour"), hour, 3600000);
  tick();
}

function showStatus(s) {
  status = s;
  $("source").textContent = s.source;
  if (s.lastTelegramAt) lastAt = Date.parse(s.lastTelegramAt);
  tick();
}

function tick() {
  const age = lastAt == null ? null : (Date.now() - lastAt) / 1000;
  $("age").textContent = age == null ? "no telegram yet" : "last telegram " + f0.format(Math.max(0, age)) + " s ago";
  let problem = "";
  if (!status) problem = "Connecting to the reader…";
  else if (status.state === "connecting") problem = "The meter is disconnected: " + (status.lastError ?? "reconnecting…");
  else if (age != null && age > status.staleAfterSeconds) problem = "Data is stale: no valid telegram for " + f0.format(age) + " s";
  else if (age == null) problem = "Waiting for the first telegram…";
  $("banner").hidden = problem === "";
  $("banner").textContent = problem;
}

function draw(canvas, points, span) {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth, height = canvas.clientHeight;
  canvas.width = width * ratio; canvas.height = height * ratio;
  const g = canvas.getContext("2d");
  g.scale(ratio, ratio);
  g.clearRect(0, 0, width, height);
  canvas.dataset.points = String(points.length);
  if (points.length === 0) {
    g.font = "13px system-ui, sans-serif"; g.fillStyle = "#94a3b8";
    g.fillText("Collecting data: the chart fills as telegrams arrive.", 12, height / 2);
    return;
  }
  const end = points[points.length - 1].time, start = end - span;
  const top = Math.max(100, ...points.map((p) => p.importW ?? 0));
  const bottom = Math.max(0, ...points.map((p) => p.exportW ?? 0));
  const left = 52, plotW = width - left - 6;
  const zero = 8 + (height - 28) * top / (top + bottom || 1);
  const x = (t) => left + (t - start) / span * plotW;
  const y = (w) => zero - w / (top + bottom || 1) * (height - 28);
  g.font = "11px system-ui, sans-serif"; g.fillStyle = "#94a3b8"; g.strokeStyle = "#334155";
  g.beginPath(); g.moveTo(left, zero); g.lineTo(width, zero); g.stroke();
  g.fillText(watts(top), 2, y(top) + 10); if (bottom > 0) g.fillText("−" + watts(bottom), 2, y(-bottom));
  for (let i = 0; i <= 4; i++) {
    const t = start + span * i / 4;
    const label = new Date(t).toLocaleTimeString("nl-NL", span > 86400000 ? { weekday: "short", hour: "2-digit" } : { hour: "2-digit", minute: "2-digit" });
    g.fillText(label, Math.min(x(t), width - 40), height - 4);
  }
  for (const [key, color, sign] of [["importW", "#f97316", 1], ["exportW", "#22c55e", -1]]) {
    g.beginPath(); g.moveTo(x(points[0].time), zero);
    for (const p of points) g.lineTo(x(p.time), y(sign * (p[key] ?? 0)));
    g.lineTo(x(points[points.length - 1].time), zero); g.closePath();
    g.fillStyle = color + "55"; g.fill(); g.strokeStyle = color; g.stroke();
  }
}

async function loadHistory() {
  const [h, d] = await Promise.all([fetch("api/v1/history?minutes=60"), fetch("api/v1/history?minutes=2880")].map((p) => p.then((r) => r.json())));
  hour = h.points; days = d.points;
  draw($("chart-hour"), hour, 3600000);
  draw($("chart-days"), days, 48 * 3600000);
  const today = h.today;
  $("today-import").textContent = today ? kwh(today.importKwh, 2) : "–";
  $("today-export").textContent = today ? kwh(today.exportKwh, 2) : "–";
  $("today-gas").textContent = today && today.gasM3 != null ? f3.format(today.gasM3) + " m³" : "–";
}

${USAGE_SCRIPT}
fetch("api/v1/status").then((r) => r.json()).then(showStatus);
loadHistory();
loadUsage();
setInterval(() => { loadHistory(); loadUsage(); }, 60000);
setInterval(tick, 1000);
window.addEventListener("resize", () => { draw($("chart-hour"), hour, 3600000); draw($("chart-days"), days, 48 * 3600000); drawUsage(); });
const events = new EventSource("api/v1/stream");
events.addEventListener("telegram", (e) => showTelegram(JSON.parse(e.data)));
events.addEventListener("status", (e) => showStatus(JSON.parse(e.data)));
events.onerror = () => { status = status && { ...status, state: "connecting", lastError: "the reader is not reachable" }; tick(); };
</script>
</body>
</html>
`;
