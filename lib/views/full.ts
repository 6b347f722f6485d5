/**
 * The complete JSON of a telegram (`GET /api/v1/telegram`): every field, the phases, the M-Bus
 * devices, the event log and the `obis` view, with when it was received.
 *
 * @module
 */

import type { Telegram } from "../dsmr/model.ts";
import type { ReceivedTelegram } from "../receiver.ts";

/** The complete JSON of one received telegram (the raw text has its own route). */
export type FullTelegramJson = Omit<Telegram, "raw"> & { receivedAt: string };

/**
 * Shapes a received telegram for the API.
 *
 * @param received The telegram and when it arrived.
 * @returns The JSON object.
 */
export function fullTelegram(received: ReceivedTelegram): FullTelegramJson {
  const { raw: _raw, ...telegram } = received.telegram;
  return { receivedAt: new Date(received.receivedAt).toISOString(), ...telegram };
}
