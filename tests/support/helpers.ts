/**
 * Small helpers shared by tests: waiting for a condition, collecting log lines, corrupting a CRC.
 *
 * @module
 */

import { concatBytes } from "../../lib/bytes.ts";
import { createLogger, type Logger } from "../../lib/log.ts";

/** Waits until `condition()` is true, polling every 10 ms; fails after `timeoutMs`. */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** A logger that keeps its lines in memory. */
export function memoryLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  return { logger: createLogger({ level: "debug", write: (line) => lines.push(line) }), lines };
}

/** Concatenates byte arrays. */
export function concat(...parts: Uint8Array[]): Uint8Array {
  return concatBytes(parts);
}

/** A copy of a telegram with one digit of a value changed, so that its CRC no longer matches. */
export function corruptValue(bytes: Uint8Array): Uint8Array {
  const copy = bytes.slice();
  const at = copy.indexOf(0x2e, copy.indexOf(0x28)); // the first "." inside a value
  copy[at - 1] = copy[at - 1] === 0x31 ? 0x32 : 0x31;
  return copy;
}

/** Splits bytes into chunks of random sizes from 1 to `max`, with a fixed seed. */
export function randomChunks(bytes: Uint8Array, max: number, seed = 3): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  let state = seed;
  for (let at = 0; at < bytes.length;) {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    const size = 1 + (state % max);
    chunks.push(bytes.slice(at, at + size));
    at += size;
  }
  return chunks;
}

/**
 * This process's open file descriptors, number to what each points at (`socket:[4711]`, a
 * path, ...), listed by a child `find` (reading `/proc/self` directly needs `--allow-all`).
 */
export async function openDescriptors(): Promise<Map<string, string>> {
  const { stdout } = await new Deno.Command("find", {
    args: [`/proc/${Deno.pid}/fd`, "-mindepth", "1", "-printf", "%f %l\\n"],
    stdout: "piped",
    stderr: "null",
  }).output();
  const descriptors = new Map<string, string>();
  for (const line of new TextDecoder().decode(stdout).split("\n")) {
    const space = line.indexOf(" ");
    if (space > 0) descriptors.set(line.slice(0, space), line.slice(space + 1));
  }
  return descriptors;
}

/**
 * The sockets open in `after` that were not open in `before`: what a connection leak leaves.
 * Sockets are told apart by inode, so a reused descriptor number still counts as new.
 */
export function socketsOpened(before: Map<string, string>, after: Map<string, string>): string[] {
  const known = new Set(before.values());
  return [...after.values()].filter((target) => target.startsWith("socket:") && !known.has(target));
}
