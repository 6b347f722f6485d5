import assert from "node:assert/strict";
import { captureOf, generateStates } from "../support/history_capture.ts";
import { ROOT } from "../support/paths.ts";

const MB = 2 ** 20;

Deno.test("p1reader import reads a capture a chunk at a time: its memory stays far below the file's size", async () => {
  const dir = await Deno.makeTempDir({ prefix: "import-memory-" });
  const path = `${dir}/capture.txt`;
  // Half a day of telegrams, then 512 MB of line noise (zero bytes: a hole in a sparse file, so
  // nothing is written to disk), then the other half. Read whole, the file alone would take 512 MB.
  const states = generateStates({
    start: Date.UTC(2025, 0, 1),
    end: Date.UTC(2025, 0, 1, 12),
    stepMs: 10_000,
  });
  const half = states.length / 2;
  const file = await Deno.open(path, { write: true, create: true });
  await file.write(new TextEncoder().encode(captureOf(states.slice(0, half))));
  await file.seek(512 * MB, Deno.SeekMode.Current);
  await file.write(new TextEncoder().encode(captureOf(states.slice(half))));
  file.close();
  const size = (await Deno.stat(path)).size;
  try {
    // tests/support/peak_memory.ts runs the import and reports the process's peak memory at its end.
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--no-prompt",
        "--allow-all", // to read its own /proc/self/status
        `${ROOT}tests/support/peak_memory.ts`,
        "--data-dir",
        `${dir}/data`,
        path,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const errors = new TextDecoder().decode(stderr);
    assert.equal(code, 0, errors);
    assert.match(errors, new RegExp(`^${states.length} telegrams loaded into`));
    const result = JSON.parse(new TextDecoder().decode(stdout));
    assert.equal(result.code, 0);
    // About 150 MB, whatever the size (also for 1 GB); read whole, it was 600 MB for this file.
    assert.ok(
      result.peakBytes < size / 2,
      `peak ${Math.round(result.peakBytes / MB)} MB for a capture of ${Math.round(size / MB)} MB`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
