/**
 * What counts as a telegram: noise that happens to run from `/` to `!` is never accepted, whatever
 * the format, and what a meter sends always is.
 */
import assert from "node:assert/strict";
import { ChecksumError, TelegramSyntaxError } from "../../lib/dsmr/errors.ts";
import { FORMAT_NAMES, resolveFormat } from "../../lib/dsmr/formats.ts";
import { FrameScanner, type RawTelegram } from "../../lib/dsmr/framer.ts";
import { parseTelegram } from "../../lib/dsmr/parse.ts";
import { concat } from "../support/helpers.ts";
import { fixtureBytes } from "../support/paths.ts";

const latin1 = (text: string) => new Uint8Array([...text].map((c) => c.charCodeAt(0)));

function frameAll(bytes: Uint8Array): RawTelegram[] {
  const scanner = new FrameScanner();
  return [...scanner.push(bytes), ...scanner.flush()];
}

/** Parses every telegram, returning the accepted ones and the reasons of the rejected ones. */
function readAll(raws: RawTelegram[], format?: string) {
  const accepted = [];
  const reasons: string[] = [];
  for (const raw of raws) {
    try {
      accepted.push(
        format === undefined
          ? parseTelegram(raw)
          : parseTelegram(raw, { format: resolveFormat(format) }),
      );
    } catch (error) {
      assert.ok(
        error instanceof ChecksumError || error instanceof TelegramSyntaxError,
        String(error),
      );
      reasons.push(error.message);
    }
  }
  return { accepted, reasons };
}

Deno.test("a frame of noise after a good telegram is rejected, not a second telegram", () => {
  // The frame of issue 16, which was read as a second valid telegram with a header of garbage.
  const noise = latin1("/\x8f\xa3\r\nq\xe1z(\x90)\r\n!\r\n");
  const good = fixtureBytes("nl-dsmr50-3phase-4mbus.txt");
  const raws = frameAll(concat(good, noise));
  assert.equal(raws.length, 2);
  const { accepted, reasons } = readAll(raws);
  assert.equal(accepted.length, 1);
  assert.equal(accepted[0]!.format, "dsmr50");
  assert.deepEqual(reasons, [
    `Cannot parse telegram: its identification line "/\\x8f\\xa3" is not a meter's ("/", three ` +
    `letters and the meter's identification, such as "/ISK5\\2M550T-1012")`,
  ]);
});

Deno.test("10 MB of random bytes give no telegram, whatever the format", () => {
  let seed = 20260116;
  const random = () => {
    // xorshift32: a fixed seed, so that a failure can be replayed.
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return seed >>> 0;
  };
  const bytes = new Uint8Array(10 * 1024 * 1024);
  for (let i = 0; i < bytes.length; i += 4) {
    const word = random();
    bytes[i] = word;
    bytes[i + 1] = word >>> 8;
    bytes[i + 2] = word >>> 16;
    bytes[i + 3] = word >>> 24;
  }
  const raws = frameAll(bytes);
  assert.ok(raws.length > 100, `${raws.length} frames from / to !`);
  assert.equal(readAll(raws).accepted.length, 0, "default (auto)");
  for (const format of FORMAT_NAMES) {
    assert.equal(readAll(raws, format).accepted.length, 0, format);
  }
});

Deno.test("noise dressed as a telegram is told apart by its lines", () => {
  const cases: [string, RegExp][] = [
    ["/ABC5\r\n\r\nnot an OBIS line(1)\r\n1-0:1.8.1(000001.000*kWh)\r\n!", /not an OBIS line/],
    ["/ABC5\r\n\r\n1-0:1.8.1(000001.000*kWh)\r\n\xe1\x80(1)\r\n!", /line "\\xe1\\x80" does not/],
    ["/ABC5\r\n\r\n7-9:99.99.99(1)\r\n!", /none of its 1 data lines is one that format "dsmr30"/],
    ["/AB\r\n\r\n1-0:1.8.1(000001.000*kWh)\r\n!", /identification line "\/AB"/],
    ["/1BC5\r\n\r\n1-0:1.8.1(000001.000*kWh)\r\n!", /identification line/],
    [`/ABC5${"x".repeat(80)}\r\n\r\n1-0:1.8.1(000001.000*kWh)\r\n!`, /identification line/],
    ["/ABC5\r\n\r\n1-0:1.8.1(000001.000*kWh)\r\n/ABC5\r\n!", /line "\/ABC5" does not/],
  ];
  for (const [text, reason] of cases) {
    assert.throws(() => parseTelegram(text), (error: unknown) => {
      assert.ok(error instanceof TelegramSyntaxError);
      assert.match(error.message, reason, JSON.stringify(text));
      return true;
    });
  }
});

Deno.test("a DSMR 5 telegram that lost its CRC is not taken for a DSMR 3 one", () => {
  const text = new TextDecoder("latin1").decode(fixtureBytes("nl-dsmr50-3phase-4mbus.txt"));
  const withoutCrc = text.replace(/!([0-9A-F]{4})\r\n$/, "!\r\n");
  assert.notEqual(withoutCrc, text);
  assert.throws(
    () => parseTelegram(withoutCrc),
    /Telegram has no CRC, but it is a dsmr50 telegram \(Netherlands, DSMR 5.0.2\), which has one/,
  );
});
