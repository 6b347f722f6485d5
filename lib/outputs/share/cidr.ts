/**
 * CIDR ranges (`192.168.1.0/24`, `fd00::/8`) for `--share-allow`, IPv4 and IPv6, with IPv4
 * addresses also matching their IPv4-mapped IPv6 form (`::ffff:192.168.1.7`).
 *
 * @module
 */

/** A parsed range. */
export interface Cidr {
  /** The range as written. */
  text: string;
  /** 4 or 6. */
  family: 4 | 6;
  /** The network address as a number. */
  network: bigint;
  /** The prefix length. */
  bits: number;
}

function ipv4(text: string): bigint | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  let value = 0n;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part) || Number(part) > 255) return undefined;
    value = (value << 8n) | BigInt(Number(part));
  }
  return value;
}

function ipv6(text: string): bigint | undefined {
  let head = text;
  let tail4: bigint | undefined;
  const lastColon = text.lastIndexOf(":");
  if (text.includes(".")) {
    tail4 = ipv4(text.slice(lastColon + 1));
    if (tail4 === undefined) return undefined;
    head = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const halves = head.split("::");
  if (halves.length > 2) return undefined;
  const left = halves[0] ? halves[0].split(":") : [];
  const right = halves.length === 2 && halves[1] ? halves[1].split(":") : [];
  const missing = 8 - left.length - right.length;
  if ((halves.length === 1 && missing !== 0) || missing < 0) return undefined;
  const groups = [...left, ...Array(halves.length === 2 ? missing : 0).fill("0"), ...right];
  let value = 0n;
  for (const group of groups) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(group)) return undefined;
    value = (value << 16n) | BigInt(parseInt(group, 16));
  }
  if (tail4 !== undefined) value = (value & ~0xffffffffn) | tail4;
  return value;
}

/**
 * An IPv4 or IPv6 address as a number.
 *
 * @param text For example `192.168.1.7` or `fd00::1`.
 * @returns Its family and value, or `undefined` when it is neither.
 */
export function parseAddress(text: string): { family: 4 | 6; value: bigint } | undefined {
  const v4 = ipv4(text);
  if (v4 !== undefined) return { family: 4, value: v4 };
  const v6 = ipv6(text);
  return v6 === undefined ? undefined : { family: 6, value: v6 };
}

/**
 * Parses a comma-separated list of ranges; a bare address is a range of one.
 *
 * @param list For example `192.168.1.0/24,::1`.
 * @returns The ranges.
 * @throws {RangeError} Naming the first range that is not valid.
 */
export function parseCidrList(list: string): Cidr[] {
  return list.split(",").map((item) => item.trim()).filter((item) => item !== "").map((text) => {
    const [address = "", prefix] = text.split("/");
    const v4 = ipv4(address);
    const family = v4 !== undefined ? 4 : 6;
    const value = v4 ?? ipv6(address);
    const max = family === 4 ? 32 : 128;
    const bits = prefix === undefined ? max : Number(prefix);
    if (
      value === undefined || !Number.isInteger(bits) || bits < 0 || bits > max ||
      (prefix !== undefined && !/^\d+$/.test(prefix))
    ) {
      throw new RangeError(
        `Invalid address range "${text}": expected e.g. 192.168.1.0/24 or fd00::/8`,
      );
    }
    const shift = BigInt(max - bits);
    return { text, family, network: (value >> shift) << shift, bits };
  });
}

/**
 * Whether an address lies in one of the ranges.
 *
 * @param address The peer's address, e.g. `192.168.1.7` or `::ffff:192.168.1.7`.
 * @param ranges The allowed ranges.
 * @returns `true` when it is allowed.
 */
export function isAllowed(address: string, ranges: readonly Cidr[]): boolean {
  let v4 = ipv4(address);
  const v6 = v4 === undefined ? ipv6(address) : undefined;
  if (v6 !== undefined && v6 >> 32n === 0xffffn) v4 = v6 & 0xffffffffn;
  return ranges.some((range) => {
    const value = range.family === 4 ? v4 : v6;
    if (value === undefined) return false;
    const shift = BigInt((range.family === 4 ? 32 : 128) - range.bits);
    return (value >> shift) << shift === range.network;
  });
}
