/**
 * Decrypting Smarty frames: frames we encrypt ourselves with WebCrypto from the corpus's
 * Luxembourg telegram, and a real frame captured from a meter.
 */
import assert from "node:assert/strict";
import { DecryptingScanner, type FrameRejection, parseKey } from "../../lib/dsmr/decryption.ts";
import { DlmsFrameScanner, readFrameHeader, splitCapture } from "../../lib/dsmr/dlms.ts";
import { createSource } from "../../lib/source/create.ts";
import { parseSourceSpec } from "../../lib/source/source.ts";
import { latin1Bytes } from "../../lib/bytes.ts";
import { crc16, formatCrc } from "../../lib/dsmr/crc16.ts";
import type { RawTelegram } from "../../lib/dsmr/framer.ts";
import { parseTelegram } from "../../lib/dsmr/parse.ts";
import { concat, randomChunks } from "../support/helpers.ts";
import { fixtureBytes } from "../support/paths.ts";
import {
  encryptFrame,
  hexBytes,
  LU_TELEGRAM,
  NEXXTLAB_FRAME,
  NEXXTLAB_KEY_HEX,
  TEST_KEY,
} from "../support/smarty.ts";

const PLAIN = fixtureBytes("nl-dsmr50-3phase-4mbus.txt");
const latin1 = (bytes: Uint8Array) => new TextDecoder("latin1").decode(bytes);
const corpusTest = (name: string, fn: () => Promise<void>) =>
  Deno.test({ name, ignore: LU_TELEGRAM === undefined, fn });

/** A scanner with the test key (`null`: none) that records its rejections. */
function scanner(key: Uint8Array | null = TEST_KEY, authenticationKey?: Uint8Array) {
  const rejections: FrameRejection[] = [];
  const keys = key === null
    ? undefined
    : { decryptionKey: key, ...(authenticationKey ? { authenticationKey } : {}) };
  return {
    rejections,
    scanner: new DecryptingScanner({
      ...(keys ? { keys } : {}),
      onRejection: (rejection) => rejections.push(rejection),
    }),
  };
}

async function scanAll(s: DecryptingScanner, chunks: Uint8Array[]): Promise<RawTelegram[]> {
  const out: RawTelegram[] = [];
  for (const chunk of chunks) out.push(...await s.push(chunk));
  out.push(...await s.flush());
  return out;
}

const frame = (frameCounter: number, extra: Partial<Parameters<typeof encryptFrame>[1]> = {}) =>
  encryptFrame(LU_TELEGRAM!, { frameCounter, ...extra });

corpusTest(
  "a frame encrypted from the Luxembourg telegram decrypts to it byte for byte, CRC checked",
  async () => {
    const { scanner: s, rejections } = scanner();
    const [raw, ...rest] = await scanAll(s, [await frame(1)]);
    assert.equal(rest.length, 0);
    assert.deepEqual(raw!.bytes, LU_TELEGRAM);
    const telegram = parseTelegram(raw!, { format: "luxembourg" });
    assert.equal(telegram.checksum.valid, true);
    assert.deepEqual(telegram.energy.import.total, { value: 5675.956, unit: "kWh" });
    assert.deepEqual(rejections, []);
    assert.equal(s.frames.decrypted, 1);
    assert.equal(s.stats.discardedBytes, 0);
  },
);

Deno.test("the real frame captured from a Smarty meter decrypts with its published key", async () => {
  const { scanner: s, rejections } = scanner(parseKey(NEXXTLAB_KEY_HEX));
  const [raw, ...rest] = await scanAll(s, [NEXXTLAB_FRAME]);
  assert.equal(rest.length, 0);
  assert.deepEqual(rejections, []);
  assert.match(latin1(raw!.bytes), /^\/Lux5\\253663629_D\r\n\r\n1-3:0\.2\.8\(42\)\r\n/);
  assert.match(latin1(raw!.bytes), /\r\n!CFDE\r\n$/);
  const telegram = parseTelegram(raw!, { format: "luxembourg" });
  assert.equal(telegram.checksum.valid, true);
  assert.equal(telegram.timestamp?.iso, "2018-01-30T10:21:22+01:00");
  assert.deepEqual(telegram.energy.import.total, { value: 6.695, unit: "kWh" });
  assert.deepEqual(telegram.energy.export.total, { value: 0.025, unit: "kWh" });
});

