import assert from "node:assert/strict";
import { type Config, parseConfig } from "../../lib/config.ts";
import { P1Receiver } from "../../lib/receiver.ts";
import { createService } from "../../lib/service.ts";
import { FileSource } from "../../lib/source/file.ts";
import { DASHBOARD_SCRIPT } from "../../lib/ui/page.ts";
import { appFor, receiverOf } from "../support/service.ts";
import { fixture } from "../support/paths.ts";

Deno.test("GET / sends browsers to the dashboard and keeps giving API clients JSON", async () => {
  const app = appFor(await receiverOf("nl-dsmr50-3phase-4mbus.txt"));
  const browser = await app.request("/", {
    headers: { accept: "text/html,application/xhtml+xml,*/*;q=0.8" },
  });
  assert.equal(browser.status, 302);
  const location = browser.headers.get("location")!;
  assert.equal(new URL(location, "http://x/").pathname, "/ui");
  assert.equal(new URL(location, "http://x/p1/").pathname, "/p1/ui", "behind a path prefix");
  const curl = await app.request("/", { headers: { accept: "*/*" } });
  assert.equal(curl.status, 200);
  assert.equal((await curl.json()).electricityUsageLow, 12345.678);
});

Deno.test("GET /ui is a page with no inline script or style and nothing from another host", async () => {
  const app = appFor(await receiverOf());
  const response = await app.request("/ui");
  assert.match(response.headers.get("content-type")!, /^text\/html/);
  const html = await response.text();
  assert.match(html, /<title>P1 meter<\/title>/);
  assert.ok(!/(src|href)="(https?:)?\/\//.test(html), "no CDN or external asset");
  assert.deepEqual(
    [...html.matchAll(/<script\b[^>]*>/g)].map((m) => m[0]),
    ['<script src="ui/app.js" defer>'],
  );
  assert.ok(!/<style|\sstyle=|\son\w+=/.test(html), "no inline style or event handler");
  const script = await app.request("/ui/app.js");
  assert.equal(script.headers.get("content-type"), "text/javascript; charset=utf-8");
  assert.match(await script.text(), /new EventSource\("api\/v1\/stream"\)/);
  const style = await app.request("/ui/app.css");
  assert.equal(style.headers.get("content-type"), "text/css; charset=utf-8");
  assert.match(await style.text(), /^:root \{/);
});

Deno.test("the page's script writes no markup: meter text only ever becomes text", () => {
  assert.ok(
    !/innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function/.test(
      DASHBOARD_SCRIPT,
    ),
  );
});

Deno.test("GET /ui/ sends the browser to /ui, where its relative links resolve", async () => {
  const response = await appFor(await receiverOf()).request("/ui/");
  assert.equal(response.status, 301);
  assert.equal(new URL(response.headers.get("location")!, "http://x/ui/").pathname, "/ui");
});

Deno.test("with --history off, GET /api/v1/history checks minutes and answers from memory", async () => {
  const receiver = new P1Receiver({
    source: new FileSource({ path: fixture("nl-dsmr50-3phase-4mbus.txt") }),
  });
  const config = parseConfig({ args: ["--history", "off"], env: {} }) as Config;
  const service = createService(config, { receiver });
  await service.start();
  await receiver.finished;
  const app = service.app;
  assert.equal((await app.request("/api/v1/history?minutes=0")).status, 400);
  const bad = await app.request("/api/v1/history?minutes=lots");
  assert.equal(bad.status, 400);
  assert.match(
    (await bad.json()).reason,
    /minutes must be a whole number from 1 to 2880, not "lots"/,
  );
  const hour = await (await app.request("/api/v1/history?minutes=60")).json();
  assert.equal(hour.resolution, "telegram");
  assert.equal(hour.points[0].importW, 1193);
  assert.equal(
    (await (await app.request("/api/v1/history?minutes=2880")).json()).resolution,
    "minute",
  );
  await service.stop();
});

/** Reads server-sent events until none arrives for `idleMs`. */
async function readEvents(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  idleMs: number,
): Promise<{ event: string; data: string }[]> {
  const decoder = new TextDecoder();
  let text = "";
  while (true) {
    const timeout = new Promise<null>((resolve) => setTimeout(() => resolve(null), idleMs));
    const chunk = await Promise.race([reader.read(), timeout]);
    if (chunk === null || chunk.done) break;
    text += decoder.decode(chunk.value);
  }
  return text.split("\n\n").filter((block) => block.startsWith("event:")).map((block) => ({
    event: /^event: (.*)$/m.exec(block)![1]!,
    data: /^data: (.*)$/m.exec(block)![1]!,
  }));
}

Deno.test("GET /api/v1/stream sends status and telegrams; a client that does not read only loses events", async () => {
  const receiver = new P1Receiver({
    source: new FileSource({
      path: fixture("nl-dsmr50-3phase-4mbus.txt"),
      intervalSeconds: 0.001,
      loop: true,
    }),
  });
  const service = createService(parseConfig({ args: [], env: {} }) as Config, { receiver });
  await service.start();
  const response = await service.app.request("/api/v1/stream");
  assert.equal(response.headers.get("content-type"), "text/event-stream");
  const reader = response.body!.getReader();
  // This client reads nothing while the meter floods it with telegrams.
  while (receiver.counters.telegramsOk < 300) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  await receiver.stop(); // then read what was kept for it
  const events = await readEvents(reader, 200);
  assert.equal(events[0]!.event, "status");
  const telegrams = events.filter((e) => e.event === "telegram");
  assert.ok(
    telegrams.length >= 1 && telegrams.length <= 40,
    `${telegrams.length} events were kept for it`,
  );
  assert.equal(JSON.parse(telegrams[0]!.data).phases.l2.voltage.value, 229.8);
  assert.ok(receiver.counters.telegramsOk >= 300, "the reader went on");
  await service.stop();
  await reader.cancel();
});
