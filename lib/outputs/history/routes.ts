/**
 * The history's routes: `GET /api/v1/usage` (JSON), `GET /api/v1/usage.csv` (the same as a
 * spreadsheet) and `GET /api/v1/history` (the dashboard's per-minute points and today's usage).
 * They read the parameters, ask the history and shape the answer; a bad parameter gets 400 with
 * the reason, a database that cannot be read 503.
 *
 * @module
 */

import type { Context, Hono } from "hono";
import type { HistoryAnswer } from "./memory.ts";
import { type UsageAnswer, usageCsv, UsageQueryError } from "./usage.ts";

/** What `/api/v1/history` asks: the history in the database, or the one in memory. */
export interface RecentQueries {
  /** The last minutes and today's usage. */
  history(minutes: number): HistoryAnswer;
}

/** What the routes ask. */
export interface HistoryQueries extends RecentQueries {
  /** Usage per step, from the parameters `from`, `to` and `step`. */
  usage(params: { from?: string; to?: string; step?: string }): UsageAnswer;
}

const USAGE_PARAMETERS = ["from", "to", "step"];

/** The most minutes `/api/v1/history` answers: two days, like the dashboard's longest chart. */
export const MAX_HISTORY_MINUTES = 2880;

function badRequest(c: Context, reason: string): Response {
  return c.json({ error: "bad request", reason }, 400);
}

function unavailable(c: Context, error: unknown): Response {
  return c.json({ error: "history unavailable", reason: (error as Error).message }, 503);
}

/** Why a request that names a parameter more than once is refused (which one would count?). */
function repeatedParameter(c: Context): string | undefined {
  const [name, values] = Object.entries(c.req.queries()).find(([, values]) => values.length > 1) ??
    [];
  return name === undefined
    ? undefined
    : `parameter "${name}" is given ${values!.length} times: give it once`;
}

/** The usage answer of a request, or the response that refuses it. */
function answerUsage(c: Context, history: HistoryQueries): UsageAnswer | Response {
  const repeated = repeatedParameter(c);
  if (repeated) return badRequest(c, repeated);
  const params = c.req.query();
  const unknown = Object.keys(params).filter((name) => !USAGE_PARAMETERS.includes(name));
  if (unknown.length > 0) {
    return badRequest(
      c,
      `unknown parameter ${unknown.map((name) => `"${name}"`).join(", ")}: ` +
        `the parameters are ${USAGE_PARAMETERS.join(", ")}`,
    );
  }
  try {
    return history.usage(params);
  } catch (error) {
    if (error instanceof UsageQueryError) return badRequest(c, error.message);
    return unavailable(c, error);
  }
}

/**
 * Adds the routes.
 *
 * @param app The app.
 * @param history What they read.
 */
export function historyRoutes(app: Hono, history: HistoryQueries): void {
  app.get("/api/v1/usage", (c) => {
    const answer = answerUsage(c, history);
    return answer instanceof Response ? answer : c.json(answer);
  });

  app.get("/api/v1/usage.csv", (c) => {
    const answer = answerUsage(c, history);
    if (answer instanceof Response) return answer;
    c.header("Content-Type", "text/csv; charset=utf-8");
    c.header(
      "Content-Disposition",
      `attachment; filename="usage-${answer.from}-${answer.to}-${answer.step}.csv"`,
    );
    return c.body(usageCsv(answer));
  });

  recentRoute(app, history);
}

/**
 * Adds `GET /api/v1/history`, the dashboard's charts.
 *
 * @param app The app.
 * @param history What it reads.
 */
export function recentRoute(app: Hono, history: RecentQueries): void {
  app.get("/api/v1/history", (c) => {
    const repeated = repeatedParameter(c);
    if (repeated) return badRequest(c, repeated);
    const text = c.req.query("minutes") ?? "60";
    const minutes = Number(text);
    if (!/^\d+$/.test(text) || minutes < 1 || minutes > MAX_HISTORY_MINUTES) {
      return badRequest(
        c,
        `minutes must be a whole number from 1 to ${MAX_HISTORY_MINUTES}, not "${text}"`,
      );
    }
    try {
      return c.json(history.history(minutes));
    } catch (error) {
      return unavailable(c, error);
    }
  });
}