Deno.test("the real frame gives nothing with a key one digit off, and says to check the key", async () => {
  const wrong = parseKey(NEXXTLAB_KEY_HEX.slice(0, -1) + "9");
  const { scanner: s, rejections } = scanner(wrong);
  assert.deepEqual(await scanAll(s, [NEXXTLAB_FRAME]), []);
  assert.deepEqual(rejections.map((r) => r.kind), ["wrong_key"]);
  assert.match(rejections[0]!.fix, /--decryption-key/);
  assert.equal(s.frames.wrongKey, 1);
  assert.equal(s.stats.telegrams, 0);
  assert.equal(s.stats.discardedBytes, NEXXTLAB_FRAME.length);
});

corpusTest(
  "a decrypted telegram is handed on at once, though no line end follows its CRC",
  async () => {
    const { scanner: s } = scanner();
    assert.equal(LU_TELEGRAM!.at(-1), 0x38, "the corpus telegram ends with its CRC");
    const out = await s.push(await frame(1));
    assert.deepEqual(out.map((raw) => raw.bytes), [LU_TELEGRAM]);
  },
);

corpusTest(
  "a flipped bit anywhere in the ciphertext or tag fails the tag check: never data",
  async () => {
    const good = await frame(7);
    for (const at of [18, 100, good.length - 13, good.length - 12, good.length - 1]) {
      const bad = good.slice();
      bad[at]! ^= 0x04;
      const { scanner: s, rejections } = scanner();
      assert.deepEqual(await scanAll(s, [bad]), [], `bit flipped at ${at}`);
      assert.deepEqual(rejections.map((r) => r.kind), ["bad_tag"], `bit flipped at ${at}`);
    }
  },
);

corpusTest("a frame sealed with another authentication key is rejected as a bad tag", async () => {
  const other = hexBytes("0102030405060708090A0B0C0D0E0F10");
  const { scanner: s, rejections } = scanner();
  assert.deepEqual(await scanAll(s, [await frame(1, { authenticationKey: other })]), []);
  assert.deepEqual(rejections.map((r) => r.kind), ["bad_tag"]);
  assert.match(rejections[0]!.fix, /--authentication-key/);
  const { scanner: right } = scanner(TEST_KEY, other);
  assert.equal((await scanAll(right, [await frame(1, { authenticationKey: other })])).length, 1);
});

corpusTest(
  "a frame cut short is counted truncated, and the frame that began inside it still decrypts",
  async () => {
    const first = await frame(1);
    const second = await frame(2);
    const { scanner: s, rejections } = scanner();
    const out = await scanAll(s, [concat(first.subarray(0, 200), second, await frame(3))]);
    assert.equal(out.length, 2);
    assert.deepEqual(rejections.map((r) => r.kind), ["truncated"]);
    assert.equal(s.frames.decrypted, 2);
    assert.equal(s.stats.discardedBytes, 200);
  },
);

corpusTest("a frame cut short by the end of the input is counted truncated", async () => {
  const { scanner: s, rejections } = scanner();
  const good = await frame(1);
  const out = await scanAll(s, [good, (await frame(2)).subarray(0, 300)]);
  assert.equal(out.length, 1);
  assert.deepEqual(rejections.map((r) => r.kind), ["truncated"]);
  assert.match(rejections[0]!.message, /end of the input, after 300 of its \d+ bytes/);
});

corpusTest("a reconnect inside a frame counts it truncated and forgets its bytes", async () => {
  const { scanner: s, rejections } = scanner();
  const good = await frame(1);
  assert.deepEqual(await s.push(good.subarray(0, 100)), []);
  s.reset();
  assert.deepEqual(rejections.map((r) => r.kind), ["truncated"]);
  assert.equal((await scanAll(s, [await frame(2)])).length, 1);
});

corpusTest("a frame counter that does not increase is a replay, per meter", async () => {
  const { scanner: s, rejections } = scanner();
  const other = new Uint8Array([0x53, 0x41, 0x47, 1, 1, 1, 1, 1]);
  const out = await scanAll(s, [
    await frame(10),
    await frame(10),
    await frame(9),
    await frame(5, { systemTitle: other }),
    await frame(11),
  ]);
  assert.equal(out.length, 3);
  assert.deepEqual(rejections.map((r) => r.kind), ["replay", "replay"]);
  assert.match(rejections[1]!.message, /counter 9 is not above the last one accepted .*\(10\)/);
  assert.deepEqual(s.frames, {
    decrypted: 3,
    noKey: 0,
    wrongKey: 0,
    badTag: 0,
    replayed: 2,
    truncated: 0,
  });
});

