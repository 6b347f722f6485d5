import assert from "node:assert/strict";
import { pushRequest } from "../../../lib/outputs/dsmr_reader/api.ts";
import { DemoMeter } from "../../../lib/source/demo.ts";
import { FakeDsmrReader } from "../../support/fake_dsmr_reader.ts";
import { concat, waitFor } from "../../support/helpers.ts";
import { startServer } from "../../support/server.ts";

const USER = "p1@home";
const PASSWORD = "s3cr:t";
/** The URL as a user writes it: the proxy's user and password percent-encoded. */
const userinfo = `${encodeURIComponent(USER)}:${encodeURIComponent(PASSWORD)}`;

/** A reverse proxy in front of DSMR reader that wants Basic authentication, as nginx's auth_basic. */
class BasicAuthProxy {
  readonly seen: { authorization: string | null; authKey: string | null }[] = [];
  /** Answer 503, as a proxy whose upstream is down. */
  down = false;
  readonly #server: Deno.HttpServer<Deno.NetAddr>;

  constructor(upstream: string) {
    const expected = `Basic ${btoa(`${USER}:${PASSWORD}`)}`;
    this.#server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      async (request) => {
        const authorization = request.headers.get("authorization");
        this.seen.push({ authorization, authKey: request.headers.get("x-authkey") });
        if (authorization !== expected) {
          return new Response("401 Authorization Required", {
            status: 401,
            headers: { "WWW-Authenticate": 'Basic realm="dsmr"' },
          });
        }
        if (this.down) return new Response("502 Bad Gateway", { status: 502 });
        // Like nginx, pass every header on, the Authorization header included.
        const headers = new Headers(request.headers);
        headers.delete("host");
        const { pathname } = new URL(request.url);
        return await fetch(`${upstream}${pathname}`, {
          method: request.method,
          headers,
          body: await request.arrayBuffer(),
        });
      },
    );
  }

  get port(): number {
    return this.#server.addr.port;
  }

  async stop(): Promise<void> {
    await this.#server.shutdown();
  }
}

Deno.test("pushRequest() sends a proxy's credentials as Basic auth and the key as X-AUTHKEY, never in the URL", () => {
  const { url, init } = pushRequest(`http://${userinfo}@10.0.0.2:8443/dsmr/`, "KEY", {
    api: "v2",
    fields: {},
  });
  assert.equal(url, "http://10.0.0.2:8443/dsmr/api/v2/datalogger/dsmrreading");
  assert.deepEqual(init.headers, {
    Authorization: `Basic ${btoa(`${USER}:${PASSWORD}`)}`,
    "X-AUTHKEY": "KEY",
    "Content-Type": "application/json",
  });
  const utf8 = pushRequest("http://j%C3%B6rg:p%C3%A4ss@10.0.0.2", "K", { api: "v2", fields: {} });
  assert.equal(
    (utf8.init.headers as Record<string, string>).Authorization,
    `Basic ${btoa("j\xc3\xb6rg:p\xc3\xa4ss")}`,
    "user and password decoded, and sent as UTF-8",
  );
  assert.deepEqual(
    pushRequest("http://10.0.0.2:7777", "KEY", { api: "v2", fields: {} }).init.headers,
    {
      Authorization: "Token KEY",
      "Content-Type": "application/json",
    },
  );
});

Deno.test("the service pushes through a proxy with Basic auth and never prints its password", async () => {
  const dir = await Deno.makeTempDir();
  let now = Date.UTC(2024, 2, 1, 12, 0, 0);
  const meter = new DemoMeter({ now: () => now });
  const sent = Array.from({ length: 5 }, () => {
    const telegram = meter.telegram();
    now += 1000;
    return telegram;
  });
  await Deno.writeFile(`${dir}/capture.txt`, concat(...sent));
  const fake = new FakeDsmrReader({ prefix: "/dsmr" }).start();
  const proxy = new BasicAuthProxy(`http://127.0.0.1:${fake.port}`);
  proxy.down = true; // first the push fails, so that it logs its failure with the URL
  const server = await startServer([
    "--source",
    `file:${dir}/capture.txt`,
    "--dsmr-reader-url",
    `http://${userinfo}@127.0.0.1:${proxy.port}/dsmr`,
    "--dsmr-reader-key",
    fake.key,
    "--data-dir",
    `${dir}/data`,
  ]);
  try {
    await waitFor(() => /push failed/.test(server.log()), "the failed push to be logged");
    proxy.down = false;
    await waitFor(() => fake.readings.length === 5, "all 5 telegrams", 30_000);
    const decoder = new TextDecoder("latin1");
    assert.deepEqual(fake.readings.map((r) => r.telegram), sent.map((t) => decoder.decode(t)));
    assert.ok(proxy.seen.every((request) => request.authKey === fake.key), "the key as X-AUTHKEY");
    // DSMR reader stores a reading before the service has counted it: wait for the count itself.
    let status = "";
    for (let i = 0; i < 500 && JSON.parse(status || "{}").dsmrReader?.pushes.delivered !== 5; i++) {
      if (i > 0) await new Promise((resolve) => setTimeout(resolve, 20));
      status = await (await fetch(`${server.url}/api/v1/status`)).text();
    }
    assert.equal(JSON.parse(status).dsmrReader.pushes.delivered, 5, status);
    const printed = server.log() + status;
    for (const secret of [PASSWORD, encodeURIComponent(PASSWORD), fake.key]) {
      assert.ok(!printed.includes(secret), `${secret} printed:\n${printed}`);
    }
    assert.match(
      server.log(),
      new RegExp(`INFO  pushing to DSMR reader .* url="?http://\\*\\*\\*@127`),
    );
  } finally {
    await server.stop();
    await proxy.stop();
    await fake.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
