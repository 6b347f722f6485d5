/**
 * The shipping files, checked where this machine can: `systemd-analyze verify` on the unit, and
 * the Dockerfile, compose file, env file and release workflow against the project's own tasks
 * and options (no Docker engine runs here; CI runs the same compile flags through the bundle test).
 */
import assert from "node:assert/strict";
import { OPTIONS } from "../lib/config.ts";
import { ROOT } from "./support/paths.ts";

const read = (path: string) => Deno.readTextFileSync(`${ROOT}${path}`);
const UNIT = read("kingtech-p1reader.service");
const DOCKERFILE = read("Dockerfile");
const { tasks } = JSON.parse(read("deno.json"));
const compilePermissions = (tasks.compile as string).split("&&")[0]!.trim().split(" ")
  .filter((arg) => arg.startsWith("--allow-") || arg === "--no-prompt");

function haveSystemdAnalyze(): boolean {
  try {
    return new Deno.Command("systemd-analyze", {
      args: ["--version"],
      stdout: "null",
      stderr: "null",
    }).outputSync().success;
  } catch {
    return false;
  }
}

Deno.test({
  name: "systemd-analyze verify passes on kingtech-p1reader.service",
  ignore: !haveSystemdAnalyze() && Deno.env.get("CI") === undefined,
  async fn() {
    const root = await Deno.makeTempDir();
    await Deno.mkdir(`${root}/etc/systemd/system`, { recursive: true });
    await Deno.mkdir(`${root}/usr/local/bin`, { recursive: true });
    // systemd's own units (targets the unit refers to) come along into the temporary root.
    await Deno.mkdir(`${root}/usr/lib`, { recursive: true });
    const copied = await new Deno.Command("cp", {
      args: ["-r", "/usr/lib/systemd", `${root}/usr/lib/`],
    }).output();
    assert.ok(copied.success);
    await Deno.writeTextFile(`${root}/etc/systemd/system/kingtech-p1reader.service`, UNIT);
    await Deno.writeTextFile(`${root}/usr/local/bin/p1reader`, "#!/bin/sh\n", { mode: 0o755 });
    const { code, stdout, stderr } = await new Deno.Command("systemd-analyze", {
      args: ["verify", `--root=${root}`, "/etc/systemd/system/kingtech-p1reader.service"],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const output = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
    assert.equal(code, 0, output);
    assert.equal(output.trim(), "", "no warnings either (unknown keys are only warnings)");
    await Deno.remove(root, { recursive: true });
  },
});

Deno.test("the unit runs the binary as a dynamic user in dialout, with a state directory and V8-safe hardening", () => {
  for (
    const line of [
      "ExecStart=/usr/local/bin/p1reader",
      "Restart=always",
      "DynamicUser=yes",
      "SupplementaryGroups=dialout",
      "StateDirectory=kingtech-p1reader",
      "EnvironmentFile=-/etc/default/kingtech-p1reader",
      "DevicePolicy=closed",
      "DeviceAllow=char-ttyUSB rw",
      "NoNewPrivileges=yes",
      "ProtectSystem=strict",
    ]
  ) {
    assert.ok(UNIT.split("\n").includes(line), line);
  }
  assert.ok(!/^MemoryDenyWriteExecute=/m.test(UNIT), "V8's JIT needs writable code");
  assert.ok(!/^PrivateDevices=/m.test(UNIT), "it would hide the serial device");
});

Deno.test("the Dockerfile compiles with the compile task's permissions and runs non-root on port 80", () => {
  assert.match(DOCKERFILE, /^FROM --platform=\$BUILDPLATFORM denoland\/deno:2\.9\.5 AS build$/m);
  assert.match(DOCKERFILE, /^RUN deno install --frozen$/m);
  const compile = /deno compile (.*) \\\n\s+--target "\$target" -o \/out\/p1reader main\.ts/.exec(
    DOCKERFILE,
  );
  assert.ok(compile, "a deno compile line");
  assert.deepEqual(
    compile[1]!.split(" ").filter((arg) => arg.startsWith("--allow-") || arg === "--no-prompt"),
    compilePermissions,
  );
  assert.match(DOCKERFILE, /^FROM gcr\.io\/distroless\/cc-debian12:nonroot$/m);
  assert.match(DOCKERFILE, /^USER 65532:20$/m);
  assert.match(DOCKERFILE, /P1READER_PORT=80/);
  assert.match(DOCKERFILE, /P1READER_DATA_DIR=\/data/);
  assert.match(DOCKERFILE, /^VOLUME \/data$/m);
  assert.match(DOCKERFILE, /^EXPOSE 80$/m);
  assert.match(
    DOCKERFILE,
    /^HEALTHCHECK .* CMD \["\/usr\/local\/bin\/p1reader", "healthcheck"\]$/m,
  );
});

Deno.test("compose.yaml keeps the original's example and adds the data volume", () => {
  const compose = read("compose.yaml");
  for (
    const text of [
      "- /dev/ttyUSB0:/dev/ttyUSB0",
      "- 8888:80",
      "- P1ReceiverSettings__SerialPort=/dev/ttyUSB0",
      "- P1ReceiverSettings__Format=XS210ESMR5",
      "- p1reader-data:/data",
      "group_add:",
    ]
  ) {
    assert.ok(compose.includes(text), text);
  }
});

Deno.test("the env file names only settings that exist", () => {
  const names = new Set(OPTIONS.flatMap((o) => [o.env, ...(o.original ?? [])]));
  const used = [...read("packaging/kingtech-p1reader.default").matchAll(/^#?(P1READER_\w+)=/gm)]
    .map((m) => m[1]!);
  assert.ok(used.length >= 5);
  for (const name of used) assert.ok(names.has(name), name);
});

Deno.test("the release workflow tests, compiles both targets, bundles and pushes a multi-arch image", () => {
  const workflow = read(".github/workflows/release.yml");
  for (
    const text of [
      'tags: ["v*"]',
      "bash .ci/run",
      "deno task compile",
      "deno task bundle",
      "dist/p1reader-x86_64-linux",
      "dist/p1reader-aarch64-linux",
      "dist/p1reader.js",
      "platforms: linux/amd64,linux/arm64",
    ]
  ) {
    assert.ok(workflow.includes(text), text);
  }
  assert.match(tasks.compile, /--target x86_64-unknown-linux-gnu -o dist\/p1reader-x86_64-linux/);
  assert.match(tasks.compile, /--target aarch64-unknown-linux-gnu -o dist\/p1reader-aarch64-linux/);
});

Deno.test("the release workflow pushes the image under a lower-case name for any owner", async () => {
  const workflow = read(".github/workflows/release.yml");
  const step = workflow.match(/run: (echo "IMAGE=.*)\n/);
  assert.ok(step, "the workflow sets IMAGE in a run step");
  const env = await Deno.makeTempFile();
  try {
    const run = new Deno.Command("bash", {
      args: ["-c", step[1]!],
      env: { OWNER: "KingTechNL", GITHUB_ENV: env },
    });
    assert.equal((await run.output()).code, 0);
    assert.equal(await Deno.readTextFile(env), "IMAGE=ghcr.io/kingtechnl/kingtech-p1reader\n");
  } finally {
    await Deno.remove(env);
  }
  assert.match(workflow, /tags: \|\n\s+\$\{\{ env\.IMAGE \}\}:\$\{\{ github\.ref_name \}\}/);
});
