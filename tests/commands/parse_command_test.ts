import assert from "node:assert/strict";
import type { Telegram } from "../../lib/dsmr/model.ts";
import { fixture, fixtureBytes } from "../support/paths.ts";
import { runMain } from "../support/run.ts";

const encode = (text: string) => new TextEncoder().encode(text);
const concat = (...parts: Uint8Array[]) => new Uint8Array(parts.flatMap((p) => [...p]));

function corrupted(bytes: Uint8Array): Uint8Array {
  const copy = bytes.slice();
  const at = copy.indexOf(0x2e); // the first "." of a value
  copy[at - 1] = copy[at - 1] === 0x31 ? 0x32 : 0x31;
  return copy;
}

Deno.test("p1reader parse --json prints one JSON object per valid telegram and reports bad CRCs", async () => {
  const dir = await Deno.makeTempDir();
  const capture = `${dir}/capture.txt`;
  await Deno.writeFile(
    capture,
    concat(
      encode("line noise\r\n"),
      fixtureBytes("nl-dsmr50-3phase-4mbus.txt"),
      corrupted(fixtureBytes("be-emucs-peak.txt")),
      encode("garbage"),
      fixtureBytes("be-emucs-peak.txt"),
    ),
  );
  const result = await runMain(["parse", "--json", capture]);
  assert.equal(result.code, 0, result.stderr);
  const telegrams: Telegram[] = result.stdout.trim().split("\n").map((line) => JSON.parse(line));
  assert.deepEqual(telegrams.map((t) => t.format), ["dsmr50", "belgium"]);
  assert.equal(telegrams[1]!.demand?.monthPeak?.value.value, 4.128);
  assert.match(
    result.stderr,
    /telegram 2 rejected: CRC mismatch: telegram states "[0-9A-F]{4}", computed "[0-9A-F]{4}"/,
  );
  assert.match(
    result.stderr,
    /3 telegrams: 2 valid, 1 CRC errors, 0 unparsable; 19 bytes discarded/,
  );
  await Deno.remove(dir, { recursive: true });
});

Deno.test("p1reader parse reads standard input and prints a readable line per telegram", async () => {
  const result = await runMain(["parse", "-"], {
    stdin: fixtureBytes("nl-dsmr50-3phase-4mbus.txt"),
  });
  assert.equal(result.code, 0, result.stderr);
  assert.equal(
    result.stdout,
    "2024-06-30T23:59:59+02:00  dsmr50  import 12345.678/23456.789 kWh  export 1234.567/2345.678 kWh  " +
      "power +1.193/-0 kW  gas[1] 4321.987 m3  water[2] 123.456 m3  heat[3] 12.34 GJ  electricity[4] 987.654 kWh\n",
  );
});

Deno.test("p1reader parse exits 1 when no valid telegram was found", async () => {
  const result = await runMain(["parse", "-"], {
    stdin: corrupted(fixtureBytes("nl-dsmr50-3phase-4mbus.txt")),
  });
  assert.equal(result.code, 1);
  assert.equal(result.stdout, "");
  assert.match(result.stderr, /1 telegrams: 0 valid, 1 CRC errors/);
});

Deno.test("p1reader parse honours --format and rejects a CRC-less telegram for dsmr50", async () => {
  const path = fixture("nl-dsmr22-gas-nextline.txt");
  const strict = await runMain(["parse", "--format", "dsmr50", path]);
  assert.equal(strict.code, 1);
  assert.match(strict.stderr, /has no CRC, but format "dsmr50" requires one/);
  const old = await runMain(["parse", "--format", "DSMR22", "--json", path]);
  assert.equal(old.code, 0, old.stderr);
  assert.equal(JSON.parse(old.stdout).mbus[0].reading.value.value, 456.789);
});

Deno.test("p1reader parse exits 2 on bad usage, naming the problem", async () => {
  const cases: [string[], RegExp][] = [
    [["parse"], /expected one FILE/],
    [["parse", "--format", "dsmr99", "-"], /--format: Unknown format "dsmr99"/],
    [["parse", "--bogus", "-"], /Unknown option '--bogus'/],
    [["parse", "/nonexistent/capture.txt"], /cannot read "\/nonexistent\/capture.txt"/],
  ];
  for (const [args, message] of cases) {
    const result = await runMain(args);
    assert.equal(result.code, 2, args.join(" "));
    assert.match(result.stderr, message);
  }
});

Deno.test("p1reader --version prints the version from deno.json", async () => {
  const { version } = JSON.parse(
    await Deno.readTextFile(new URL("../../deno.json", import.meta.url)),
  );
  const result = await runMain(["--version"]);
  assert.equal(result.code, 0);
  assert.equal(result.stdout, `${version}\n`);
});

Deno.test("p1reader parse DIRECTORY exits 2 with a message, not a stack trace", async () => {
  const dir = await Deno.makeTempDir();
  const result = await runMain(["parse", dir]);
  assert.equal(result.code, 2);
  assert.equal(
    result.stderr,
    `p1reader parse: cannot read "${dir}": it is a directory; give a capture file (or - for standard input)\n`,
  );
  await Deno.remove(dir);
});

Deno.test("p1reader parse exits 2 naming the file when reading it fails part-way", async () => {
  // /proc/self/mem opens, then fails its first read at address 0 with EIO.
  const result = await runMain(["parse", "/proc/self/mem"], { permissions: ["--allow-all"] });
  assert.equal(result.code, 2);
  assert.equal(
    result.stderr,
    'p1reader parse: cannot read "/proc/self/mem": Input/output error (os error 5)\n',
  );
});
