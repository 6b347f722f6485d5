/**
 * DSMR reader's datalogger API: the v1 request (the raw telegram as the form field `telegram`),
 * the v2 fields, and what each answer means for the push (ECOSYSTEM.md section 1).
 *
 * @module
 */

import { gasDevice, twoTariffs } from "../../dsmr/derive.ts";
import type { Telegram } from "../../dsmr/model.ts";
import { splitCredentials } from "../credentials.ts";
import type { DeliveryOutcome } from "../queue/delivery.ts";

/** Which API to push to. */
export type DsmrReaderApi = "v1" | "v2";

/** What to send for one telegram. */
export type PushItem =
  | { api: "v1"; telegram: string }
  | { api: "v2"; fields: Record<string, string | number> };

const PATHS: Record<DsmrReaderApi, string> = {
  v1: "/api/v1/datalogger/dsmrreading",
  v2: "/api/v2/datalogger/dsmrreading",
};

/**
 * The endpoint for an API version under a base URL (a path prefix, as behind a reverse proxy,
 * is kept; DSMR reader refuses a trailing slash).
 *
 * @param baseUrl For example `http://192.168.1.99:7777` or `https://example.org/dsmr/`.
 * @param api The API version.
 * @returns The endpoint URL.
 */
export function endpoint(baseUrl: string, api: DsmrReaderApi): string {
  return `${baseUrl.replace(/\/+$/, "")}${PATHS[api]}`;
}

/** A kWh/kW figure as DSMR reader wants it: a decimal string with at most 3 decimals. */
function decimal(value: number, decimals = 3): string {
  return String(Number(value.toFixed(decimals)));
}

/**
 * The v2 fields of a telegram, as the original product sent them: decimal strings, the meter
 * time in ISO 8601 with its offset, phases and the gas meter's reading (DSMR reader takes the
 * extra device for gas). A single-register meter's total counts as tariff 1, as DSMR reader does.
 *
 * @param t The telegram.
 * @returns The fields, or `undefined` when a required one is missing.
 */
export function v2Fields(t: Telegram): Record<string, string | number> | undefined {
  const delivered = twoTariffs(t.energy.import);
  const returned = twoTariffs(t.energy.export);
  if (!t.timestamp || !delivered || !returned || !t.power.import || !t.power.export) {
    return undefined;
  }
  const fields: Record<string, string | number> = {
    timestamp: t.timestamp.iso,
    electricity_delivered_1: decimal(delivered.t1.value),
    electricity_returned_1: decimal(returned.t1.value),
    electricity_delivered_2: decimal(delivered.t2.value),
    electricity_returned_2: decimal(returned.t2.value),
    electricity_currently_delivered: decimal(t.power.import.value),
    electricity_currently_returned: decimal(t.power.export.value),
  };
  for (const phase of ["l1", "l2", "l3"] as const) {
    const p = t.phases[phase];
    if (p?.powerImport) fields[`phase_currently_delivered_${phase}`] = decimal(p.powerImport.value);
    if (p?.powerExport) fields[`phase_currently_returned_${phase}`] = decimal(p.powerExport.value);
    if (p?.voltage) fields[`phase_voltage_${phase}`] = decimal(p.voltage.value, 1);
    if (p?.current) fields[`phase_power_current_${phase}`] = Math.round(p.current.value);
  }
  const gas = gasDevice(t)?.reading;
  if (gas) {
    if (gas.time) fields.extra_device_timestamp = gas.time.iso;
    fields.extra_device_delivered = decimal(gas.value.value);
  }
  return fields;
}

/**
 * The request for one queued item. The key goes in `Authorization: Token <key>`; when the base
 * URL carries a user and password (for a proxy in front of DSMR reader), those go in
 * `Authorization` as Basic authentication and the key in `X-AUTHKEY`, which DSMR reader accepts
 * just as well (ECOSYSTEM.md section 1.1). The URL itself never carries the credentials.
 *
 * @param baseUrl DSMR reader's base URL, e.g. `http://192.168.1.99:7777` or
 * `https://user:password@example.org/dsmr`.
 * @param apiKey The API key.
 * @param item What to send.
 * @returns URL and request options (POST).
 *
 * @example
 * ```ts
 * import { pushRequest } from "./api.ts";
 * import assert from "node:assert/strict";
 * const { url, init } = pushRequest("https://me:pw@example.org/dsmr", "KEY", { api: "v1", telegram: "/X5\r\n!" });
 * assert.equal(url, "https://example.org/dsmr/api/v1/datalogger/dsmrreading");
 * assert.deepEqual(init.headers, {
 *   Authorization: "Basic bWU6cHc=",
 *   "X-AUTHKEY": "KEY",
 *   "Content-Type": "application/x-www-form-urlencoded",
 * });
 * ```
 */
export function pushRequest(
  baseUrl: string,
  apiKey: string,
  item: PushItem,
): { url: string; init: RequestInit } {
  const { base, basic } = splitCredentials(baseUrl);
  const headers: Record<string, string> = basic === undefined
    ? { Authorization: `Token ${apiKey}` }
    : { Authorization: basic, "X-AUTHKEY": apiKey };
  let body: string;
  if (item.api === "v1") {
    headers["Content-Type"] = "application/x-www-form-urlencoded";
    body = new URLSearchParams({ telegram: item.telegram }).toString();
  } else {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(item.fields);
  }
  return {
    url: endpoint(base, item.api),
    init: { method: "POST", headers, body, redirect: "manual" },
  };
}

/**
 * What DSMR reader's answer means. 201 is success; 400, and a 500 "Failed to parse telegram", are
 * about this telegram and will not change (refused: it goes to the dead-letter file); 403 (bad key) and 405 (API disabled)
 * need the user (pause); anything else may pass later (retry).
 *
 * @param status The HTTP status.
 * @param body The response body.
 * @returns The outcome.
 */
export function classifyResponse(status: number, body: string): DeliveryOutcome {
  if (status === 201) return "delivered";
  if (status === 400) return "refused";
  if (status === 500 && body.includes("Failed to parse telegram")) return "refused";
  if (status === 403 || status === 405) return "paused";
  return "retry";
}
