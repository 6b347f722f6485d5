/**
 * Real time-series databases for tests: Debian's `influxd` (InfluxDB 1.6) and
 * `victoria-metrics`, each on free loopback ports with its files in a temporary directory,
 * stopped and started again like a crash or a reboot, and queried back.
 *
 * @module
 */

/** A running database. */
export interface TimeSeriesDb {
  /** Its HTTP base URL, `http://127.0.0.1:PORT`. */
  url: string;
  /** Stops it (SIGTERM); its data stays. */
  stop(): Promise<void>;
  /** Starts it again on the same port with the same data. */
  start(): Promise<void>;
  /** Stops it and removes its files. */
  dispose(): Promise<void>;
}

/** InfluxDB 1.6 with its query helpers. */
export interface Influxd extends TimeSeriesDb {
  /** The admin user and password (when started with `auth`). */
  user: string;
  password: string;
  /** Runs InfluxQL; returns the `results` array of the answer. */
  query(q: string, db?: string): Promise<InfluxResult[]>;
  /** Rows of a `SELECT` as objects by column, with `time` in seconds. */
  select(q: string, db: string): Promise<Record<string, unknown>[]>;
  /** Points written through HTTP since start (`SHOW STATS` httpd `pointsWrittenOK`). */
  pointsWritten(): Promise<number>;
}

/** One statement's result of an InfluxQL answer. */
export interface InfluxResult {
  series?: {
    name: string;
    tags?: Record<string, string>;
    columns: string[];
    values: unknown[][];
  }[];
  error?: string;
}

/** VictoriaMetrics with its query helpers. */
export interface VictoriaMetrics extends TimeSeriesDb {
  /** Every sample of the series matching a selector, by series, after a flush. */
  exportSeries(selector: string): Promise<VmSeries[]>;
  /** Rows inserted through line protocol since start (`vm_rows_inserted_total{type="influx"}`). */
  rowsInserted(): Promise<number>;
}

/** One series of VictoriaMetrics' `/api/v1/export`. */
export interface VmSeries {
  metric: Record<string, string>;
  values: number[];
  timestamps: number[];
}

/** Whether both databases are installed (CI installs them through .ci/run). */
export function haveTimeSeriesDbs(): boolean {
  for (const command of ["influxd", "victoria-metrics"]) {
    try {
      new Deno.Command(command, { args: ["-h"], stdout: "null", stderr: "null" }).outputSync();
    } catch {
      return false;
    }
  }
  return true;
}

