import assert from "node:assert/strict";
import { FrameScanner, type RawTelegram, TelegramFramer } from "../../lib/dsmr/framer.ts";
import { fixtureBytes } from "../support/paths.ts";

const TELEGRAM = fixtureBytes("nl-dsmr50-3phase-4mbus.txt");
const BELGIAN = fixtureBytes("be-emucs-peak.txt");
const decode = (bytes: Uint8Array) => new TextDecoder("latin1").decode(bytes);
const encode = (text: string) => new Uint8Array([...text].map((c) => c.charCodeAt(0)));
const concat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) out.set(part, (at += part.length) - part.length);
  return out;
};

function frameAll(scanner: FrameScanner, chunks: Uint8Array[]): RawTelegram[] {
  return [...chunks.flatMap((chunk) => scanner.push(chunk)), ...scanner.flush()];
}

Deno.test("FrameScanner emits a whole telegram byte for byte, CR LF after the CRC included", () => {
  const [telegram, ...rest] = frameAll(new FrameScanner(), [TELEGRAM]);
  assert.equal(rest.length, 0);
  assert.deepEqual(telegram!.bytes, TELEGRAM);
  assert.equal(telegram!.bytes[telegram!.bangIndex], 0x21);
  assert.match(telegram!.crcText, /^[0-9A-F]{4}$/);
});

Deno.test("FrameScanner gives the same telegram when split at every byte offset", () => {
  for (let cut = 1; cut < TELEGRAM.length; cut++) {
    const scanner = new FrameScanner();
    const out = frameAll(scanner, [TELEGRAM.subarray(0, cut), TELEGRAM.subarray(cut)]);
    assert.equal(out.length, 1, `cut at ${cut}`);
    assert.deepEqual(out[0]!.bytes, TELEGRAM, `cut at ${cut}`);
    assert.equal(scanner.stats.discardedBytes, 0);
  }
});

Deno.test("FrameScanner accepts one byte at a time", () => {
  const scanner = new FrameScanner();
  const out = frameAll(scanner, [...TELEGRAM].map((b) => new Uint8Array([b])));
  assert.equal(out.length, 1);
  assert.deepEqual(out[0]!.bytes, TELEGRAM);
});

Deno.test("FrameScanner splits several telegrams in one chunk and skips garbage between them", () => {
  const scanner = new FrameScanner();
  const stream = concat(encode("\x00\xffnoise"), TELEGRAM, encode("junk!12"), BELGIAN, TELEGRAM);
  const out = frameAll(scanner, [stream]);
  assert.deepEqual(out.map((t) => decode(t.bytes)), [TELEGRAM, BELGIAN, TELEGRAM].map(decode));
  assert.equal(scanner.stats.discardedBytes, 7 + 7);
  assert.equal(scanner.stats.telegrams, 3);
});

Deno.test("FrameScanner starts over at a / that starts a line inside an unfinished telegram", () => {
  const scanner = new FrameScanner();
  const truncated = TELEGRAM.subarray(0, TELEGRAM.indexOf(0x0a, 300) + 1);
  const out = frameAll(scanner, [truncated, BELGIAN]);
  assert.equal(out.length, 1);
  assert.deepEqual(out[0]!.bytes, BELGIAN);
  assert.equal(scanner.stats.incomplete, 1);
  assert.equal(scanner.stats.discardedBytes, truncated.length);
});

Deno.test("FrameScanner finds the next telegram after one cut off within a line", () => {
  for (const cut of [1, 2, 5, 40, 300, TELEGRAM.length - 8]) {
    const truncated = TELEGRAM.subarray(0, cut);
    for (const chunks of [[truncated, BELGIAN], [concat(truncated, BELGIAN)]]) {
      const scanner = new FrameScanner();
      const out = frameAll(scanner, chunks);
      assert.deepEqual(out.map((t) => decode(t.bytes)), [decode(BELGIAN)], `cut at ${cut}`);
      assert.equal(out[0]!.bytes[out[0]!.bangIndex], 0x21);
      assert.equal(scanner.stats.incomplete, 1);
      assert.equal(scanner.stats.discardedBytes, cut);
    }
  }
});

Deno.test("FrameScanner keeps a / or ! within a line as data of the telegram (DSMR 3 text)", () => {
  // No CRC would catch a telegram split at the "/" of its text message, or cut at its "!".
  const text = "/ISk5\\2MT382-1000\r\n\r\n1-0:1.8.1(00001.001*kWh)\r\n" +
    "0-0:96.13.0(test-/-test!)\r\n0-0:96.13.1(km/hour, /KAM5 and/or)\r\n" +
    "0-1:24.3.0(090212160000)(00)(60)(1)(0-1:24.2.1)(m3)\r\n" +
    "(00001.001)\r\n!\r\n";
  for (const chunks of [[encode(text)], [...text].map((c) => encode(c))]) {
    const scanner = new FrameScanner();
    const out = frameAll(scanner, [...chunks, encode(text)]);
    assert.deepEqual(out.map((t) => decode(t.bytes)), [text, text]);
    assert.equal(scanner.stats.incomplete, 0);
    assert.equal(scanner.stats.discardedBytes, 0);
  }
});

