import assert from "node:assert/strict";
import { type Config, parseConfig } from "../../../lib/config.ts";
import { createService } from "../../../lib/service.ts";
import { captureOf, generateStates } from "../../support/history_capture.ts";

/** The bytes of the database and its write-ahead log on disk. */
function bytesOnDisk(database: string): number {
  return [database, `${database}-wal`].reduce((sum, file) => {
    try {
      return sum + Deno.statSync(file).size;
    } catch {
      return sum; // no write-ahead log at the moment
    }
  }, 0);
}

Deno.test("the history's status and /metrics give the database's size as written last", async () => {
  const dir = await Deno.makeTempDir({ prefix: "history-status-" });
  const capture = `${dir}/capture.txt`;
  await Deno.writeTextFile(
    capture,
    captureOf(generateStates({
      start: Date.UTC(2025, 4, 1, 22, 0, 30),
      end: Date.UTC(2025, 4, 2, 22),
      stepMs: 60_000,
    })),
  );
  const config = parseConfig({
    args: ["--source", `file:${capture}`, "--data-dir", dir],
    env: {},
  }) as Config;
  const service = createService(config);
  try {
    await service.start();
    await service.receiver.finished;
    const status = (await (await service.app.request("/api/v1/status")).json()).history;
    assert.equal(status.pendingMinutes, 0);
    assert.ok(status.minutesWritten > 1000, `${status.minutesWritten} minutes written`);
    assert.equal(status.databaseBytes, bytesOnDisk(`${dir}/history.sqlite`));
    const metrics = await (await service.app.request("/metrics")).text();
    assert.match(metrics, new RegExp(`^p1_history_database_bytes ${status.databaseBytes}$`, "m"));
  } finally {
    await service.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