corpusTest(
  "after garbage and a damaged frame, the next plain telegram and frame are read",
  async () => {
    const damaged = await frame(1);
    damaged[50]! ^= 0xff;
    const { scanner: s, rejections } = scanner();
    const garbage = new Uint8Array([0x00, 0xdb, 0x08, 0xff, 0x21, 0x2f, 0xdb, 0x41]);
    const tail = new Uint8Array([0x0d, 0x21, 0xdb, 0x00]);
    const out = await scanAll(s, [concat(garbage, damaged, PLAIN, await frame(2), tail)]);
    assert.deepEqual(out.map((raw) => latin1(raw.bytes)), [latin1(PLAIN), latin1(LU_TELEGRAM!)]);
    assert.deepEqual(rejections.map((r) => r.kind), ["bad_tag"]);
  },
);

corpusTest("/ and ! inside a frame start and end no telegram, in chunks of any size", async () => {
  const frames = [await frame(1), await frame(2), await frame(3)];
  const all = concat(...frames);
  assert.ok(all.includes(0x2f) && all.includes(0x21), "the frames hold both / and !");
  const stream = concat(frames[0]!, PLAIN, frames[1]!, frames[2]!);
  const expected = [LU_TELEGRAM!, PLAIN, LU_TELEGRAM!, LU_TELEGRAM!].map(latin1);
  const oneByOne = [...stream].map((byte) => new Uint8Array([byte]));
  for (const chunks of [oneByOne, randomChunks(stream, 97), randomChunks(stream, 5, 11)]) {
    const { scanner: s, rejections } = scanner();
    const out = await scanAll(s, chunks);
    assert.deepEqual(out.map((raw) => latin1(raw.bytes)), expected);
    assert.deepEqual(rejections, []);
    assert.equal(s.stats.discardedBytes, 0);
    assert.equal(s.stats.incomplete, 0);
  }
});

corpusTest("every length form is read: one byte, and 0x81 to 0x84", async () => {
  const body = "/Lux5\\X\r\n\r\n1-0:1.8.0(000001.000*kWh)\r\n!";
  const small = new TextEncoder().encode(`${body}${formatCrc(crc16(latin1Bytes(body)))}\r\n`);
  const forms = [["short", small], [0x81, small], [0x82, LU_TELEGRAM!], [0x83, LU_TELEGRAM!], [
    0x84,
    LU_TELEGRAM!,
  ]] as const;
  for (const [lengthForm, plaintext] of forms) {
    const { scanner: s, rejections } = scanner();
    const out = await scanAll(s, [await encryptFrame(plaintext, { frameCounter: 1, lengthForm })]);
    assert.deepEqual(rejections, [], String(lengthForm));
    assert.deepEqual(out.map((raw) => raw.bytes), [plaintext], String(lengthForm));
    assert.equal(parseTelegram(out[0]!, { format: "luxembourg" }).checksum.valid, true);
  }
});

Deno.test("without a key, encrypted frames are counted and dropped: no CRC noise from their bytes", async () => {
  const { scanner: s, rejections } = scanner(null);
  const out = await scanAll(s, [NEXXTLAB_FRAME, PLAIN, NEXXTLAB_FRAME]);
  assert.deepEqual(out.map((raw) => latin1(raw.bytes)), [latin1(PLAIN)]);
  assert.deepEqual(rejections.map((r) => r.kind), ["no_key", "no_key"]);
  assert.match(rejections[0]!.fix, /--decryption-key/);
  assert.equal(s.stats.telegrams, 1);
  assert.equal(s.stats.incomplete, 0);
});

Deno.test("plain telegrams pass through untouched with a key set", async () => {
  const { scanner: s, rejections } = scanner();
  const out = await scanAll(s, randomChunks(concat(PLAIN, PLAIN), 64));
  assert.deepEqual(out.map((raw) => raw.bytes), [PLAIN, PLAIN]);
  assert.deepEqual(rejections, []);
});