Deno.test("FrameScanner drops a telegram over the size limit and recovers on the next", () => {
  const scanner = new FrameScanner({ maxBytes: 1024 });
  const huge = concat(
    encode("/XXX5\r\n\r\n"),
    encode("0-0:96.13.0(" + "41".repeat(1200) + ")\r\n"),
    encode("!1234\r\n"),
  );
  const out = frameAll(scanner, [huge, BELGIAN]);
  assert.equal(out.length, 1);
  assert.deepEqual(out[0]!.bytes, BELGIAN);
  assert.equal(scanner.stats.oversized, 1);
  assert.ok(scanner.stats.discardedBytes >= 1024);
});

Deno.test("FrameScanner drops a telegram whose CRC line crosses the size limit, in any chunks", () => {
  // The limit falls on each byte of the CRC line in turn; the telegram is dropped whole, and the
  // one after it comes through alone (it used to leave the scanner in the tail of a telegram it
  // had dropped, which then emitted the line end as a telegram).
  const bang = TELEGRAM.indexOf(0x21);
  for (let limit = bang + 1; limit < TELEGRAM.length; limit++) {
    for (const chunks of [[TELEGRAM], [...TELEGRAM].map((b) => new Uint8Array([b]))]) {
      const scanner = new FrameScanner({ maxBytes: limit });
      const out = frameAll(scanner, [...chunks, encode("/A\n\n!\n")]);
      assert.deepEqual(out.map((t) => decode(t.bytes)), ["/A\n\n!\n"], `limit ${limit}`);
      assert.equal(scanner.stats.oversized, 1, `limit ${limit}`);
    }
  }
});

Deno.test("FrameScanner never buffers without bound on a stream without !", () => {
  const scanner = new FrameScanner({ maxBytes: 2048 });
  const line = encode("1-0:1.8.1(000001.000*kWh)\r\n");
  scanner.push(encode("/XXX5\r\n"));
  for (let i = 0; i < 10_000; i++) scanner.push(line);
  assert.ok(scanner.stats.oversized >= 1);
  assert.equal(scanner.stats.telegrams, 0);
});

Deno.test("FrameScanner reads an unpadded, lower-case CRC and bare LF line ends", () => {
  const scanner = new FrameScanner();
  const text = "/NWA-WARMTELINK\n\n1-3:0.2.8(50)\n!b9f\n/NEXT5\n\n!0000\n";
  const out = frameAll(scanner, [encode(text)]);
  assert.deepEqual(out.map((t) => t.crcText), ["b9f", "0000"]);
  assert.equal(decode(out[0]!.bytes), "/NWA-WARMTELINK\n\n1-3:0.2.8(50)\n!b9f\n");
});

Deno.test("FrameScanner ends a telegram without CRC at the line end after !", () => {
  const scanner = new FrameScanner();
  const out = frameAll(scanner, [
    encode("/ESY5Q3DA1004 V3.04\r\n\r\n1-0:1.8.0*255(1*kWh)\r\n!\r\n  25803103\r\n\xff\xff"),
  ]);
  assert.equal(out.length, 1);
  assert.equal(out[0]!.crcText, "");
  assert.ok(decode(out[0]!.bytes).endsWith("!\r\n"));
  assert.equal(scanner.stats.discardedBytes, 14);
});

Deno.test("FrameScanner emits a telegram whose CRC is followed directly by the next /", () => {
  const scanner = new FrameScanner();
  const out = frameAll(scanner, [
    encode("/A5\r\n\r\n1-0:1.7.0(1*kW)\r\n!ABCD/B5\r\n\r\n!0000\r\n"),
  ]);
  assert.deepEqual(out.map((t) => t.crcText), ["ABCD", "0000"]);
  assert.equal(scanner.stats.discardedBytes, 0);
});

Deno.test("FrameScanner.flush() keeps a final telegram without line end and drops an unfinished one", () => {
  const complete = new FrameScanner();
  complete.push(encode("/A5\r\n\r\n!1BB8"));
  assert.deepEqual(complete.flush().map((t) => t.crcText), ["1BB8"]);

  const unfinished = new FrameScanner();
  unfinished.push(encode("/A5\r\n\r\n1-0:1.7.0(1*kW)"));
  assert.deepEqual(unfinished.flush(), []);
  assert.equal(unfinished.stats.incomplete, 1);
});

Deno.test("FrameScanner.reset() drops the half telegram of a source that went away", () => {
  const scanner = new FrameScanner();
  scanner.push(TELEGRAM.subarray(0, 500));
  scanner.reset();
  const out = frameAll(scanner, [TELEGRAM.subarray(500), BELGIAN]);
  assert.equal(out.length, 1);
  assert.deepEqual(out[0]!.bytes, BELGIAN);
  assert.equal(scanner.stats.incomplete, 1);
});

