/**
 * What the InfluxDB output has done, as `/api/v1/status` and `/metrics` show it.
 *
 * @module
 */

import type { QueueStats } from "../queue/queue.ts";
import type { OutputMetric } from "../output.ts";

/** Write requests by what their answer meant. */
export interface WriteCounts {
  /** Accepted (2xx). */
  written: number;
  /** Refused for good (400, 413, 422): split, or the telegram dead-lettered. */
  refused: number;
  /** Needing the user (credentials, no such database, another 4xx): retried after a pause. */
  paused: number;
  /** Failed for now (no answer, 429, 5xx): retried with backoff. */
  retry: number;
}

/** A snapshot of the InfluxDB output. */
export interface InfluxStats {
  /** `v1` (InfluxDB 1.x's `/write`) or `v2` (`/api/v2/write`). */
  api: "v1" | "v2";
  /** `idle`, `sending`, `retrying` or `paused`. */
  state: "idle" | "sending" | "retrying" | "paused";
  /** Write requests by outcome. */
  writes: WriteCounts;
  /** Points the database accepted. */
  pointsWritten: number;
  /** Points refused for good and moved to the dead-letter file. */
  pointsDeadLettered: number;
  /** Telegrams refused for good that could not be written to the dead-letter file either. */
  deadLetterLost: number;
  /** The durable queue (one record per telegram). */
  queue: QueueStats;
  /** When the database last accepted a write (ms since the epoch). */
  lastSuccessAt: number | undefined;
}

/**
 * The status JSON of the output.
 *
 * @param stats A snapshot.
 * @param now The clock.
 * @returns Its part of `/api/v1/status`.
 */
export function influxStatus(stats: InfluxStats, now: number) {
  const { queue, lastSuccessAt, deadLetterLost, ...rest } = stats;
  return {
    ...rest,
    queueLength: queue.length,
    queueBytes: queue.bytes,
    oldestQueuedAgeSeconds: queue.oldestQueuedAt === undefined
      ? null
      : (now - queue.oldestQueuedAt) / 1000,
    dropped: queue.dropped,
    lost: queue.lost + deadLetterLost,
    overrun: queue.overrun,
    corruptSkipped: queue.corrupt,
    queueWriteError: queue.writeError ?? null,
    lastSuccessAt: lastSuccessAt === undefined ? null : new Date(lastSuccessAt).toISOString(),
  };
}

/** The output's `/metrics` families. */
export const INFLUX_METRICS: readonly OutputMetric<InfluxStats>[] = [
  {
    name: "p1_influx_writes_total",
    help: "Write requests to InfluxDB or VictoriaMetrics, by outcome",
    type: "counter",
    read: (s) =>
      (["written", "refused", "paused", "retry"] as const).map((result) => ({
        labels: { result },
        value: s.writes[result],
      })),
  },
  {
    name: "p1_influx_points_written_total",
    help: "Points the database accepted",
    type: "counter",
    read: (s) => [{ value: s.pointsWritten }],
  },
  {
    name: "p1_influx_points_dead_lettered_total",
    help: "Points the database refused for good, moved to the dead-letter file",
    type: "counter",
    read: (s) => [{ value: s.pointsDeadLettered }],
  },
  {
    name: "p1_influx_queued_telegrams",
    help: "Telegrams waiting to be written",
    type: "gauge",
    read: (s) => [{ value: s.queue.length }],
  },
  {
    name: "p1_influx_queued_bytes",
    help: "Bytes of the telegrams waiting to be written",
    type: "gauge",
    read: (s) => [{ value: s.queue.bytes }],
  },
  {
    name: "p1_influx_oldest_queued_age_seconds",
    help: "How long the oldest waiting telegram has waited",
    type: "gauge",
    read: (s) => [{
      value: s.queue.oldestQueuedAt === undefined
        ? 0
        : (Date.now() - s.queue.oldestQueuedAt) / 1000,
    }],
  },
  {
    name: "p1_influx_dropped_total",
    help: "Telegrams dropped because the InfluxDB queue was full",
    type: "counter",
    read: (s) => [{ value: s.queue.dropped }],
  },
  {
    name: "p1_influx_lost_total",
    help: "Telegrams lost because they could not be written to the queue or dead-letter file",
    type: "counter",
    read: (s) => [{ value: s.queue.lost + s.deadLetterLost }],
  },
  {
    name: "p1_influx_overrun_total",
    help: "Telegrams not queued because they came faster than the disk took them",
    type: "counter",
    read: (s) => [{ value: s.queue.overrun }],
  },
  {
    name: "p1_influx_corrupt_skipped_total",
    help: "Queued telegrams skipped because their record in the queue file was damaged",
    type: "counter",
    read: (s) => [{ value: s.queue.corrupt }],
  },
  {
    name: "p1_influx_last_success_timestamp_seconds",
    help: "When the database last accepted a write",
    type: "gauge",
    read: (s) => (s.lastSuccessAt === undefined ? [] : [{ value: s.lastSuccessAt / 1000 }]),
  },
];
