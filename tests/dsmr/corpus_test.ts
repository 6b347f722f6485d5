/**
 * Conformance over the shared corpus of real telegrams (`../shared/corpus`, present in CI): the
 * CRC verdict matches `expected.json`, and with the default options (no `--format` set) every raw
 * value is decoded to the same number and unit in the `obis` view and every line the format knows
 * fills its named field; the original's format names read every meter as the default does.
 */
import assert from "node:assert/strict";
import { crc16, formatCrc } from "../../lib/dsmr/crc16.ts";
import { ChecksumError } from "../../lib/dsmr/errors.ts";
import { detectFormat } from "../../lib/dsmr/detect.ts";
import { resolveFormat } from "../../lib/dsmr/formats.ts";
import { FrameScanner, type RawTelegram } from "../../lib/dsmr/framer.ts";
import { lexTelegram } from "../../lib/dsmr/lexer.ts";
import type { ObisLine, ObisValue, Telegram } from "../../lib/dsmr/model.ts";
import { parseTelegram, verifyChecksum } from "../../lib/dsmr/parse.ts";
import { catalogueKey } from "../../lib/dsmr/catalogue.ts";
import { OPTIONS } from "../../lib/config.ts";
import { CORPUS } from "../support/paths.ts";

/** What `--format` is when no option sets it. */
const DEFAULT_FORMAT = resolveFormat(
  String(OPTIONS.find((option) => option.name === "format")?.default),
);

interface Expected {
  header: string | null;
  crc_stated: string | null;
  crc_computed: string | null;
  crc_valid: boolean | null;
  obis_raw: Record<string, string[][]>;
}

const WITH_UNIT = /^([-+]?\d+(?:\.\d+)?)\*(.+)$/;
const DECIMAL = /^[-+]?\d+\.\d+$/;
const INTEGER = /^\d+$/;

function assertDecoded(raw: string, decoded: ObisValue | undefined, where: string): void {
  const withUnit = WITH_UNIT.exec(raw);
  if (raw === "") assert.deepEqual(decoded, { kind: "empty" }, where);
  else if (withUnit) {
    assert.deepEqual(
      decoded,
      { kind: "number", value: Number(withUnit[1]), unit: withUnit[2] },
      where,
    );
  } else if (DECIMAL.test(raw)) {
    assert.deepEqual(decoded, { kind: "number", value: Number(raw) }, where);
  } else if (INTEGER.test(raw)) {
    // Plain digits are a count or code (a number), an identifier (text) or a flagless time.
    assert.ok(
      (decoded?.kind === "number" && decoded.value === Number(raw)) || decoded?.kind === "text" ||
        (decoded?.kind === "timestamp" && raw.length === 12),
      `${where}: ${JSON.stringify(decoded)}`,
    );
  } else assert.ok(decoded !== undefined, where);
}

/**
 * The named field a known line fills (`energy.import.t1`, `mbus[].reading` of its channel), or
 * `undefined` when it is not filled.
 */
function namedValue(telegram: Telegram, line: ObisLine): unknown {
  let value: unknown = telegram;
  for (const part of line.field!.split(".")) {
    if (part === "mbus[]") {
      const { channel } = catalogueKey(line.reference);
      value = telegram.mbus.find((device) => device.channel === channel);
    } else {
      value = (value as Record<string, unknown> | undefined)?.[part];
    }
  }
  return value;
}

/** Checks that each line the format knows is in its named field, a lone number as written. */
function assertNamed(telegram: Telegram, where: string): void {
  for (const line of telegram.obis) {
    if (line.field === undefined || line.raw.every((raw) => raw === "")) continue;
    // A device's lines fill one field; an id that is no text (`xxxxxxxxxxxxx`) is left out.
    if (line.field === "equipmentId" && telegram.equipmentId === undefined) continue;
    const value = namedValue(telegram, line);
    assert.notEqual(value, undefined, `${where}: ${line.reference} fills ${line.field}`);
    const [only] = line.values;
    if (line.values.length === 1 && only?.kind === "number") {
      const named = typeof value === "number" ? { value, unit: only.unit } : value as {
        value: number;
        unit: string;
      };
      if (only.unit === undefined || only.unit === named.unit) {
        assert.equal(named.value, only.value, `${where}: ${line.reference} ${line.field}`);
      }
    }
  }
}

if (CORPUS === undefined) {
  Deno.test({
    name: "corpus conformance (../shared/corpus is absent here)",
    ignore: true,
    fn() {},
  });
} else {
  const corpus = CORPUS;
  const expected: Record<string, Expected> = JSON.parse(
    Deno.readTextFileSync(`${corpus}expected.json`),
  );

  for (const [file, entry] of Object.entries(expected)) {
    Deno.test(`corpus ${file}: CRC verdict and every value`, () => {
      const bytes = Deno.readFileSync(`${corpus}telegrams/${file}`);
      const text = new TextDecoder("latin1").decode(bytes);

      // The verdict as expected.json states it: the file as one telegram, CRC over byte 0..last "!".
      const bang = bytes.lastIndexOf(0x21);
      const stated = /^[0-9A-Fa-f]{1,4}/.exec(text.slice(bang + 1))?.[0] ?? null;
      // The corpus computes no CRC for a file without "/": there is nothing to start it at.
      if (entry.crc_computed !== null) {
        assert.equal(formatCrc(crc16(bytes, 0, bang + 1)), entry.crc_computed);
      }
      assert.equal(stated, entry.crc_stated);
      const whole: RawTelegram = { bytes, bangIndex: bang, crcText: stated ?? "" };
      const id = detectFormat(lexTelegram(text), stated !== null);
      if (entry.crc_computed === null) assert.equal(entry.crc_valid, null);
      else if (entry.crc_valid === false) {
        assert.throws(() => verifyChecksum(whole, id), ChecksumError);
      } else assert.equal(verifyChecksum(whole, id).valid, entry.crc_valid);

      const scanner = new FrameScanner();
      const frames = [...scanner.push(bytes), ...scanner.flush()];
      const wholeFrame = bytes[0] === 0x2f && frames.length === 1 && scanner.stats.incomplete === 0;
      if (bytes[0] !== 0x2f) {
        // Cut before its header: what precedes the first "/" is discarded, never a telegram.
        assert.ok(scanner.stats.discardedBytes > 0);
      } else if (!wholeFrame) {
        // A telegram cut short by the next one's "/": abandoned and counted.
        assert.ok(scanner.stats.incomplete > 0);
      }
      if (entry.crc_valid === false && wholeFrame) {
        assert.throws(() => parseTelegram(frames[0]!), ChecksumError);
      }
      if (!wholeFrame || entry.crc_valid === false) return;

      assert.equal(frames.length, 1);
      const telegram = parseTelegram(frames[0]!, { format: DEFAULT_FORMAT });
      assert.equal(`/${telegram.header}`, entry.header);
      assert.equal(telegram.format, id, "read as the format its header and lines show");
      assert.deepEqual(telegram.problems, []);
      assertNamed(telegram, file);
      for (const name of ["XS210ESMR5", "V502"]) {
        assert.deepEqual(
          parseTelegram(frames[0]!, { format: resolveFormat(name) }),
          telegram,
          name,
        );
      }
      const seen: Record<string, string[][]> = {};
      for (const line of telegram.obis) {
        (seen[line.reference] ??= []).push(line.raw);
        line.raw.forEach((raw, i) => assertDecoded(raw, line.values[i], `${line.reference}[${i}]`));
      }
      assert.deepEqual(seen, entry.obis_raw);
    });
  }
}
