/**
 * What the InfluxDB output's service tests share: a capture of real telegrams (our fixtures, the
 * shared corpus, a run of the demo meter), the points the service must write for it, and those
 * points as InfluxDB 1.6 and VictoriaMetrics give them back.
 *
 * @module
 */

import type { FieldValue, Point } from "../../../lib/outputs/influx/line_protocol.ts";
import { telegramPoints } from "../../../lib/outputs/influx/points.ts";
import { P1Receiver, type ReceivedTelegram } from "../../../lib/receiver.ts";
import { FileSource } from "../../../lib/source/file.ts";
import { concat } from "../../support/helpers.ts";
import { CORPUS, fixture } from "../../support/paths.ts";
import type { Influxd, VmSeries } from "../../support/timeseries_db.ts";
import { demoCapture } from "../dsmr_reader/service_support.ts";

/** A capture and what the service must write for it. */
export interface InfluxCapture {
  /** The capture file. */
  path: string;
  /** Every point, merged as the database merges points of one series and second. */
  rows: Map<string, Row>;
  /** Every point, in order (VictoriaMetrics keeps each, also two values at one second). */
  points: Point[];
  /** Telegrams the service writes (not every telegram of the file: see `captureOf`). */
  telegrams: number;
}

/** A stored point: measurement, tags, second, fields as the database gives them back. */
export interface Row {
  measurement: string;
  tags: Record<string, string>;
  time: number;
  fields: Record<string, number | string>;
}

function keyOf(measurement: string, tags: Record<string, string>, time: number): string {
  const sorted = Object.keys(tags).sort().map((key) => `${key}=${tags[key]}`);
  return `${measurement}|${sorted.join(",")}|${time}`;
}

/** A string field as InfluxDB 1.x stores it: with line ends and tabs as sent (escaped). */
function stored(field: FieldValue): number | string {
  if (field.kind !== "string") return field.value;
  return field.value.replaceAll("\r", "\\r").replaceAll("\n", "\\n").replaceAll("\t", "\\t");
}

/** Adds a point to the rows, later fields over earlier ones, as InfluxDB does. */
function merge(rows: Map<string, Row>, point: Point): void {
  const tags = Object.fromEntries(Object.entries(point.tags).filter(([, value]) => value !== ""));
  const key = keyOf(point.measurement, tags, point.seconds);
  const row = rows.get(key) ??
    { measurement: point.measurement, tags, time: point.seconds, fields: {} };
  for (const [name, field] of Object.entries(point.fields)) row.fields[name] = stored(field);
  rows.set(key, row);
}

/** The files of the capture: two rich fixtures, every corpus telegram, then the demo meter. */
function captureFiles(): Uint8Array[] {
  const files = [fixture("nl-dsmr50-3phase-4mbus.txt"), fixture("be-emucs-peak.txt")];
  if (CORPUS) {
    for (
      const entry of [...Deno.readDirSync(`${CORPUS}telegrams`)].sort((a, b) =>
        a.name < b.name ? -1 : 1
      )
    ) {
      files.push(`${CORPUS}telegrams/${entry.name}`);
    }
  }
  return files.map((path) => Deno.readFileSync(path));
}

/**
 * Builds a capture and reads it with a receiver as the service will. Each file comes four times in
 * a row: from one meter to the next, the receiver leaves out the telegram where the meter's clock
 * jumps, and takes the next as a new meter when its valid CRC vouches for its new equipment id;
 * without a CRC, it leaves out two more, whose registers are off the previous meter's, and takes the
 * fourth (one that shares its equipment id with the meter before, or has none, stays out).
 * Telegrams without a timestamp are left out of the capture (their time is the moment they arrive,
 * which a test cannot know).
 *
 * @param dir Where to write the capture.
 * @param demoTelegrams How many demo telegrams end it.
 */
export async function captureOf(dir: string, demoTelegrams = 30): Promise<InfluxCapture> {
  const twice = concat(
    ...captureFiles().flatMap((bytes) => [bytes, bytes, bytes, bytes]),
    demoCapture(demoTelegrams).bytes,
  );
  await Deno.writeFile(`${dir}/all.txt`, twice);
  const received: ReceivedTelegram[] = [];
  const all = new P1Receiver({
    source: new FileSource({ path: `${dir}/all.txt` }),
    format: "auto",
  });
  all.subscribe((telegram) => void received.push(telegram));
  all.start();
  await all.finished;
  const timed = received.filter((r) => r.telegram.timestamp !== undefined);
  const path = `${dir}/capture.txt`;
  await Deno.writeFile(path, concat(...timed.map((r) => r.bytes)));
  // The service's receiver sees only the timed telegrams: read them again for its clock checks.
  const kept: ReceivedTelegram[] = [];
  const again = new P1Receiver({ source: new FileSource({ path }), format: "auto" });
  again.subscribe((telegram) => void kept.push(telegram));
  again.start();
  await again.finished;
  const rows = new Map<string, Row>();
  const points: Point[] = [];
  let telegrams = 0;
  for (const r of kept) {
    if (r.implausible) continue;
    telegrams++;
    const { reading, events } = telegramPoints(r.telegram, r.receivedAt);
    points.push(...reading, ...events);
  }
  for (const point of points) merge(rows, point);
  return { path, rows, points, telegrams };
}

/** Every point of a database, as rows. */
export async function influxRows(influxd: Influxd, db: string): Promise<Map<string, Row>> {
  const [result] = await influxd.query("SELECT * FROM /.*/ GROUP BY *", db);
  const rows = new Map<string, Row>();
  for (const series of result?.series ?? []) {
    const tags = Object.fromEntries(Object.entries(series.tags ?? {}).filter(([, v]) => v !== ""));
    for (const values of series.values) {
      const fields: Record<string, number | string> = {};
      let time = 0;
      series.columns.forEach((column, i) => {
        const value = values[i];
        if (column === "time") time = value as number;
        else if (value !== null) fields[column] = value as number | string;
      });
      rows.set(keyOf(series.name, tags, time), { measurement: series.name, tags, time, fields });
    }
  }
  return rows;
}

/**
 * The samples VictoriaMetrics must hold for the points: one series per numeric field, named
 * `measurement_field`, labelled with the tags (and `extra` labels), in milliseconds.
 */
export function victoriaSamples(points: Point[], extra: Record<string, string>): Set<string> {
  const samples = new Set<string>();
  for (const point of points) {
    const tags = Object.fromEntries(Object.entries(point.tags).filter(([, value]) => value !== ""));
    for (const [name, field] of Object.entries(point.fields)) {
      if (field.kind === "string") continue;
      const labels = { ...tags, ...extra };
      samples.add(
        sampleKey(`${point.measurement}_${name}`, labels, point.seconds * 1000, field.value),
      );
    }
  }
  return samples;
}

/** The samples of an export, in the form of {@linkcode victoriaSamples}. */
export function exportedSamples(series: VmSeries[]): Set<string> {
  const samples = new Set<string>();
  for (const { metric, values, timestamps } of series) {
    const { __name__: name, ...labels } = metric;
    values.forEach((value, i) => samples.add(sampleKey(name!, labels, timestamps[i]!, value)));
  }
  return samples;
}

function sampleKey(
  name: string,
  labels: Record<string, string>,
  ms: number,
  value: number,
): string {
  const sorted = Object.keys(labels).sort().map((key) => `${key}=${labels[key]}`);
  return `${name}{${sorted.join(",")}} ${ms} ${value}`;
}
