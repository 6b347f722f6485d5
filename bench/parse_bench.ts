/**
 * Frame + CRC + parse of one DSMR 5 telegram (`nl-dsmr50-iskra-mt382.txt` from the shared
 * corpus, or a project fixture when the corpus is absent). Run with `deno task bench`.
 *
 * Telegrams are read with the default options (`auto`, which recognises the format from each
 * telegram) and, for comparison, with the format given. The `dsmr-parser` npm package (CRC and
 * parse of the same telegram as text) is the baseline of the "one telegram" group, so that Deno
 * prints how many times faster ours is in the same run: the speed of a virtual machine can swing
 * twofold within minutes, and the ratio moves less.
 */
import dsmrParser from "dsmr-parser";
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
const text = new TextDecoder("latin1").decode(telegram);
const scanner = new FrameScanner();
const BATCH = 1000;
/** What the serial source reads at a time: the framer sees the stream as the receiver does. */
const READ_BYTES = 4096;
const stream = new Uint8Array(telegram.length * BATCH);
for (let i = 0; i < BATCH; i++) stream.set(telegram, i * telegram.length);

Deno.bench({
  name: "frame + CRC + parse, 1000 DSMR 5 telegrams read 4 KiB at a time (divide by 1000)",
  fn() {
    let parsed = 0;
    for (let at = 0; at < stream.length; at += READ_BYTES) {
      for (const raw of scanner.push(stream.subarray(at, at + READ_BYTES))) {
        parseTelegram(raw);
        parsed++;
      }
    }
    if (parsed !== BATCH) throw new Error(`parsed ${parsed} telegrams`);
  },
});

Deno.bench({
  name: "dsmr-parser 2.1.1 (npm): CRC + parse, one telegram as text",
  group: "one telegram",
  baseline: true,
  fn() {
    dsmrParser.parse(text);
  },
});

Deno.bench({
  name: "frame + CRC + parse, one telegram, format recognised (auto, the default)",
  group: "one telegram",
  fn() {
    const [raw] = scanner.push(telegram);
    parseTelegram(raw!);
  },
});

Deno.bench({
  name: "frame + CRC + parse, one telegram, format dsmr50",
  group: "one telegram",
  fn() {
    const [raw] = scanner.push(telegram);
    parseTelegram(raw!, { format: "dsmr50" });
  },
});
