/**
 * Decrypting Smarty frames, and what looking for them costs a reader of plain telegrams (every
 * receiver does, to say when a key is missing). Run with `deno task bench`.
 */
import { DecryptingScanner, parseKey } from "../lib/dsmr/decryption.ts";
import { FrameScanner } from "../lib/dsmr/framer.ts";
import { encryptFrame } from "../tests/support/smarty.ts";

const telegram = Deno.readFileSync(
  new URL("../fixtures/nl-dsmr50-3phase-4mbus.txt", import.meta.url),
);
const KEY_HEX = "0F1E2D3C4B5A69788796A5B4C3D2E1F0";
const FRAMES = 2000;
/** Frames with increasing counters, since a repeated counter is rejected as a replay. */
const frames = await Promise.all(
  Array.from(
    { length: FRAMES },
    (_, i) => encryptFrame(telegram, { key: parseKey(KEY_HEX), frameCounter: i + 1 }),
  ),
);
let decrypting = new DecryptingScanner({ keys: { decryptionKey: parseKey(KEY_HEX) } });
let next = 0;

Deno.bench({
  name: `decrypt and frame one ${frames[0]!.length}-byte Smarty frame`,
  async fn() {
    if (next === FRAMES) {
      decrypting = new DecryptingScanner({ keys: { decryptionKey: parseKey(KEY_HEX) } });
      next = 0;
    }
    const out = await decrypting.push(frames[next++]!);
    if (out.length !== 1) throw new Error(`${out.length} telegrams from a frame`);
  },
});

const plain = new FrameScanner();
const watching = new DecryptingScanner();

Deno.bench({
  name: "frame one plain telegram",
  group: "plain telegram",
  baseline: true,
  fn() {
    if (plain.push(telegram).length !== 1) throw new Error("no telegram");
  },
});

Deno.bench({
  name: "frame one plain telegram, watching for encrypted frames (no key)",
  group: "plain telegram",
  async fn() {
    if ((await watching.push(telegram)).length !== 1) throw new Error("no telegram");
  },
});
