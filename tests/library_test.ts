/**
 * The library as others import it: what `mod.ts` exports, the entries `deno.json` publishes, and
 * that the package would publish.
 */
import assert from "node:assert/strict";
import { ROOT } from "./support/paths.ts";

const denoJson = JSON.parse(Deno.readTextFileSync(`${ROOT}deno.json`));

/** The names a module re-exports in its `export { ... }` and `export type { ... }` lists. */
function exportedNames(source: string): string[] {
  const names = [];
  for (const [, list] of source.matchAll(/^export (?:type )?\{([^}]*)\}/gm)) {
    for (const item of list!.split(",")) {
      const name = item.trim().replace(/^type /, "");
      if (name !== "") names.push(name);
    }
  }
  return names.sort();
}

Deno.test("mod.ts exports what a program needs and none of the parser's insides", () => {
  // Ten values; the rest are the types their signatures name, so that each is documented.
  assert.deepEqual(exportedNames(Deno.readTextFileSync(`${ROOT}mod.ts`)), [
    "ByteSource",
    "ByteStream",
    "ChecksumError",
    "ChecksumResult",
    "CreateSourceOptions",
    "EnergyRegisters",
    "FORMATS",
    "FormatChoice",
    "FormatId",
    "FormatMode",
    "FrameCounts",
    "FrameScanner",
    "FramerStats",
    "Implausibility",
    "LineProblem",
    "Listener",
    "MbusDevice",
    "MbusKind",
    "ObisLine",
    "ObisValue",
    "P1Receiver",
    "ParseOptions",
    "PeakDemand",
    "PhaseReadings",
    "PowerFailure",
    "Quantity",
    "RawTelegram",
    "ReceivedTelegram",
    "ReceiverCounters",
    "ReceiverState",
    "RegisterEvent",
    "RegisterVerdict",
    "RegisterWatch",
    "SerialSettings",
    "SourceSpec",
    "Telegram",
    "TelegramFramer",
    "TelegramSyntaxError",
    "Timestamp",
    "createSource",
    "parseSourceSpec",
    "parseTelegram",
    "resolveFormat",
  ]);
});

Deno.test("deno doc --lint mod.ts passes on its own: every type a public signature names is exported", async () => {
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["doc", "--lint", "mod.ts"],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
  }).output();
  assert.equal(code, 0, new TextDecoder().decode(stderr));
});

Deno.test("deno task test and check doc-lint every entry deno.json exports", () => {
  const entries = Object.values(denoJson.exports as Record<string, string>)
    .map((path) => path.replace(/^\.\//, ""))
    .sort();
  for (const task of ["test", "check"]) {
    const linted = /deno doc --lint ([^&]+)/.exec(denoJson.tasks[task])?.[1]?.trim().split(/\s+/);
    assert.deepEqual(linted?.sort(), entries, task);
  }
});

Deno.test("the package publishes: deno publish --dry-run passes, with the MIT licence", async () => {
  assert.equal(denoJson.license, "MIT");
  assert.match(Deno.readTextFileSync(`${ROOT}LICENSE`), /^MIT License\n/);
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["publish", "--dry-run", "--allow-dirty"],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
  }).output();
  const output = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
  assert.equal(code, 0, output);
  assert.match(output, /Success Dry run complete/);
  // The package carries the library and its documentation, not the tests or the service's files.
  const files = [...output.matchAll(/file:\/\/\S+/g)].map(([url]) => url.slice(ROOT.length + 7));
  assert.ok(files.includes("LICENSE") && files.includes("mod.ts"), files.join("\n"));
  assert.deepEqual(files.filter((file) => /^(tests|fixtures|bench)\//.test(file)), []);
});
