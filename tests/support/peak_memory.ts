/**
 * Runs `p1reader import` in this process, then prints its exit status and the process's peak
 * resident memory (`VmHWM`), at start and at the end, as JSON on standard output: how a test shows
 * that an import's memory stays bounded, without timing anything.
 *
 * `deno run -A tests/support/peak_memory.ts IMPORT-ARGS...` (Deno lets only `-A` read `/proc/self`)
 *
 * @module
 */

import { runImport } from "../../lib/commands/import_command.ts";

const encoder = new TextEncoder();

/** The peak resident memory of this process so far, in bytes. */
function peakBytes(): number {
  const status = Deno.readTextFileSync("/proc/self/status");
  return Number(/^VmHWM:\s+(\d+) kB$/m.exec(status)![1]) * 1024;
}

const startBytes = peakBytes();
const code = await runImport(Deno.args, {
  stdin: Deno.stdin.readable,
  stdout: (text) => Deno.stderr.writeSync(encoder.encode(text)),
  stderr: (text) => Deno.stderr.writeSync(encoder.encode(text)),
}, Deno.env.toObject());
Deno.stdout.writeSync(encoder.encode(JSON.stringify({ code, startBytes, peakBytes: peakBytes() })));
