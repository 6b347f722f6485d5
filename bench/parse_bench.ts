/**
 * Frame + CRC + parse of one DSMR 5 telegram (`nl-dsmr50-iskra-mt382.txt` from the shared
 * corpus, or a project fixture when the corpus is absent). Run with `deno task bench`.
 */
import { FrameScanner } from "../lib/dsmr/framer.ts";
import { parseTelegram } from "../lib/dsmr/parse.ts";

function load(): Uint8Array {
  try {
    return Deno.readFileSync(
      new URL("../../shared/corpus/telegrams/nl-dsmr50-iskra-mt382.txt", import.meta.url),
    );
  } catch {
    return Deno.readFileSync(new URL("../fixtures/nl-dsmr50-3phase-4mbus.txt", import.meta.url));
  }
}

const telegram = load();
const scanner = new FrameScanner();
const BATCH = 1000;
const stream = new Uint8Array(telegram.length * BATCH);
for (let i = 0; i < BATCH; i++) stream.set(telegram, i * telegram.length);

Deno.bench({
  name: "frame + CRC + parse, 1000 DSMR 5 telegrams (divide the time by 1000)",
  fn() {
    const frames = scanner.push(stream);
    if (frames.length !== BATCH) throw new Error(`framed ${frames.length} telegrams`);
    for (const raw of frames) parseTelegram(raw, { format: "dsmr50" });
  },
});

Deno.bench({
  name: "frame + CRC + parse, one telegram",
  fn() {
    const [raw] = scanner.push(telegram);
    parseTelegram(raw!, { format: "dsmr50" });
  },
});
