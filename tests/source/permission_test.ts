import assert from "node:assert/strict";
import { ROOT } from "../support/paths.ts";
import { Pty } from "../support/pty.ts";
import { permissionFacts } from "../../lib/source/termios.ts";

/** Whether this test can run a process as another user (it needs root and setpriv). */
function canDropPrivileges(): boolean {
  try {
    return permissionFacts("/").uid === 0 &&
      new Deno.Command("setpriv", { args: ["--version"], stdout: "null", stderr: "null" })
        .outputSync().success;
  } catch {
    return false;
  }
}

Deno.test({
  name: "opening a device without permission explains uid, groups, the device's group and the fix",
  ignore: !canDropPrivileges(),
  async fn() {
    const pty = Pty.open(); // owned by root, group tty, mode 0620: nobody may not read it
    const dir = await Deno.makeTempDir();
    await Deno.chmod(dir, 0o777);
    const script = `${dir}/open.ts`;
    await Deno.writeTextFile(
      script,
      `import { SerialSource } from "./lib/source/serial.ts";
try {
  await new SerialSource({ path: ${
        JSON.stringify(pty.path)
      }, settings: [{ baudRate: 115200, dataBits: 8, parity: "none", stopBits: 1 }] }).open();
} catch (error) {
  const e = error as Error & { code: string; hint?: string };
  Deno.stdout.writeSync(new TextEncoder().encode(JSON.stringify({ code: e.code, message: e.message, hint: e.hint })));
}
`,
    );
    await Deno.chmod(script, 0o644);
    // A copy of lib/ that nobody may read (the checkout itself may sit in a private directory).
    const copied = await new Deno.Command("cp", { args: ["-r", `${ROOT}lib`, `${dir}/lib`] })
      .output();
    assert.ok(copied.success);
    const opened = await new Deno.Command("chmod", { args: ["-R", "a+rX", `${dir}/lib`] }).output();
    assert.ok(opened.success);
    const { stdout, stderr } = await new Deno.Command("setpriv", {
      args: [
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
        Deno.execPath(),
        "run",
        "--no-prompt",
        "--allow-ffi",
        "--allow-read",
        script,
      ],
      env: { DENO_DIR: `${dir}/deno`, HOME: dir, NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const output = new TextDecoder().decode(stdout);
    assert.ok(output, new TextDecoder().decode(stderr));
    const result = JSON.parse(output);
    const ttyGid = permissionFacts(pty.path).deviceGid;
    assert.ok(ttyGid !== undefined);
    assert.equal(result.code, "EACCES");
    assert.match(
      result.message,
      /Cannot open ".*": Permission denied \(running as uid 65534, gid 65534, groups \[\]; the device belongs to group (\d+)\)/,
    );
    assert.match(result.message, new RegExp(`group ${ttyGid}\\)`));
    assert.match(result.hint, /usually dialout: sudo usermod -aG dialout \$USER/);
    assert.match(result.hint, new RegExp(`--group-add ${ttyGid}`));
    pty.close();
    await Deno.remove(dir, { recursive: true });
  },
});
