import assert from "node:assert/strict";
import { createLogger, redactUrl } from "../lib/log.ts";

/** The one line `write` logs. */
function lineOf(
  format: "text" | "json",
  write: (log: ReturnType<typeof createLogger>) => void,
): string {
  const lines: string[] = [];
  write(createLogger({ format, write: (line) => lines.push(line) }));
  assert.equal(lines.length, 1);
  return lines[0]!;
}

Deno.test("redactUrl() hides the user and password of every URL in a text, valid or not", () => {
  assert.equal(redactUrl("http://user:pass@host:7777/dsmr"), "http://***@host:7777/dsmr");
  assert.equal(redactUrl("mqtt://p1:pw@host:99999"), "mqtt://***@host:99999");
  assert.equal(redactUrl("https://TOKEN@example.org/"), "https://***@example.org/");
  assert.equal(
    redactUrl("http://u:p@ss@host/"),
    "http://***@host/",
    "an unencoded @ in the password",
  );
  assert.equal(
    redactUrl('cannot reach "http://a:b@x/" nor ws://c:d@y'),
    'cannot reach "http://***@x/" nor ws://***@y',
  );
  assert.equal(
    redactUrl("http://host:80/path?mail=me@example.org"),
    "http://host:80/path?mail=me@example.org",
  );
  assert.equal(redactUrl("write to me@example.org"), "write to me@example.org");
});

Deno.test("the logger hides URL credentials in the message and in every field, in text lines", () => {
  const line = lineOf("text", (log) =>
    log.error("push to http://u:s3cret@h/ failed", {
      url: "http://u:s3cret@h/",
      error: new TypeError("error sending request for url (http://u:s3cret@h/api)"),
      nested: { broker: "mqtt://p1:s3cret@b", password: "s3cret" },
    }));
  assert.ok(!line.includes("s3cret"), line);
  assert.match(line, /ERROR push to http:\/\/\*\*\*@h\/ failed url="http:\/\/\*\*\*@h\/" /);
  assert.match(line, /nested=\{"broker":"mqtt:\/\/\*\*\*@b","password":"\*\*\*"\}/);
});

Deno.test("the logger hides URL credentials and secret fields at any depth, in JSON lines", () => {
  const line = lineOf("json", (log) =>
    log.warn("retrying http://u:s3cret@h/", {
      url: "http://u:s3cret@h/",
      apiKey: "s3cret",
      request: { headers: { authorization: "Token s3cret" }, urls: ["ws://a:s3cret@b"] },
    }));
  assert.ok(!line.includes("s3cret"), line);
  const parsed = JSON.parse(line);
  assert.equal(parsed.msg, "retrying http://***@h/");
  assert.equal(parsed.url, "http://***@h/");
  assert.equal(parsed.apiKey, "***");
  assert.deepEqual(parsed.request, { headers: { authorization: "***" }, urls: ["ws://***@b"] });
});
