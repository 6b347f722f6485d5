/**
 * The in-memory history (`--history off`) taking one telegram's point, with its hour of points
 * per telegram and two days of minutes full, as after a day of uptime. Run with `deno task bench`.
 */
import { History, type HistoryPoint } from "../lib/outputs/history/memory.ts";

const START = Date.UTC(2025, 0, 1);
const point = (i: number): HistoryPoint => ({
  time: START + i * 1000,
  day: "2025-01-01",
  importW: 400 + (i % 50),
  exportW: 0,
  phasesW: [100, 150, 150 + (i % 50)],
  importKwh: 1000 + i / 3600,
  exportKwh: 10,
  gasM3: 500,
});

for (const [name, every] of [["1 s", 1], ["10 s", 10]] as const) {
  const history = new History();
  let i = 0;
  // Two days at this interval: both rings full.
  for (; i < (2 * 86_400) / every; i++) history.add(point(i * every));
  Deno.bench({
    name: `in-memory history: add a telegram's point (one every ${name}, rings full)`,
    fn() {
      history.add(point(i++ * every));
    },
  });
}
