import assert from "node:assert/strict";
import { P1Receiver } from "../../lib/receiver.ts";
import { AUTO_SERIAL_SETTINGS } from "../../lib/source/create.ts";
import { SerialSource } from "../../lib/source/serial.ts";
import { memoryLogger, waitFor } from "../support/helpers.ts";
import { Pty } from "../support/pty.ts";

const latin1 = (text: string) => new Uint8Array([...text].map((c) => c.charCodeAt(0)));

Deno.test("auto serial settings are not settled by noise that runs from / to !", async () => {
  const pty = Pty.open();
  const { logger, lines } = memoryLogger();
  const source = new SerialSource({ path: pty.path, settings: AUTO_SERIAL_SETTINGS });
  const receiver = new P1Receiver({ source, settingsProbeMs: 300, logger });
  receiver.start();
  await waitFor(() => lines.some((line) => line.includes("opened")), "the port to open");
  // What the wrong line settings can make of a meter: frames from "/" to "!" of garbage (the
  // frame of issue 16 among them), which must not pass for telegrams that confirm the settings.
  let seed = 11;
  const garbage = () =>
    latin1(
      "/" + [...Array(12)].map(() => String.fromCharCode((seed = (seed * 75 + 74) % 65537) & 0xff))
        .join("") +
        "\r\n!\r\n",
    );
  const frames = [latin1("/\x8f\xa3\r\nq\xe1z(\x90)\r\n!\r\n"), latin1("/AB\r\n1(2)\r\n!\r\n")];
  const noise = setInterval(() => {
    for (const frame of [...frames, garbage()]) void pty.write(frame);
  }, 50);
  await waitFor(
    () => lines.some((line) => line.includes("trying serial") && line.includes("9600 7E1")),
    "the switch",
  );
  clearInterval(noise);
  // The probe moved on, so no frame confirmed 115200 8N1 (serial_test.ts follows a switch on).
  assert.equal(receiver.counters.telegramsOk, 0);
  assert.ok(receiver.counters.parseErrors > 0, "the frames are counted as rejected");
  await receiver.stop();
  pty.close();
});
