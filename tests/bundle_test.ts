/**
 * `deno compile` cannot run here (it downloads its runtime), so the module graph is proven the
 * other way: the `bundle` task's output runs alone, with the compile task's permissions, from an
 * empty directory and an empty Deno cache.
 */
import assert from "node:assert/strict";
import { ROOT } from "./support/paths.ts";
import { waitFor } from "./support/helpers.ts";

Deno.test("the bundle runs on its own (no source tree, no npm cache) and serves /, /metrics and /healthz", async () => {
  const dir = await Deno.makeTempDir();
  const { tasks } = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`));
  const bundleArgs = (tasks.bundle as string).split(" ").slice(1).map((
    arg,
  ) => (arg === "dist/p1reader.js" ? `${dir}/p1reader.js` : arg));
  const bundled = await new Deno.Command(Deno.execPath(), {
    args: bundleArgs,
    cwd: ROOT,
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.ok(bundled.success, new TextDecoder().decode(bundled.stderr));

  // The compile task's permission flags, so that the bundle test runs what the binary would.
  const compile = (tasks.compile as string).split("&&")[0]!.trim().split(" ");
  const permissions = compile.filter((arg) => arg.startsWith("--allow-") || arg === "--no-prompt");
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...permissions,
      "p1reader.js",
      "--source",
      "demo",
      "--host",
      "127.0.0.1",
      "--port",
      "0",
    ],
    cwd: dir,
    env: { DENO_DIR: `${dir}/empty-cache`, NO_COLOR: "1" },
    stdout: "null",
    stderr: "piped",
  }).spawn();
  let log = "";
  const reading = (async () => {
    for await (const text of child.stderr.pipeThrough(new TextDecoderStream())) log += text;
  })();
  try {
    await waitFor(
      () => /listening on http:\/\/127\.0\.0\.1:\d+/.test(log),
      "the bundle to listen",
      15_000,
    );
    const url = `http://127.0.0.1:${/listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(log)![1]}`;
    let health = 0;
    for (let i = 0; i < 50 && health !== 200; i++) {
      const response = await fetch(`${url}/healthz`);
      health = response.status;
      await response.body?.cancel();
      if (health !== 200) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.equal(health, 200, log);
    assert.equal(typeof (await (await fetch(`${url}/`)).json()).electricityUsageLow, "number");
    assert.match(
      await (await fetch(`${url}/metrics`)).text(),
      /^p1_telegrams_total\{result="ok"\} [1-9]/m,
    );
  } finally {
    child.kill("SIGTERM");
    assert.equal((await child.status).code, 0);
    await reading;
    await Deno.remove(dir, { recursive: true });
  }
});
