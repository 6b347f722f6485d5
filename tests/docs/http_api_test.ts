/**
 * docs/http-api.md's route table against the real service before its first telegram: every
 * route it lists answers what it says, and every route the app serves is listed.
 */
import assert from "node:assert/strict";
import { ROOT } from "../support/paths.ts";
import { startServer } from "../support/server.ts";
import { appFor, receiverOf } from "../support/service.ts";

const PAGE = Deno.readTextFileSync(`${ROOT}docs/http-api.md`);
/** The table's rows: `| \`GET /path\` | status | ... |`. */
const ROWS = [...PAGE.matchAll(/^\| `GET (\S+)`\s*\| (\d{3})\s/gm)].map(([, path, status]) => ({
  path: path!,
  status: Number(status),
}));

Deno.test("docs/http-api.md lists every route the app serves", async () => {
  const app = appFor(await receiverOf());
  const served = new Set(app.routes.filter((r) => r.method === "GET").map((r) => r.path));
  assert.deepEqual(new Set(ROWS.map((row) => row.path)), served);
});

Deno.test({
  name: "every route answers what docs/http-api.md says before the first telegram",
  sanitizeResources: false,
  sanitizeOps: false,
}, async () => {
  // A TCP peer that refuses: the service keeps retrying and never has a telegram.
  const refusing = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = refusing.addr.port;
  refusing.close();
  const service = await startServer(["--source", `tcp://127.0.0.1:${port}`]);
  try {
    const answers: Record<string, number> = {};
    for (const { path } of ROWS) {
      const response = await fetch(`${service.url}${path}`, { headers: { accept: "*/*" } });
      answers[path] = response.status;
      await response.body?.cancel();
    }
    assert.deepEqual(answers, Object.fromEntries(ROWS.map((row) => [row.path, row.status])));

    const other = /Other methods answer (\d{3})/.exec(PAGE);
    assert.ok(other, "the page says what other methods answer");
    const post = await fetch(`${service.url}/api`, { method: "POST" });
    await post.body?.cancel();
    assert.equal(post.status, Number(other[1]));

    const browser = await fetch(`${service.url}/`, {
      headers: { accept: "text/html,application/xhtml+xml" },
      redirect: "manual",
    });
    await browser.body?.cancel();
    // The page promises a relative location, so a proxy's path prefix is kept.
    assert.deepEqual([browser.status, browser.headers.get("location")], [302, "ui"]);
  } finally {
    await service.stop();
  }
});
