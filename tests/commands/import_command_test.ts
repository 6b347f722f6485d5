/** `p1reader import` refusing what it cannot read, as a user would give it. */
import assert from "node:assert/strict";
import { gzipSync } from "node:zlib";
import { generateStates } from "../support/history_capture.ts";
import { telegramText } from "../support/meter_telegrams.ts";
import { runMain } from "../support/run.ts";
import { SERVE_PERMISSIONS } from "../support/server.ts";

async function inTempDir(run: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "import-command-" });
  try {
    await run(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("p1reader import DIR is refused with exit status 2, naming the directory", async () => {
  await inTempDir(async (dir) => {
    await Deno.mkdir(`${dir}/captures`);
    const result = await runMain(["import", "--data-dir", `${dir}/data`, `${dir}/captures`], {
      permissions: SERVE_PERMISSIONS,
    });
    assert.equal(result.code, 2, result.stderr);
    assert.equal(
      result.stderr,
      `p1reader import: "${dir}/captures" is a directory: name a capture file (or - for standard input)\n`,
    );
    await assert.rejects(Deno.stat(`${dir}/data`), Deno.errors.NotFound, "no database made");
  });
});

Deno.test("p1reader import of a gzip'd capture says to decompress it first, with exit status 1", async () => {
  await inTempDir(async (dir) => {
    const states = generateStates({
      start: Date.UTC(2025, 0, 1),
      end: Date.UTC(2025, 0, 1, 1),
      stepMs: 60_000,
    });
    const path = `${dir}/capture.txt.gz`;
    await Deno.writeFile(path, gzipSync(states.map(telegramText).join("")));
    const result = await runMain(["import", "--data-dir", `${dir}/data`, path], {
      permissions: SERVE_PERMISSIONS,
    });
    assert.equal(result.code, 1, result.stderr);
    assert.equal(
      result.stderr,
      `p1reader import: "${path}" is compressed with gzip: decompress it first: ` +
        `gunzip -c ${path} | p1reader import -\n`,
    );
  });
});
