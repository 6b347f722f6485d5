import assert from "node:assert/strict";
import { DataDirInUseError, LOCK_FILE, lockDataDir } from "../lib/data_dir_lock.ts";
import { FakeDsmrReader } from "./support/fake_dsmr_reader.ts";
import { fixture, ROOT } from "./support/paths.ts";
import { runMain } from "./support/run.ts";
import { SERVE_PERMISSIONS, startServer } from "./support/server.ts";

Deno.test("a second lock on a data directory is refused, naming the holder's process id", async () => {
  const dir = await Deno.makeTempDir();
  const first = await lockDataDir(`${dir}/data`);
  try {
    // flock locks belong to the open file: a second open conflicts even in the same process.
    const refused = await lockDataDir(`${dir}/data`).then(() => undefined, (error) => error);
    assert.ok(refused instanceof DataDirInUseError);
    assert.equal(refused.pid, Deno.pid);
    assert.equal(
      refused.message,
      `"${dir}/data" is in use by another p1reader (pid ${Deno.pid}): stop it, or give each its own --data-dir`,
    );
  } finally {
    first.release();
  }
  const again = await lockDataDir(`${dir}/data`);
  assert.equal(again.path, `${dir}/data/${LOCK_FILE}`);
  again.release();
  await Deno.remove(dir, { recursive: true });
});

/** Runs `p1reader serve ARGS`; kills it if it is still running after `ms`. */
async function serveExpectingExit(args: string[], ms = 20_000) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", ...SERVE_PERMISSIONS, `${ROOT}main.ts`, "serve", ...args],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  const killer = setTimeout(() => child.kill("SIGKILL"), ms);
  const { code, stderr } = await child.output();
  clearTimeout(killer);
  return { code, stderr: new TextDecoder().decode(stderr) };
}

Deno.test("a second service on the same data directory exits 2 naming it and the first one's pid", async () => {
  const dir = await Deno.makeTempDir();
  const data = `${dir}/data`;
  const fake = new FakeDsmrReader().start();
  const push = ["--dsmr-reader-url", fake.url, "--dsmr-reader-key", fake.key, "--data-dir", data];
  const first = await startServer(["--source", "demo", ...push]);
  try {
    const second = await serveExpectingExit([
      ...["--source", "demo", "--host", "127.0.0.1", "--port", "0", ...push],
    ]);
    assert.equal(second.code, 2, second.stderr);
    assert.match(
      second.stderr,
      new RegExp(`--data-dir "${data}" is in use by another p1reader \\(pid ${first.child.pid}\\)`),
    );
    assert.doesNotMatch(second.stderr, /pushing to DSMR reader|keeping the energy history/);

    // The commands made to run beside the service still do.
    const backup = await runMain(["backup", "--data-dir", data, `${dir}/copy.sqlite`], {
      permissions: SERVE_PERMISSIONS,
    });
    assert.equal(backup.code, 0, backup.stderr);
    const load = await runMain(
      ["import", "--data-dir", data, fixture("nl-dsmr50-3phase-4mbus.txt")],
      { permissions: SERVE_PERMISSIONS },
    );
    assert.equal(load.code, 0, load.stderr);
  } finally {
    await first.stop();
  }
  // A lock does not outlive its process, however it ends.
  const killed = await startServer(["--source", "demo", ...push]);
  killed.child.kill("SIGKILL");
  await killed.stop();
  const next = await startServer(["--source", "demo", ...push]);
  assert.match(next.log(), /pushing to DSMR reader/);
  await next.stop();
  await fake.stop();
  await Deno.remove(dir, { recursive: true });
});
