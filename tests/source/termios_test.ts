import assert from "node:assert/strict";
import {
  applySettings,
  readTermios,
  settingsMismatch,
  T,
  TERMIOS_SIZE,
} from "../../lib/source/termios.ts";

Deno.test("applySettings() asks for 115200 8N1 without flow control, reads that time out", () => {
  const buffer = new Uint8Array(TERMIOS_SIZE);
  new DataView(buffer.buffer).setUint32(8, T.CRTSCTS | T.PARENB | 0o17, true);
  const fields = applySettings(buffer, {
    baudRate: 115200,
    dataBits: 8,
    parity: "none",
    stopBits: 1,
  }, 5);
  assert.equal(fields.cflag & T.CBAUD, 0o10002);
  assert.equal(fields.cflag & T.CSIZE, T.CS8);
  assert.equal(fields.cflag & (T.PARENB | T.CSTOPB | T.CRTSCTS), 0);
  assert.equal(fields.cflag & (T.CREAD | T.CLOCAL), T.CREAD | T.CLOCAL);
  assert.equal(fields.iflag & (T.IXON | T.IXOFF | T.INPCK), 0);
  assert.deepEqual([fields.vmin, fields.vtime], [0, 5]);
  assert.deepEqual(readTermios(buffer), fields);
});

Deno.test("applySettings() asks for 9600 7E1 with parity checking (DSMR 2.2/3.0)", () => {
  const fields = applySettings(new Uint8Array(TERMIOS_SIZE), {
    baudRate: 9600,
    dataBits: 7,
    parity: "even",
    stopBits: 1,
  }, 5);
  assert.equal(fields.cflag & T.CBAUD, 0o15);
  assert.equal(fields.cflag & T.CSIZE, T.CS7);
  assert.equal(fields.cflag & (T.PARENB | T.PARODD), T.PARENB);
  assert.equal(fields.iflag & (T.INPCK | T.ISTRIP), T.INPCK | T.ISTRIP);
});

Deno.test("applySettings() sets odd parity and two stop bits", () => {
  const fields = applySettings(new Uint8Array(TERMIOS_SIZE), {
    baudRate: 9600,
    dataBits: 8,
    parity: "odd",
    stopBits: 2,
  }, 5);
  assert.equal(fields.cflag & (T.PARENB | T.PARODD), T.PARENB | T.PARODD);
  assert.equal(fields.cflag & T.CSTOPB, T.CSTOPB);
});

Deno.test("applySettings() refuses a speed it has no code for", () => {
  assert.throws(
    () =>
      applySettings(new Uint8Array(TERMIOS_SIZE), {
        baudRate: 12345,
        dataBits: 8,
        parity: "none",
        stopBits: 1,
      }, 5),
    /Cannot set 12345 baud: expected one of/,
  );
});

Deno.test("settingsMismatch() names what the driver did not take", () => {
  const requested = applySettings(new Uint8Array(TERMIOS_SIZE), {
    baudRate: 9600,
    dataBits: 7,
    parity: "even",
    stopBits: 1,
  }, 5);
  const actual = { ...requested, cflag: (requested.cflag & ~(T.CSIZE | T.PARENB)) | T.CS8 };
  assert.deepEqual(settingsMismatch(requested, actual), [
    "data bits: requested 0o40, got 0o60",
    "parity: requested 0o400, got 0o0",
  ]);
  assert.deepEqual(settingsMismatch(requested, requested), []);
});
