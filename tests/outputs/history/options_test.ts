import assert from "node:assert/strict";
import { type Config, ConfigError, parseConfig } from "../../../lib/config.ts";
import { priceOn, readPriceSchedule } from "../../../lib/outputs/history/prices.ts";
import { runMain } from "../../support/run.ts";
import { SERVE_PERMISSIONS } from "../../support/server.ts";

function config(args: string[], env: Record<string, string> = {}, file?: string): Config {
  const result = parseConfig({
    args: file === undefined ? args : ["--config", "p1.json", ...args],
    env,
    readTextFile: () => file ?? "",
  });
  assert.notEqual(result, "help");
  return result as Config;
}

function refused(args: string[], message: RegExp, file?: string): void {
  assert.throws(() => config(args, {}, file), (error: unknown) => {
    assert.ok(error instanceof ConfigError, String(error));
    assert.match(error.message, message);
    return true;
  });
}

Deno.test("the history is on by default, in --data-dir, with a month of minutes and no prices", () => {
  assert.deepEqual(config([]).history, {
    database: undefined,
    minuteDays: 31,
    prices: { currency: "EUR", import: {}, export: {} },
  });
  assert.equal(config(["--history", "off"]).history, undefined);
  assert.equal(config([], { P1READER_HISTORY: "false" }).history, undefined);
  assert.equal(config(["--history-db", "/srv/p1.sqlite"]).history?.database, "/srv/p1.sqlite");
});

Deno.test("prices come from options and the environment, each with the dates it changes", () => {
  const prices = config(
    [
      "--price-import-t1",
      "0.25, 2025-04-01=0.27",
      "--price-gas",
      "1.30",
      "--price-currency",
      "sek",
    ],
    { P1READER_PRICE_EXPORT: "-0.02", P1READER_PRICE_FIXED: "2025-01-01=0.90" },
  ).history!.prices;
  assert.deepEqual(prices, {
    currency: "SEK",
    import: { t1: [{ price: 0.25 }, { from: "2025-04-01", price: 0.27 }] },
    export: { all: [{ price: -0.02 }] },
    gas: [{ price: 1.3 }],
    fixed: [{ from: "2025-01-01", price: 0.9 }],
  });
  assert.equal(priceOn(prices.import.t1, "2025-03-31"), 0.25);
  assert.equal(priceOn(prices.import.t1, "2025-04-01"), 0.27);
  assert.equal(priceOn(prices.fixed, "2024-12-31"), undefined, "no price before the first date");
});

Deno.test("a --config file sets prices in a section of their own", () => {
  const file = `{
    // Our energy contract
    "price": { "import-t1": "0.25,2025-04-01=0.27", "import-t2": 0.3, "gas": 1.3 },
    "history-minute-days": 62
  }`;
  const history = config([], {}, file).history!;
  assert.equal(history.minuteDays, 62);
  assert.deepEqual(history.prices.import, {
    t1: [{ price: 0.25 }, { from: "2025-04-01", price: 0.27 }],
    t2: [{ price: 0.3 }],
  });
  assert.deepEqual(history.prices.gas, [{ price: 1.3 }]);
  refused(
    [],
    /Unknown setting "gass" in the "price" section of "p1\.json" \(did you mean gas\?\)/,
    `{"price": {"gass": 1}}`,
  );
});

Deno.test("a bad price stops start-up with a message naming the option and the entry", () => {
  refused(["--price-gas", "cheap"], /--price-gas "cheap": "cheap" is not a price/);
  refused(
    ["--price-import", "0,28"],
    /--price-import "0,28": "28": every price after the first needs the date.*0\.28, not 0,28/,
  );
  refused(["--price-export", "0.1,2025-02-30=0.2"], /"2025-02-30" is not a date/);
  refused(["--price-fixed", "2025-05-01=1,2025-04-01=2"], /dates must increase/);
  refused(
    ["--price-currency", "euro"],
    /--price-currency "euro": expected a currency code like EUR/,
  );
  refused(["--history", "maybe"], /--history "maybe": expected true or false/);
  refused(
    ["--history-minute-days", "0"],
    /--history-minute-days "0": expected a whole number of days/,
  );
  assert.deepEqual(readPriceSchedule("2025-01-01=0.30"), [{ from: "2025-01-01", price: 0.3 }]);
});

Deno.test("the service refuses a bad price with exit status 2 before it starts", async () => {
  const result = await runMain(["serve", "--source", "demo", "--price-gas", "1,35"], {
    permissions: SERVE_PERMISSIONS,
  });
  assert.equal(result.code, 2);
  assert.match(result.stderr, /--price-gas "1,35"/);
});

Deno.test("the service refuses a history database it cannot create, naming the option", async () => {
  const dir = await Deno.makeTempDir({ prefix: "history-options-" });
  try {
    await Deno.writeTextFile(`${dir}/file`, "a file, not a directory");
    const result = await runMain(
      ["serve", "--source", "demo", "--port", "0", "--history-db", `${dir}/file/history.sqlite`],
      { permissions: SERVE_PERMISSIONS },
    );
    assert.equal(result.code, 2);
    assert.match(
      result.stderr,
      /--history-db ".*\/file\/history\.sqlite": cannot keep the history/,
    );
    assert.match(result.stderr, /--history off/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
