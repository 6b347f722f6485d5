/**
 * Telegrams made for a test: a run from the demo meter at a chosen meter time, and a telegram
 * with one line changed and its CRC made right again (a glitch the CRC cannot catch).
 *
 * @module
 */

import { latin1Bytes } from "../../lib/bytes.ts";
import { crc16, formatCrc } from "../../lib/dsmr/crc16.ts";
import { DemoMeter } from "../../lib/source/demo.ts";

/**
 * Telegrams of the demo meter, `stepMs` of meter time apart.
 *
 * @param count How many.
 * @param options The meter time of the first (default 2024-01-15 09:00 UTC) and the step (1 s).
 */
export function demoTelegrams(
  count: number,
  options: { start?: number; stepMs?: number } = {},
): Uint8Array[] {
  let now = options.start ?? Date.UTC(2024, 0, 15, 9, 0, 0);
  const meter = new DemoMeter({ now: () => now, seed: 3 });
  return Array.from({ length: count }, () => {
    const telegram = meter.telegram();
    now += options.stepMs ?? 1000;
    return telegram;
  });
}

/**
 * A copy of a telegram with a line replaced and a valid CRC.
 *
 * @param telegram The telegram's bytes (CRC line included).
 * @param pattern What to replace (must occur).
 * @param replacement What to put there.
 */
export function withLine(telegram: Uint8Array, pattern: RegExp, replacement: string): Uint8Array {
  const text = new TextDecoder("latin1").decode(telegram);
  if (!pattern.test(text)) throw new Error(`${pattern} is not in the telegram`);
  const changed = text.replace(pattern, replacement);
  const body = changed.slice(0, changed.indexOf("!") + 1);
  const bytes = latin1Bytes(body);
  return latin1Bytes(`${body}${formatCrc(crc16(bytes))}\r\n`);
}
