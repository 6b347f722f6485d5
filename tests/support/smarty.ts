/**
 * Encrypted Smarty frames for tests: ours, encrypted with WebCrypto from the corpus's Luxembourg
 * telegram, and a real one captured from a meter.
 *
 * @module
 */

import { parseKey, SMARTY_AUTHENTICATION_KEY } from "../../lib/dsmr/decryption.ts";
import { CORPUS } from "./paths.ts";

/** A key for the frames we encrypt ourselves. */
export const TEST_KEY_HEX = "0F1E2D3C4B5A69788796A5B4C3D2E1F0";
/** {@linkcode TEST_KEY_HEX} as bytes. */
export const TEST_KEY = parseKey(TEST_KEY_HEX);
/** A system title as a Sagemcom Smarty meter sends one: `SAG` and a serial. */
export const TEST_TITLE = new Uint8Array([0x53, 0x41, 0x47, 0x67, 0x70, 0x01, 0x02, 0x03]);

/** The corpus's Luxembourg Smarty telegram, plaintext, or `undefined` without the corpus. */
export const LU_TELEGRAM: Uint8Array | undefined = CORPUS === undefined
  ? undefined
  : Deno.readFileSync(`${CORPUS}telegrams/lu-smarty-plaintext.txt`);

/**
 * A REAL frame captured from a Smarty meter (Sagemcom, system title `SAG` 67 70 01 BD 54, frame
 * counter 0x0005A8E3, the two-byte length form 0x82 0x027A) with the key its owners published for
 * it: NEXXTLAB/go-smarty-reader, `smarty/Decryption_test.go` (also `smarty/Smarty_test.go`), a
 * test vector whose key works for this frame only. It decrypts with the Smarty authentication key
 * to a telegram of 30 January 2018 with a valid CRC (`!CFDE`).
 */
export const NEXXTLAB_KEY_HEX = "D491470F47126332B07D1923B3504188";
/** The frame, as the meter sent it. */
export const NEXXTLAB_FRAME = hexBytes(
  "DB08534147677001BD5482027A300005A8E3806EE6E639274C7BC57095F872B0" +
    "8DDE621FB74EE81E5EBE342C93D8E73781FB2A1EB8710074A54FC57AA7D1D992" +
    "36C42E2EC01A0324EFC7F02E3BA2FA43196CA603838AB8322DFFA83F7E83932E" +
    "6007406B112B41745F38805646D53FEA7A029FA79C36D9D777DA8B5A03ED3EC6" +
    "E485DEC0C98D7D53C0BD175B228E01F466D9843777808503D630158C8236D868" +
    "088EB13977BDFC474367E557136FEB6D537F18304484A014B49099A63C18D430" +
    "3A4C53853A0CA8C5B0E3E805BFD8425410FAB522B35A8F258B57BB1E97E2489B" +
    "6F37071753AFFBB4EEBCA502EEA592B88085AE155BCEA8F732D6B0115BB9CED7" +
    "6BE5B893B2A7EFC8163C171E77C3D29A72B7478ED6DFE2C48BF3F9D8F895CA1C" +
    "B42EAAC4CB21D6EAB51E77E4D6029D788427DD5BFC46BDD3E8A32DBB6F93B484" +
    "2B073E9B6FE6E5DFC058B5F454AA3EF162BDF93CB1E0C452DBB2BE4CB4C67D16" +
    "9E2A30618FA2165441B6D3C22F1C3627E35FFFCF9F1947D7A6AE942FC21E246F" +
    "0EFC456A7889C961C93EA089EEF6D1A44056BAAAB352CBEA7D7E206757AF0D42" +
    "7064B058D57235A78F8DB91CE4D60A3C6BABD99A61169B172F2414F565BDE023" +
    "9654EAC77552FBCC2A2FA102D7CD003DDBEB9C1F811DBC695376336E2E9D6CFC" +
    "73FCB4A29446BD7CE3170E5856766B25E82049EE5508EC1816685F1DCEC23819" +
    "1216DFFBA0647D32A1559D99640A15F24AB02172DB3D564454E7A0346C099399" +
    "B8770A9BDAA619C7C5230526D6B80499A0EE0CD4FC46A677AF68EF4DEE9E76B7" +
    "8AC8A04F431DB3986FCFD45EE1F10799AF0B794A4103735D6DDA3829173F80F1" +
    "38A5301AFDF1DB8774F0C40E6E71264B334A943FC10552B0752F3A0D7FD80458" +
    "595408F2850F17",
);

/** Bytes from hex digits. */
export function hexBytes(hex: string): Uint8Array {
  return new Uint8Array(hex.match(/../g)!.map((pair) => parseInt(pair, 16)));
}

/** How a frame's length is written: one byte, or 0x81..0x84 and that many bytes. */
export type LengthForm = "short" | 0x81 | 0x82 | 0x83 | 0x84;

/** What {@linkcode encryptFrame} makes. */
export interface FrameOptions {
  /** The meter's key. @default {TEST_KEY} */
  key?: Uint8Array;
  /** @default {the Smarty authentication key} */
  authenticationKey?: Uint8Array;
  /** @default {TEST_TITLE} */
  systemTitle?: Uint8Array;
  /** The frame counter. */
  frameCounter: number;
  /** @default {0x82, as Smarty meters write it} */
  lengthForm?: LengthForm;
}

/**
 * Encrypts a telegram into a general-glo-ciphering frame as a Smarty meter does, with WebCrypto's
 * AES-GCM and a 96-bit tag.
 */
export async function encryptFrame(
  plaintext: Uint8Array,
  options: FrameOptions,
): Promise<Uint8Array> {
  const title = options.systemTitle ?? TEST_TITLE;
  const counter = new Uint8Array(4);
  new DataView(counter.buffer).setUint32(0, options.frameCounter);
  const iv = new Uint8Array([...title, ...counter]);
  const additionalData = new Uint8Array([
    0x30,
    ...(options.authenticationKey ?? parseKey(SMARTY_AUTHENTICATION_KEY)),
  ]);
  const key = await crypto.subtle.importKey(
    "raw",
    (options.key ?? TEST_KEY).slice(),
    "AES-GCM",
    false,
    ["encrypt"],
  );
  const sealed = new Uint8Array(
    await crypto.subtle.encrypt(
      { name: "AES-GCM", iv, additionalData, tagLength: 96 },
      key,
      plaintext.slice(),
    ),
  );
  const body = [0x30, ...counter, ...sealed];
  const form = options.lengthForm ?? 0x82;
  const lengthBytes = form === "short"
    ? []
    : new Array(form - 0x80).fill(0).map((_, i, all) =>
      (body.length >>> (8 * (all.length - 1 - i))) & 0xff
    );
  if (form === "short" && body.length >= 0x80) throw new RangeError("too long for the short form");
  return new Uint8Array([
    0xdb,
    title.length,
    ...title,
    ...(form === "short" ? [body.length] : [form]),
    ...lengthBytes,
    ...body,
  ]);
}
