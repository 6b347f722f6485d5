import assert from "node:assert/strict";
import { checkFormat } from "../../lib/dsmr/format_check.ts";
import { resolveFormat } from "../../lib/dsmr/formats.ts";
import { FrameScanner, type RawTelegram } from "../../lib/dsmr/framer.ts";
import { P1Receiver } from "../../lib/receiver.ts";
import { FileSource } from "../../lib/source/file.ts";
import { concat, memoryLogger } from "../support/helpers.ts";
import { CORPUS, fixtureBytes } from "../support/paths.ts";

const DSMR22 = fixtureBytes("nl-dsmr22-gas-nextline.txt");
const DSMR40 = fixtureBytes("nl-dsmr40-text-two-lines.txt");
const DSMR50 = fixtureBytes("nl-dsmr50-3phase-4mbus.txt");
const BELGIAN = fixtureBytes("be-emucs-peak.txt");

function frame(bytes: Uint8Array): RawTelegram {
  const [raw] = new FrameScanner().push(bytes);
  return raw!;
}

Deno.test("checkFormat() finds nothing to say when the format fits or is recognised", () => {
  for (const configured of ["auto", "dsmr50", "DSMR50", "XS210ESMR5", "v502"]) {
    const check = checkFormat(resolveFormat(configured), frame(DSMR50));
    assert.equal(check?.detected, "dsmr50", configured);
    assert.equal(check?.advice, undefined, configured);
  }
  assert.equal(
    checkFormat(resolveFormat("dsmr22"), frame(DSMR22))?.advice,
    undefined,
    "2.2 and 3.0 read alike",
  );
  assert.equal(
    checkFormat(resolveFormat("dsmr42"), frame(DSMR40))?.advice,
    undefined,
    "4.0 and 4.2 read alike",
  );
});

Deno.test("checkFormat() names the format to set when an id does not fit the meter", () => {
  assert.deepEqual(checkFormat(resolveFormat("dsmr50"), frame(DSMR22))?.advice, {
    level: "warn",
    message: "--format dsmr50 does not fit: this meter sends dsmr30 telegrams (Netherlands, " +
      "DSMR 3.0 (9600 7E1, no CRC)). To read them as they are, set --format dsmr30 " +
      "(P1READER_FORMAT=dsmr30), or auto",
  });
  assert.match(
    checkFormat(resolveFormat("dsmr50"), frame(BELGIAN))?.advice?.message ?? "",
    /--format belgium/,
  );
  assert.match(
    checkFormat(resolveFormat("dsmr50"), frame(DSMR40))?.advice?.message ?? "",
    /--format dsmr40/,
  );
});

Deno.test("checkFormat() tells users of the original's names what their meter sends", () => {
  assert.deepEqual(checkFormat(resolveFormat("XS210ESMR5"), frame(BELGIAN))?.advice, {
    level: "info",
    message: "--format XS210ESMR5 names a Netherlands, DSMR 5.0.2 meter, but this meter sends " +
      "belgium telegrams (Belgium, e-MUCS (Fluvius), capacity tariff); they are read as belgium. " +
      "To say so, set --format belgium (P1READER_FORMAT=belgium), or auto",
  });
});

Deno.test("checkFormat() says nothing about what is not a meter's telegram", () => {
  assert.equal(
    checkFormat(resolveFormat("dsmr50"), "/\x8f\xa3\r\nq\xe1z(\x90)\r\n!\r\n"),
    undefined,
  );
  const corrupt = DSMR50.slice();
  corrupt[100] = corrupt[100]! ^ 1;
  assert.equal(checkFormat(resolveFormat("dsmr50"), frame(corrupt)), undefined);
});

/** Reads a capture through a receiver with `format`, returning its log lines once it ended. */
async function receive(bytes: Uint8Array, format: string) {
  const dir = await Deno.makeTempDir();
  await Deno.writeFile(`${dir}/capture.txt`, bytes);
  const { logger, lines } = memoryLogger();
  const receiver = new P1Receiver({
    source: new FileSource({ path: `${dir}/capture.txt`, intervalSeconds: 0 }),
    format: resolveFormat(format),
    logger,
  });
  receiver.start();
  await receiver.finished;
  await receiver.stop();
  await Deno.remove(dir, { recursive: true });
  return { lines: lines.filter((line) => line.includes("--format")), receiver };
}

Deno.test("the receiver says once which format to set, when the meter's telegrams are all rejected", async () => {
  const { lines, receiver } = await receive(concat(DSMR22, DSMR22, DSMR22), "dsmr50");
  assert.equal(receiver.counters.crcErrors, 3, "dsmr50 still demands the CRC it was asked for");
  assert.equal(lines.length, 1, lines.join("\n"));
  assert.match(lines[0]!, /WARN.*--format dsmr50 does not fit.*set --format dsmr30/);
});

Deno.test("the receiver reads every meter with XS210ESMR5 and says once what it found", async () => {
  const { lines, receiver } = await receive(concat(BELGIAN, DSMR22, BELGIAN), "XS210ESMR5");
  assert.equal(receiver.counters.telegramsOk, 3);
  assert.equal(lines.length, 1, lines.join("\n"));
  assert.match(lines[0]!, /INFO.*XS210ESMR5 names.*sends belgium telegrams/);
});

Deno.test("the receiver says nothing about the format with the default options", async () => {
  const corpus = CORPUS === undefined
    ? [DSMR22, DSMR50, BELGIAN]
    : [...Deno.readDirSync(`${CORPUS}telegrams`)].map((entry) =>
      Deno.readFileSync(`${CORPUS}telegrams/${entry.name}`)
    );
  const { lines } = await receive(concat(...corpus), "auto");
  assert.deepEqual(lines, []);
});