/** A free loopback port (free now; the database binds it a moment later). */
function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** A database process that can be stopped and started again with the same arguments. */
function processOf(
  command: string,
  args: string[],
  ready: () => Promise<boolean>,
): { start(): Promise<void>; stop(): Promise<void>; log(): string } {
  let child: Deno.ChildProcess | undefined;
  let output = "";
  let reading: Promise<void> | undefined;
  return {
    async start() {
      if (child) return; // running
      child = new Deno.Command(command, { args, stdout: "null", stderr: "piped" }).spawn();
      const stderr = child.stderr;
      reading = (async () => {
        for await (const text of stderr.pipeThrough(new TextDecoderStream())) {
          output = (output + text).slice(-20_000);
        }
      })();
      let exited = false;
      child.status.then(() => (exited = true));
      const deadline = Date.now() + 60_000;
      while (!(await ready())) {
        if (exited || Date.now() > deadline) {
          throw new Error(`${command} did not start:\n${output}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    async stop() {
      if (!child) return;
      child.kill("SIGTERM");
      await child.status;
      await reading;
      child = undefined;
    },
    log: () => output,
  };
}

async function answers(url: string): Promise<boolean> {
  try {
    const response = await fetch(url);
    await response.body?.cancel();
    return response.status < 500;
  } catch {
    return false;
  }
}

/**
 * Starts InfluxDB 1.6 with authentication on, an admin user, and the given databases.
 *
 * @param options Databases to create, and the most bytes a write may have.
 */
export async function startInfluxd(
  options: { databases?: string[]; maxBodySize?: number } = {},
): Promise<Influxd> {
  const dir = await Deno.makeTempDir({ prefix: "p1-influxd-" });
  const http = freePort();
  const config = [
    "reporting-enabled = false",
    `bind-address = "127.0.0.1:${freePort()}"`,
    "[meta]",
    `  dir = "${dir}/meta"`,
    "  logging-enabled = false",
    "[data]",
    `  dir = "${dir}/data"`,
    `  wal-dir = "${dir}/wal"`,
    "  query-log-enabled = false",
    "[monitor]",
    "  store-enabled = false",
    "[http]",
    `  bind-address = "127.0.0.1:${http}"`,
    "  auth-enabled = true",
    "  log-enabled = false",
    `  max-body-size = ${options.maxBodySize ?? 25_000_000}`,
    "",
  ].join("\n");
  await Deno.writeTextFile(`${dir}/influxdb.conf`, config);
  const url = `http://127.0.0.1:${http}`;
  const server = processOf(
    "influxd",
    ["-config", `${dir}/influxdb.conf`],
    () => answers(`${url}/ping`),
  );
  const user = "admin";
  const password = 'admin password, with: odd "characters"';
  const query = async (q: string, db?: string): Promise<InfluxResult[]> => {
    const body = new URLSearchParams({ q, ...(db ? { db } : {}), epoch: "s" });
    const response = await fetch(`${url}/query`, {
      method: "POST",
      body,
      headers: { Authorization: `Basic ${btoa(`${user}:${password}`)}` },
    });
    const answer = await response.json();
    if (!response.ok) {
      throw new Error(`InfluxQL ${q}: ${response.status} ${JSON.stringify(answer)}`);
    }
    return answer.results;
  };
  await server.start();
  // With no user yet, InfluxDB takes the first admin without credentials.
  const created = await fetch(`${url}/query`, {
    method: "POST",
    body: new URLSearchParams({
      q: `CREATE USER ${user} WITH PASSWORD '${
        password.replaceAll("'", "\\'")
      }' WITH ALL PRIVILEGES`,
    }),
  });
  if (!created.ok) throw new Error(`cannot create the admin: ${await created.text()}`);
  await created.body?.cancel();
  for (const db of options.databases ?? []) await query(`CREATE DATABASE "${db}"`);
  return {
    url,
    user,
    password,
    query,
    async select(q, db) {
      const [result] = await query(q, db);
      if (result?.error) throw new Error(`InfluxQL ${q}: ${result.error}`);
      return (result?.series ?? []).flatMap((series) =>
        series.values.map((row) => ({
          ...series.tags,
          ...Object.fromEntries(series.columns.map((column, i) => [column, row[i]])),
        }))
      );
    },
    async pointsWritten() {
      const [result] = await query("SHOW STATS FOR 'httpd'");
      const series = result?.series?.[0];
      const column = series?.columns.indexOf("pointsWrittenOK") ?? -1;
      return Number(series?.values[0]?.[column] ?? 0);
    },
    start: () => server.start(),
    stop: () => server.stop(),
    async dispose() {
      await server.stop();
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** Starts VictoriaMetrics, keeping samples for 100 years (the corpus is years old). */
export async function startVictoriaMetrics(): Promise<VictoriaMetrics> {
  const dir = await Deno.makeTempDir({ prefix: "p1-victoria-" });
  const port = freePort();
  const url = `http://127.0.0.1:${port}`;
  const server = processOf(
    "victoria-metrics",
    [
      `-httpListenAddr=127.0.0.1:${port}`,
      `-storageDataPath=${dir}`,
      "-retentionPeriod=100y",
      "-loggerLevel=ERROR",
    ],
    () => answers(`${url}/health`),
  );
  await server.start();
  return {
    url,
    async exportSeries(selector) {
      const flushed = await fetch(`${url}/internal/force_flush`);
      await flushed.body?.cancel();
      const response = await fetch(`${url}/api/v1/export`, {
        method: "POST",
        body: new URLSearchParams({ "match[]": selector }),
      });
      const text = await response.text();
      if (!response.ok) throw new Error(`export ${selector}: ${response.status} ${text}`);
      return text.split("\n").filter((line) => line !== "").map((line) => JSON.parse(line));
    },
    async rowsInserted() {
      const text = await (await fetch(`${url}/metrics`)).text();
      const match = /^vm_rows_inserted_total\{type="influx"\} (\d+)$/m.exec(text);
      return Number(match?.[1] ?? 0);
    },
    start: () => server.start(),
    stop: () => server.stop(),
    async dispose() {
      await server.stop();
      await Deno.remove(dir, { recursive: true });
    },
  };
}
