/**
 * IP address parsing and CIDR matching for the webhook SSRF guard.
 *
 * The parsers are deliberately liberal about what they *recognise* as an IP literal (every
 * spelling `inet_aton` and the WHATWG URL parser accept), because a spelling the guard failed
 * to recognise could be handed to the resolver, which would turn it into an address anyway.
 * Addresses are held as bytes (4 for IPv4, 16 for IPv6) so one CIDR matcher serves both.
 */

/** An IP address: 4 bytes (IPv4) or 16 bytes (IPv6), plus an IPv6 zone (`%eth0`) if one was given. */
export interface IpAddress {
  readonly version: 4 | 6;
  readonly bytes: Uint8Array;
  readonly zone?: string;
}

/** An address range such as `127.0.0.0/8` or `::1/128`; `toString()` gives the canonical text. */
export interface Cidr {
  readonly version: 4 | 6;
  /** The network address (host bits are zero). */
  readonly bytes: Uint8Array;
  readonly prefix: number;
  toString(): string;
}

const DECIMAL = /^[0-9]+$/;
const OCTAL = /^[0-7]+$/;
const HEX = /^[0-9a-fA-F]+$/;

/** One part of a loose IPv4 spelling: decimal, `0`-prefixed octal or `0x`-prefixed hex. */
function parseIPv4Part(part: string): number | undefined {
  if (part === "") return undefined;
  if (part.length >= 2 && part[0] === "0" && (part[1] === "x" || part[1] === "X")) {
    const digits = part.slice(2);
    if (digits === "") return 0; // WHATWG reads a bare "0x" as zero
    return HEX.test(digits) ? parseInt(digits, 16) : undefined;
  }
  if (part.length >= 2 && part[0] === "0") return OCTAL.test(part) ? parseInt(part, 8) : undefined;
  return DECIMAL.test(part) ? parseInt(part, 10) : undefined;
}

/**
 * Parses an IPv4 address in any spelling `inet_aton` accepts: one to four parts, each decimal,
 * octal (`0177`) or hex (`0x7f`); the last part fills the remaining bytes (`127.1` is
 * `127.0.0.1`, `2130706433` is `127.0.0.1`). One trailing dot is allowed, as in URLs.
 * @returns the address as an unsigned 32-bit number, or `undefined` if `text` is not IPv4.
 */
export function parseIPv4Loose(text: string): number | undefined {
  const parts = text.split(".");
  if (parts.length > 1 && parts[parts.length - 1] === "") parts.pop();
  if (parts.length < 1 || parts.length > 4) return undefined;
  const numbers: number[] = [];
  for (const part of parts) {
    const value = parseIPv4Part(part);
    if (value === undefined) return undefined;
    numbers.push(value);
  }
  const last = numbers.pop()!;
  if (numbers.some((n) => n > 255)) return undefined;
  if (last >= 2 ** (8 * (4 - numbers.length))) return undefined;
  let value = 0;
  numbers.forEach((n, index) => (value += n * 2 ** (8 * (3 - index))));
  return value + last;
}

/** Strict dotted-decimal IPv4 (four decimal parts, no leading zeros), as inside IPv6 and CIDRs. */
function parseIPv4Strict(text: string): Uint8Array | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  const bytes = new Uint8Array(4);
  for (const [index, part] of parts.entries()) {
    if (!DECIMAL.test(part) || part.length > 3 || (part.length > 1 && part[0] === "0")) return undefined;
    const value = Number(part);
    if (value > 255) return undefined;
    bytes[index] = value;
  }
  return bytes;
}

function ipv4Bytes(value: number): Uint8Array {
  return Uint8Array.of((value >>> 24) & 255, (value >>> 16) & 255, (value >>> 8) & 255, value & 255);
}

/** Parses RFC 4291 IPv6 text (without brackets or zone), including a trailing dotted IPv4. */
function parseIPv6(text: string): Uint8Array | undefined {
  if (text === "" || text.length > 45) return undefined;
  let groupsText = text;
  let tail: Uint8Array | undefined;
  if (text.includes(".")) {
    const cut = text.lastIndexOf(":");
    if (cut === -1) return undefined;
    tail = parseIPv4Strict(text.slice(cut + 1));
    if (!tail) return undefined;
    // Keep the colon so "::1.2.3.4" leaves "::" and "1:2::1.2.3.4" leaves "1:2::".
    groupsText = text.slice(0, cut + 1);
    if (!groupsText.endsWith("::")) groupsText = groupsText.slice(0, -1);
  }
  const halves = groupsText.split("::");
  if (halves.length > 2) return undefined;
  const parseGroups = (half: string): number[] | undefined => {
    if (half === "") return [];
    const groups: number[] = [];
    for (const group of half.split(":")) {
      if (group.length < 1 || group.length > 4 || !HEX.test(group)) return undefined;
      groups.push(parseInt(group, 16));
    }
    return groups;
  };
  const head = parseGroups(halves[0]!);
  const rest = halves.length === 2 ? parseGroups(halves[1]!) : [];
  if (!head || !rest) return undefined;
  const wanted = tail ? 6 : 8;
  const given = head.length + rest.length;
  if (halves.length === 2 ? given > wanted - 1 : given !== wanted) return undefined;
  const groups = [...head, ...new Array<number>(wanted - given).fill(0), ...rest];
  const bytes = new Uint8Array(16);
  groups.forEach((group, index) => {
    bytes[index * 2] = group >> 8;
    bytes[index * 2 + 1] = group & 255;
  });
  if (tail) bytes.set(tail, 12);
  return bytes;
}

