/**
 * What the README and docs/ tell a user holds: every link and anchor leads somewhere, every
 * service command line they show is accepted as written, and every environment name exists.
 */
import assert from "node:assert/strict";
import { ConfigError, OPTIONS, parseConfig } from "../../lib/config.ts";
import { ROOT } from "../support/paths.ts";

/** Every Markdown page users read, relative to the root. */
const PAGES = [
  "README.md",
  "CHANGELOG.md",
  ...[...Deno.readDirSync(`${ROOT}docs`)].filter((entry) => entry.name.endsWith(".md")).map((
    entry,
  ) => `docs/${entry.name}`).sort(),
];

const read = (path: string) => Deno.readTextFileSync(`${ROOT}${path}`);

/** A page's text without its fenced code blocks (links and headings live outside them). */
function prose(text: string): string {
  return text.replace(/^```[^\n]*\n[\s\S]*?^```$/gm, "");
}

/** The anchors GitHub gives a page's headings: lower case, punctuation dropped, spaces to `-`. */
function anchors(text: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  for (const [, heading] of prose(text).matchAll(/^#{1,6} (.+)$/gm)) {
    const slug = heading!.toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, "").replaceAll(" ", "-");
    const count = seen.get(slug) ?? 0;
    seen.set(slug, count + 1);
    result.add(count === 0 ? slug : `${slug}-${count}`);
  }
  return result;
}

/** Resolves a relative link target against the page it is on. */
function resolve(page: string, target: string): string {
  const url = new URL(target, `file:///${page}`);
  return decodeURIComponent(url.pathname.slice(1));
}

Deno.test("every relative link in the README and docs/ leads to a file, and every anchor to a heading", () => {
  const broken: string[] = [];
  for (const page of PAGES) {
    const text = read(page);
    for (const [, target] of prose(text).matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(target!)) continue; // http:, https:, mailto:
      const [file, anchor] = target!.split("#") as [string, string | undefined];
      const path = file === "" ? page : resolve(page, file);
      if (!exists(path)) {
        broken.push(`${page}: ${target} (no file ${path})`);
      } else if (anchor !== undefined && !anchors(read(path)).has(anchor)) {
        broken.push(`${page}: ${target} (no heading #${anchor} in ${path})`);
      }
    }
  }
  assert.deepEqual(broken, []);
});

function exists(path: string): boolean {
  try {
    Deno.statSync(`${ROOT}${path}`);
    return true;
  } catch {
    return false; // A missing file is what the caller reports.
  }
}

/**
 * The arguments of every service command line in the pages' code blocks: `p1reader ...` (not
 * its `parse` and `healthcheck` commands or `--version`), `deno task start ...` and
 * `deno task demo ...`.
 * Backslash continuations are joined; a trailing `# comment` is dropped. Blocks without a shell
 * language (`sh`, `bash`, `console`) are left alone: they show output or a deliberate mistake.
 */
function serviceCommands(text: string): { line: string; args: string[] }[] {
  const commands: { line: string; args: string[] }[] = [];
  for (const [, block] of text.matchAll(/^```(?:sh|bash|console)\n([\s\S]*?)^```$/gm)) {
    const lines = block!.replace(/\\\n\s*/g, "").split("\n");
    for (const raw of lines) {
      const line = raw.replace(/^\$ /, "").replace(/\s+#.*$/, "").trim();
      const match = /^(?:p1reader|deno task (?:start|demo))(?:\s+(.*))?$/.exec(line);
      if (!match) continue;
      const args = (match[1] ?? "").split(/\s+/).filter((arg) => arg !== "");
      if (["parse", "healthcheck", "--version", "-V"].includes(args[0] ?? "")) continue;
      if (args[0] === "serve") args.shift();
      const demo = line.startsWith("deno task demo") ? ["--source", "demo"] : [];
      commands.push({ line, args: [...demo, ...args] });
    }
  }
  return commands;
}

Deno.test("every service command line in the README and docs/ is accepted as written", () => {
  const refused: string[] = [];
  let count = 0;
  for (const page of PAGES) {
    for (const { line, args } of serviceCommands(read(page))) {
      count++;
      try {
        parseConfig({ args, env: {} });
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error;
        refused.push(`${page}: ${line}\n    ${error.message}`);
      }
    }
  }
  assert.deepEqual(refused, []);
  assert.ok(count >= 8, `only ${count} command lines found: is the pattern still right?`);
});

Deno.test("every environment name the README and docs/ mention is one the service reads", () => {
  const known = new Set(OPTIONS.flatMap((option) => [option.env, ...(option.original ?? [])]));
  const unknown: string[] = [];
  for (const page of PAGES) {
    const text = read(page);
    const names = text.matchAll(
      /\b(P1READER_[A-Z0-9_]+|P1ReceiverSettings__\w+|DsmrReaderPublisherSettings__\w+)/g,
    );
    for (const [name] of names) {
      // `P1READER_...` and `P1ReceiverSettings__` stand for every name; they are no typo.
      if (!known.has(name) && !name.endsWith("_")) unknown.push(`${page}: ${name}`);
    }
  }
  assert.deepEqual(unknown, []);
});
