/**
 * One `/metrics` scrape rendered from a DSMR 5 telegram with four M-Bus devices, in both
 * exposition formats: scrapes of the same telegram (its families written once), and a new
 * telegram at every scrape. Run with `deno task bench`; `deno task bench:http` measures the route.
 */
import { parseTelegram } from "../lib/dsmr/parse.ts";
import { MetricsRegistry } from "../lib/metrics/registry.ts";
import { RegisterWatch } from "../lib/meter_registers.ts";

const text = Deno.readTextFileSync(
  new URL("../fixtures/nl-dsmr50-3phase-4mbus.txt", import.meta.url),
);
let telegram = parseTelegram(text, { format: "dsmr50" });
const registers = new RegisterWatch();
registers.observe(telegram, Date.now());
const registry = new MetricsRegistry(() => ({
  telegram,
  receivedAt: Date.now(),
  counters: {
    bytesRead: 1_000_000,
    telegramsOk: 1000,
    crcErrors: 2,
    parseErrors: 0,
    discardedBytes: 17,
    oversized: 0,
    incomplete: 1,
    reconnects: 3,
    encryptedFrames: { decrypted: 0, noKey: 0, wrongKey: 0, badTag: 0, replayed: 0, truncated: 0 },
    clockJumps: 0,
    registerGlitches: 0,
    valueProblems: 0,
    lastTelegramAt: Date.now(),
  },
  state: "connected",
  registers,
  configuredFormat: "V502",
  version: "bench",
}));

Deno.bench({
  name: "render /metrics, Prometheus text",
  async fn() {
    await registry.render(undefined);
  },
});

Deno.bench({
  name: "render /metrics, OpenMetrics",
  async fn() {
    await registry.render("application/openmetrics-text; version=1.0.0");
  },
});

Deno.bench({
  name: "render /metrics, Prometheus text, a new telegram at every scrape",
  async fn() {
    telegram = parseTelegram(text, { format: "dsmr50" });
    await registry.render(undefined);
  },
});