Deno.test("a header claiming a length beyond the limit holds nothing back", async () => {
  const huge = new Uint8Array([
    0xdb,
    8,
    1,
    2,
    3,
    4,
    5,
    6,
    7,
    8,
    0x84,
    0xff,
    0xff,
    0xff,
    0xff,
    0x30,
  ]);
  const { scanner: s } = scanner();
  assert.deepEqual((await s.push(concat(huge, PLAIN))).map((raw) => raw.bytes), [PLAIN]);
  assert.equal(readFrameHeader(huge, 0, huge.length, 16 * 1024).kind, "none");
});

Deno.test("the frame scanner waits for a whole frame, then hands on the bytes after it", () => {
  const scanner = new DlmsFrameScanner({ maxBytes: 2000 });
  const header = new Uint8Array([0xdb, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0x82, 0x07, 0xc0, 0x30]);
  scanner.push(header);
  assert.equal(scanner.next(), undefined);
  for (let i = 0; i < 10; i++) {
    scanner.push(new Uint8Array(1000).fill(0x41));
    const item = scanner.next();
    if (item) {
      assert.equal(item.kind, "frame");
      assert.equal(item.kind === "frame" && item.frame.bytes.length, 14 + 0x7c0 - 1);
      scanner.accept();
      break;
    }
  }
  const rest = scanner.next();
  assert.equal(rest?.kind, "bytes");
  assert.equal(rest?.kind === "bytes" && rest.bytes.length, 14 + 2000 - (14 + 0x7c0 - 1));
});

corpusTest("a paced replay of an encrypted capture sends a whole frame at a time", async () => {
  const frames = [await frame(1), await frame(2)];
  assert.ok(frames.every((f) => f.includes(0x2f)), "each frame holds a /");
  const capture = concat(frames[0]!, PLAIN, frames[1]!);
  assert.deepEqual(splitCapture(capture), [frames[0], PLAIN, frames[1]]);
  const path = await Deno.makeTempFile();
  await Deno.writeFile(path, capture);
  const source = createSource(parseSourceSpec(`file:${path}`), {
    format: "luxembourg",
    replayIntervalSeconds: 0.001,
    decrypting: true,
  });
  const stream = await source.open();
  const pieces: Uint8Array[] = [];
  for (let piece = await stream.read(); piece; piece = await stream.read()) pieces.push(piece);
  await stream.close();
  await Deno.remove(path);
  assert.deepEqual(pieces, [frames[0], PLAIN, frames[1]]);
});

Deno.test("hostile bytes: noise and forged frame headers give nothing, and a good frame after them decrypts", async () => {
  const forged = (length: number) =>
    new Uint8Array([
      0xdb,
      8,
      1,
      2,
      3,
      4,
      5,
      6,
      7,
      8,
      length,
      0x30,
      ...new Array(length - 1).fill(0x41),
    ]);
  let state = 7;
  const noise = new Uint8Array(20_000).map(() =>
    (state = (state * 1103515245 + 12345) % 2 ** 31) >> 23
  );
  const stream = concat(noise, forged(19), forged(120), noise.subarray(0, 999), NEXXTLAB_FRAME);
  const { scanner: s, rejections } = scanner(parseKey(NEXXTLAB_KEY_HEX));
  const out = await scanAll(s, randomChunks(stream, 300));
  assert.equal(s.frames.decrypted, 1);
  assert.match(latin1(out.at(-1)!.bytes), /^\/Lux5\\253663629_D/);
  assert.ok(rejections.length >= 2, "the forged frames are rejected");
  assert.ok(rejections.every((r) => r.kind === "wrong_key" || r.kind === "truncated"));
});

Deno.test("parseKey() reads 32 hex digits and never repeats a bad key in its error", () => {
  assert.deepEqual(parseKey(" d491470f47126332b07d1923b3504188 "), parseKey(NEXXTLAB_KEY_HEX));
  for (const bad of ["D491470F47126332B07D1923B35041", "D491470F47126332B07D1923B350418Z", ""]) {
    assert.throws(() => parseKey(bad), (error: Error) => {
      assert.ok(error instanceof RangeError);
      assert.match(error.message, /expected 32 hex digits \(16 bytes\)/);
      assert.ok(bad === "" || !error.message.includes(bad.slice(0, 8)), error.message);
      return true;
    });
  }
});