Deno.test("TelegramFramer frames a stream in random chunks", async () => {
  const stream = concat(TELEGRAM, encode("garbage"), BELGIAN, TELEGRAM);
  let seed = 7;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const chunks: Uint8Array[] = [];
  for (let at = 0; at < stream.length;) {
    const size = 1 + Math.floor(random() * 200);
    chunks.push(stream.slice(at, at + size));
    at += size;
  }
  const framer = new TelegramFramer();
  const out: RawTelegram[] = [];
  await ReadableStream.from(chunks).pipeThrough(framer).pipeTo(
    new WritableStream({ write: (t) => void out.push(t) }),
  );
  assert.deepEqual(out.map((t) => t.bytes), [TELEGRAM, BELGIAN, TELEGRAM]);
  assert.equal(framer.stats.discardedBytes, 7);
});

Deno.test("FrameScanner refuses a size limit too small for any telegram", () => {
  assert.throws(() => new FrameScanner({ maxBytes: 3 }), RangeError);
});

Deno.test("FrameScanner's telegrams keep their bytes while thousands more are framed", () => {
  const scanner = new FrameScanner();
  const kept: RawTelegram[] = [];
  for (let i = 0; i < 2000; i++) kept.push(...scanner.push(i % 2 ? TELEGRAM : BELGIAN));
  assert.equal(kept.length, 2000);
  kept.forEach((telegram, i) => {
    assert.deepEqual(telegram.bytes, i % 2 ? TELEGRAM : BELGIAN, `telegram ${i}`);
  });
});

Deno.test("FrameScanner frames a telegram larger than its shared blocks", () => {
  const body = "1-0:99.1.0(" + "A".repeat(60_000) + ")\r\n";
  const big = encode(`/XXX5\r\n\r\n${body}!\r\n`);
  const scanner = new FrameScanner({ maxBytes: 100_000 });
  const [telegram] = frameAll(scanner, [TELEGRAM.subarray(0, 100), big, TELEGRAM]);
  assert.deepEqual(telegram?.bytes, big);
});

Deno.test("FrameScanner finds ! and / at every position and alignment of a chunk", () => {
  // Bodies are searched four bytes at a time: these bytes differ from "!" (0x21) and "/" (0x2f)
  // in one bit or by one, which is where a word-wise test would go wrong.
  const near = [0x00, 0x01, 0x20, 0x22, 0x2e, 0x30, 0x7f, 0x80, 0xa1, 0xaf, 0xff, 0x61, 0x6f];
  const filler = (n: number, seed: number) =>
    new Uint8Array(n).map((_, i) => near[(i * 7 + seed) % near.length]!);
  for (let length = 0; length < 70; length++) {
    const telegram = concat(encode("/"), filler(length, length), encode("\n!0A1B\r\n"));
    for (let offset = 0; offset < 4; offset++) {
      // The same bytes at each alignment of the underlying buffer.
      const stream = concat(new Uint8Array(offset), filler(40, 3), telegram).subarray(offset);
      const scanner = new FrameScanner();
      const out = frameAll(scanner, [stream]);
      assert.equal(out.length, 1, `length ${length}, offset ${offset}`);
      assert.deepEqual(out[0]!.bytes, telegram, `length ${length}, offset ${offset}`);
      assert.equal(out[0]!.bangIndex, length + 2);
    }
    // A "/" that starts a line of the body starts the telegram over from there.
    const restart = concat(telegram.subarray(0, 1 + (length >> 1)), encode("\n"), telegram);
    assert.deepEqual(frameAll(new FrameScanner(), [restart])[0]?.bytes, telegram);
    // Within a line, "/" and "!" are data, wherever they fall in a word.
    const inline = concat(
      encode("/"),
      filler(length, length),
      encode("/!"),
      filler(length, 1),
      encode("\n!0A1B\r\n"),
    );
    const [whole] = frameAll(new FrameScanner(), [inline]);
    assert.deepEqual(whole?.bytes, inline, `inline, length ${length}`);
  }
});

Deno.test("FrameScanner takes a / within a line for a header only on a line a header can be", () => {
  const body = (line: string) => `/XXX5\r\n\r\n0-0:96.13.0(${line}\r\n1-0:1.8.1(1.0*kWh)\r\n!\r\n`;
  for (
    const [line, cut] of [
      ["x/ABC5\\2M550", true], // the next telegram's header after a cut-off line
      [`x/ABC5${"y".repeat(60)}`, true], // as long as a header can be (64 characters)
      [`x/ABC5${"y".repeat(61)}`, false], // longer: part of the line
      ["x/ABC5 (text)", false], // a parenthesis: a value, not a header
      ["x/AB5 text", false], // two letters
      ["x/ABC\x01text", false], // no printable character after the letters
    ] as const
  ) {
    const text = body(line);
    const [telegram] = frameAll(new FrameScanner(), [encode(text)]);
    const expected = cut ? text.slice(text.indexOf("/ABC")) : text;
    assert.equal(decode(telegram!.bytes), expected, JSON.stringify(line));
  }
});