/**
 * Recognises an IP literal in any spelling a host string may carry: loose IPv4 (decimal,
 * octal, hex, short and mixed forms), IPv6 with or without `[brackets]`, and an IPv6 zone ID
 * (`fe80::1%eth0`, or `%25eth0` as URLs encode it).
 * @returns the address, or `undefined` if `text` is not an IP literal (so it is a DNS name).
 */
export function parseIpLiteral(text: string): IpAddress | undefined {
  let host = text;
  const bracketed = host.startsWith("[") && host.endsWith("]");
  if (bracketed) host = host.slice(1, -1);
  if (!bracketed || !host.includes(":")) {
    const v4 = parseIPv4Loose(host);
    if (v4 !== undefined) return { version: 4, bytes: ipv4Bytes(v4) };
  }
  let zone: string | undefined;
  const percent = host.indexOf("%");
  if (percent !== -1) {
    zone = host.slice(percent + 1);
    if (zone.startsWith("25") && zone.length > 2) zone = zone.slice(2);
    if (zone === "") return undefined;
    host = host.slice(0, percent);
  }
  const v6 = parseIPv6(host);
  if (!v6) return undefined;
  return zone === undefined ? { version: 6, bytes: v6 } : { version: 6, bytes: v6, zone };
}

/** The IPv4 address held in `bytes[offset..offset+4]`, optionally inverted (Teredo). */
export function embeddedIPv4(address: IpAddress, offset: number, invert = false): IpAddress {
  const bytes = address.bytes.slice(offset, offset + 4);
  if (invert) bytes.forEach((byte, index) => (bytes[index] = ~byte & 255));
  return { version: 4, bytes };
}

/**
 * Canonical text: dotted decimal for IPv4; RFC 5952 for IPv6 (lower case, longest run of zero
 * groups compressed), with IPv4-mapped addresses written `::ffff:a.b.c.d`. The zone, if any, is kept.
 */
export function formatIp(address: IpAddress): string {
  const { bytes } = address;
  if (address.version === 4) return Array.from(bytes).join(".");
  const mapped = bytes.subarray(0, 10).every((byte) => byte === 0) && bytes[10] === 255 && bytes[11] === 255;
  const text = mapped ? `::ffff:${Array.from(bytes.subarray(12)).join(".")}` : formatIPv6Groups(bytes);
  return address.zone === undefined ? text : `${text}%${address.zone}`;
}

function formatIPv6Groups(bytes: Uint8Array): string {
  const groups: number[] = [];
  for (let index = 0; index < 16; index += 2) groups.push((bytes[index]! << 8) | bytes[index + 1]!);
  let bestStart = -1;
  let bestLength = 1; // RFC 5952: never compress a single zero group
  for (let start = 0; start < 8; ) {
    if (groups[start] !== 0) {
      start++;
      continue;
    }
    let end = start;
    while (end < 8 && groups[end] === 0) end++;
    if (end - start > bestLength) [bestStart, bestLength] = [start, end - start];
    start = end;
  }
  const hex = groups.map((group) => group.toString(16));
  if (bestStart === -1) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLength).join(":")}`;
}

/** Whether `address` lies in `cidr` (never across versions: IPv4-mapped IPv6 is not IPv4 here). */
export function cidrContains(cidr: Cidr, address: IpAddress): boolean {
  if (cidr.version !== address.version) return false;
  const fullBytes = cidr.prefix >> 3;
  for (let index = 0; index < fullBytes; index++) {
    if (cidr.bytes[index] !== address.bytes[index]) return false;
  }
  const restBits = cidr.prefix & 7;
  if (restBits === 0) return true;
  const mask = (0xff << (8 - restBits)) & 0xff;
  return ((cidr.bytes[fullBytes]! ^ address.bytes[fullBytes]!) & mask) === 0;
}

function makeCidr(version: 4 | 6, bytes: Uint8Array, prefix: number): Cidr {
  const text = `${version === 4 ? formatIp({ version, bytes }) : formatIPv6Groups(bytes)}/${prefix}`;
  return { version, bytes, prefix, toString: () => text };
}

/**
 * Parses one CIDR: a standard address (dotted-decimal IPv4 or IPv6, no zone) with an optional
 * `/prefix`; a bare address means that single address (`/32` or `/128`).
 * @throws Error saying what is wrong with `text` (it does not name a list position; see `parseCidrList`).
 */
export function parseCidr(text: string): Cidr {
  const slash = text.indexOf("/");
  const addressText = slash === -1 ? text : text.slice(0, slash);
  const prefixText = slash === -1 ? undefined : text.slice(slash + 1);
  const v4 = parseIPv4Strict(addressText);
  const v6 = v4 ? undefined : addressText.includes(":") && !addressText.includes("%") ? parseIPv6(addressText) : undefined;
  const bytes = v4 ?? v6;
  if (!bytes) {
    throw new Error(`${JSON.stringify(text)} does not start with an IP address (expected a form like 127.0.0.0/8 or fd00::/8)`);
  }
  const version = v4 ? 4 : 6;
  const maxPrefix = bytes.length * 8;
  let prefix = maxPrefix;
  if (prefixText !== undefined) {
    if (!DECIMAL.test(prefixText) || Number(prefixText) > maxPrefix) {
      throw new Error(`${JSON.stringify(text)} has prefix length ${JSON.stringify(prefixText)}, but an IPv${version} prefix length must be a whole number from 0 to ${maxPrefix}`);
    }
    prefix = Number(prefixText);
  }
  const network = bytes.slice();
  for (let bit = prefix; bit < maxPrefix; bit++) network[bit >> 3]! &= ~(0x80 >> (bit & 7));
  const cidr = makeCidr(version, network, prefix);
  if (network.some((byte, index) => byte !== bytes[index])) {
    throw new Error(`${JSON.stringify(text)} has bits set after its /${prefix} prefix; did you mean "${cidr.toString()}"?`);
  }
  return cidr;
}
