/**
 * SSRF guard for webhook addresses: a webhook may only reach publicly routable addresses.
 *
 * The same rules are applied twice:
 * - at sink registration, through {@link AddressGuard.checkHost} (answer 400 with the message);
 * - at every connection, through {@link AddressGuard.dispatcher} (an undici Agent), whose
 *   connector refuses blocked IP-literal hosts before dialling and gives `net`/`tls.connect` the
 *   guard's {@link AddressGuard.lookup}, so the address that is actually dialled is the address
 *   that was checked. A DNS answer that changes between registration and delivery (DNS
 *   rebinding) is therefore caught at connection time.
 *
 * Every address a name resolves to is checked, not only the first: one blocked address blocks
 * the host. An allowlist of CIDRs (configuration, e.g. `WEBHOOK_ALLOWED_CIDRS=127.0.0.0/8` for
 * the local runtime and tests) lets an address through even if it lies in a blocked range.
 *
 * Covered: the IPv4 and IPv6 ranges in {@link BLOCKED_RANGES}; IPv6 forms that embed an IPv4
 * address are judged by that IPv4 address: IPv4-mapped `::ffff:0:0/96`, IPv4-compatible `::/96`,
 * IPv4-translated `::ffff:0:0:0/96`, NAT64 `64:ff9b::/96` (last 32 bits), 6to4 `2002::/16`
 * (bits 16–47) and Teredo `2001::/32` (server in bits 32–63, client in the last 32 bits
 * inverted; both are checked). The local-use NAT64 prefix `64:ff9b:1::/48` (RFC 8215) is not
 * globally reachable, and its embedding depends on the operator's prefix length, so it is
 * blocked as a whole (the reason names the embedded IPv4 when the /96 layout shows a blocked one).
 * IP literals are recognised in every spelling `inet_aton` accepts (see {@link parseIpLiteral}).
 *
 * Not covered: HTTP proxies (a dispatcher other than {@link AddressGuard.dispatcher} bypasses
 * the guard), redirects to other hosts are the caller's business (undici does not follow
 * redirects unless asked), and unallocated IPv6 space outside 2000::/3 is not blocked.
 */
import dns from "node:dns";
import type { LookupAddress, LookupOptions } from "node:dns";
import type { LookupFunction } from "node:net";
import { Agent, buildConnector } from "undici";
import { type Cidr, type IpAddress, cidrContains, embeddedIPv4, formatIp, parseCidr, parseIpLiteral } from "./ip-address";

export type { Cidr } from "./ip-address";

/** The configuration variable operators use to allowlist CIDRs; named in every refusal. */
export const ALLOWED_CIDRS_ENV = "WEBHOOK_ALLOWED_CIDRS";

/** A webhook host is, or resolves to, an address webhooks may not reach. */
export class BlockedAddressError extends Error {
  override readonly name = "BlockedAddressError";
  /** The host as given (a DNS name or an IP literal in any spelling). */
  readonly host: string;
  /** The offending address, in canonical form (e.g. `127.0.0.1` for host `0x7f.1`). */
  readonly address: string;
  /** The blocked range it lies in, e.g. `169.254.0.0/16` (for embedded IPv4, the IPv4 range). */
  readonly range: string;
  /** Why, e.g. `loopback (127.0.0.0/8)`; this is what {@link AddressGuard.blockedReason} returns. */
  readonly reason: string;

  constructor(details: { host: string; address: string; range: string; reason: string; resolved?: readonly string[] }) {
    const { host, address, range, reason, resolved } = details;
    const literal = resolved === undefined;
    const others = resolved && resolved.length > 1 ? ` (one of its ${resolved.length} addresses: ${resolved.join(", ")})` : "";
    const subject = literal ? `is the IP address ${address}` : `resolves to ${address}${others}`;
    super(
      `webhook host ${JSON.stringify(host)} ${subject}, which is ${reason}; webhooks may only reach public addresses (allow it with ${ALLOWED_CIDRS_ENV})`,
    );
    this.host = host;
    this.address = address;
    this.range = range;
    this.reason = reason;
  }
}

/** A webhook host does not resolve (or resolves to nothing usable). `code` is the DNS error code, e.g. `ENOTFOUND` or `EAI_AGAIN` (transient). */
export class UnresolvableHostError extends Error {
  override readonly name = "UnresolvableHostError";
  readonly code: string | undefined;
  constructor(
    readonly host: string,
    detail: string,
    options?: ErrorOptions & { code?: string },
  ) {
    super(`webhook host ${JSON.stringify(host)} ${detail}`, options);
    this.code = options?.code;
  }
}

/**
 * The {@link BlockedAddressError} behind `error`, following `cause` and `AggregateError.errors`
 * (undici and `net` may wrap the connector's error), or `undefined` if there is none.
 */
export function findBlockedAddressError(error: unknown): BlockedAddressError | undefined {
  const seen = new Set<unknown>();
  const queue: unknown[] = [error];
  while (queue.length > 0) {
    const current = queue.shift();
    if (current === null || typeof current !== "object" || seen.has(current)) continue;
    seen.add(current);
    if (current instanceof BlockedAddressError) return current;
    queue.push((current as { cause?: unknown }).cause);
    if (current instanceof AggregateError) queue.push(...current.errors);
  }
  return undefined;
}

/**
 * Parses a comma- and/or whitespace-separated CIDR list (`"127.0.0.0/8, ::1/128"`); a bare
 * address means that one address. An empty or blank string gives `[]`.
 * @throws Error naming each bad entry (position and text) and what is wrong with it.
 */
export function parseCidrList(text: string): Cidr[] {
  const entries = text.split(/[\s,]+/).filter((entry) => entry !== "");
  const cidrs: Cidr[] = [];
  const problems: string[] = [];
  entries.forEach((entry, index) => {
    try {
      cidrs.push(parseCidr(entry));
    } catch (error) {
      problems.push(`entry ${index + 1} ${(error as Error).message}`);
    }
  });
  if (problems.length > 0) {
    throw new Error(`CIDR list ${JSON.stringify(text)} is not valid: ${problems.join("; ")}`);
  }
  return cidrs;
}

/** One blocked range with the words a refusal uses for it. */
interface BlockedRange {
  readonly cidr: Cidr;
  readonly label: string;
}

/** Where the reason names a well-known endpoint inside a blocked range. */
const NAMED_ENDPOINTS: ReadonlyMap<string, string> = new Map([
  ["169.254.169.254", "the cloud instance metadata endpoint, serving instance credentials"],
  ["169.254.170.2", "the container credentials endpoint (ECS task role credentials)"],
  ["fd00:ec2::254", "the EC2 instance metadata endpoint (IPv6), serving instance credentials"],
]);

const range = (text: string, label: string): BlockedRange => ({ cidr: parseCidr(text), label });

/** Addresses a webhook may not reach (IANA special-purpose ranges that are not globally reachable, and more). */
export const BLOCKED_RANGES: readonly { readonly cidr: Cidr; readonly label: string }[] = [
  range("0.0.0.0/8", `"this network"`), // Linux dials 0.0.0.0 as the local host
  range("10.0.0.0/8", "private"),
  range("100.64.0.0/10", "carrier-grade NAT shared address space"),
  range("127.0.0.0/8", "loopback"),
  range("169.254.0.0/16", "link-local"),
  range("172.16.0.0/12", "private"),
  range("192.0.0.0/24", "IETF protocol assignments"),
  range("192.0.2.0/24", "documentation (TEST-NET-1)"),
  range("192.88.99.0/24", "the deprecated 6to4 relay anycast"),
  range("192.168.0.0/16", "private"),
  range("198.18.0.0/15", "benchmarking"),
  range("198.51.100.0/24", "documentation (TEST-NET-2)"),
  range("203.0.113.0/24", "documentation (TEST-NET-3)"),
  range("224.0.0.0/4", "multicast"),
  range("255.255.255.255/32", "limited broadcast"),
  range("240.0.0.0/4", "reserved"),
  range("::/128", "the unspecified IPv6 address"),
  range("::1/128", "IPv6 loopback"),
  range("100::/64", "IPv6 discard-only"),
  range("2001:2::/48", "IPv6 benchmarking"),
  range("2001:10::/28", "deprecated ORCHID"),
  range("2001:db8::/32", "IPv6 documentation"),
  range("3fff::/20", "IPv6 documentation"),
  range("5f00::/16", "SRv6 segment identifiers"),
  range("fc00::/7", "IPv6 unique-local"),
  range("fe80::/10", "IPv6 link-local"),
  range("fec0::/10", "IPv6 site-local (deprecated)"),
  range("ff00::/8", "IPv6 multicast"),
];

/** IPv6 forms that carry an IPv4 address, judged by that address. */
const EMBEDDINGS: readonly { readonly cidr: Cidr; readonly label: string; readonly ipv4: readonly { offset: number; invert?: boolean; role?: string }[] }[] = [
  { cidr: parseCidr("::ffff:0:0/96"), label: "an IPv4-mapped IPv6 address", ipv4: [{ offset: 12 }] },
  { cidr: parseCidr("::ffff:0:0:0/96"), label: "an IPv4-translated IPv6 address", ipv4: [{ offset: 12 }] },
  { cidr: parseCidr("::/96"), label: "an IPv4-compatible IPv6 address", ipv4: [{ offset: 12 }] },
  { cidr: parseCidr("64:ff9b::/96"), label: "a NAT64 address", ipv4: [{ offset: 12 }] },
  { cidr: parseCidr("2002::/16"), label: "a 6to4 address", ipv4: [{ offset: 2 }] },
  {
    cidr: parseCidr("2001::/32"),
    label: "a Teredo address",
    ipv4: [
      { offset: 12, invert: true, role: "client" },
      { offset: 4, role: "server" },
    ],
  },
];

const LOCAL_NAT64 = parseCidr("64:ff9b:1::/48");
const UNSPECIFIED_OR_LOOPBACK_V6 = parseCidr("::/127");

/** Why an address is blocked: the range it is in and the words for it. */
interface Verdict {
  readonly range: string;
  readonly reason: string;
}

/** Options for {@link AddressGuard}. */
export interface AddressGuardOptions {
  /**
   * CIDRs that may be reached even though they lie in a blocked range (e.g. `127.0.0.0/8` for
   * the local runtime and tests). Strings are parsed with the same rules as {@link parseCidrList}.
   * @default []
   */
  readonly allowedCidrs?: readonly Cidr[] | readonly string[];
  /**
   * Resolves a DNS name to all its addresses (any IP spelling; each is checked). Injected by tests.
   * @default dns.lookup with `all: true` (the system resolver, as `net.connect` uses)
   */
  readonly resolve?: (hostname: string) => Promise<string[]>;
}

/**
 * Undici Agent options for {@link AddressGuard.dispatcher}. `connect` must be options (not a
 * connector function), and `socketPath`, `factory` and `connect.lookup` are refused, because
 * each would bypass the guard.
 */
export type GuardedAgentOptions = Omit<Agent.Options, "connect" | "factory" | "socketPath"> & {
  readonly connect?: Partial<buildConnector.BuildOptions>;
};

const systemResolve = async (hostname: string): Promise<string[]> =>
  (await dns.promises.lookup(hostname, { all: true })).map((entry) => entry.address);

/** Checks webhook hosts and the addresses actually dialled against the blocked ranges. */
export class AddressGuard {
  readonly #allowed: readonly Cidr[];
  readonly #resolve: (hostname: string) => Promise<string[]>;

  constructor(options: AddressGuardOptions = {}) {
    const allowed: readonly (Cidr | string)[] = options.allowedCidrs ?? [];
    const texts = allowed.filter((entry): entry is string => typeof entry === "string");
    // parseCidrList names each bad entry by position and text.
    this.#allowed = [...allowed.filter((entry): entry is Cidr => typeof entry !== "string"), ...parseCidrList(texts.join(", "))];
    this.#resolve = options.resolve ?? systemResolve;
  }

  /**
   * Why this IP literal (any spelling: `2130706433`, `0x7f.1`, `[::ffff:7f00:1]`, `fe80::1%eth0`)
   * may not be dialled, e.g. `loopback (127.0.0.0/8)`, or `undefined` if it may.
   * @throws TypeError if `ip` is not an IP literal.
   */
  blockedReason(ip: string): string | undefined {
    const address = parseIpLiteral(ip);
    if (!address) throw new TypeError(`expected an IP address, but ${JSON.stringify(ip)} was given`);
    return this.#judge(address)?.reason;
  }

  /**
   * Resolves a host (IP literal in any spelling, or DNS name) and checks every address.
   * @returns the addresses, in canonical form.
   * @throws BlockedAddressError if any address is blocked.
   * @throws UnresolvableHostError if the name does not resolve, or resolves to nothing.
   */
  async checkHost(host: string): Promise<string[]> {
    return (await this.#resolveChecked(host)).map(formatIp);
  }

  /**
   * A `net.LookupFunction` for `net.connect`/`tls.connect`: resolves all addresses, rejects
   * with {@link BlockedAddressError} if any is blocked (or {@link UnresolvableHostError}), and
   * otherwise answers like `dns.lookup`, honouring `options.all` and `options.family`
   * (Node 20's `autoSelectFamily` asks with `all: true`). Addresses come back in resolver order.
   */
  readonly lookup: LookupFunction = (hostname, options, callback) => {
    // Also accept dns.lookup's other call shapes: (host, callback) and (host, family, callback).
    let opts: LookupOptions = {};
    let done = callback;
    if (typeof options === "function") done = options as typeof callback;
    else if (typeof options === "number") opts = { family: options };
    else if (options) opts = options;
    const family = opts.family === "IPv4" ? 4 : opts.family === "IPv6" ? 6 : Number(opts.family ?? 0);
    const fail = done as (error: Error) => void;
    this.#resolveChecked(hostname).then(
      (addresses) => {
        const answers: LookupAddress[] = addresses
          .filter((address) => family !== 4 && family !== 6 ? true : address.version === family)
          .map((address) => ({ address: formatIp(address), family: address.version }));
        if (answers.length === 0) {
          const all = addresses.map(formatIp).join(", ");
          fail(new UnresolvableHostError(hostname, `has no IPv${family} address (it resolves to ${all})`, { code: "ENOTFOUND" }));
        } else if (opts.all) done(null, answers);
        else done(null, answers[0]!.address, answers[0]!.family);
      },
      (error: Error) => fail(error),
    );
  };

  /**
   * An undici Agent that only reaches allowed addresses. Its connector refuses a blocked
   * IP-literal host before dialling (`net` skips `lookup` for IP literals) and gives
   * `net.connect`/`tls.connect` the guard's {@link lookup} for names, so the address dialled is
   * the one checked. The hostname itself is left alone, so TLS SNI and certificate checks still
   * use the webhook's hostname. Undici options (connect timeout, keep-alive, pipelining, `connect`
   * TLS options…) pass through; refusals surface as request errors whose cause chain holds a
   * {@link BlockedAddressError} (see {@link findBlockedAddressError}).
   */
  dispatcher(options: GuardedAgentOptions = {}): Agent {
    const all = options as Agent.Options;
    const { connect, ...agentOptions } = all;
    if (typeof connect === "function") throw new TypeError("AddressGuard.dispatcher: connect must be connection options, not a connector function (it would bypass the guard)");
    if (all.socketPath != null || connect?.socketPath != null || (connect as { path?: unknown } | undefined)?.path != null) {
      throw new TypeError("AddressGuard.dispatcher: socketPath is not allowed (a Unix socket bypasses the guard)");
    }
    if (all.factory) throw new TypeError("AddressGuard.dispatcher: factory is not allowed (a custom pool could drop the guarded connector)");
    if (connect && "lookup" in connect) throw new TypeError("AddressGuard.dispatcher: connect.lookup is not allowed (the guard supplies its own)");

    // With a connector function, undici's Client ignores its own connection options; pass them here.
    const dial = buildConnector({
      ...(all.maxCachedSessions != null ? { maxCachedSessions: all.maxCachedSessions } : {}),
      ...(all.allowH2 != null ? { allowH2: all.allowH2 } : {}),
      ...(all.connectTimeout != null ? { timeout: all.connectTimeout } : {}),
      ...(typeof all.autoSelectFamily === "boolean"
        ? { autoSelectFamily: all.autoSelectFamily, autoSelectFamilyAttemptTimeout: all.autoSelectFamilyAttemptTimeout }
        : {}),
      ...connect,
      lookup: this.lookup,
    } as buildConnector.BuildOptions);

    const guarded: buildConnector.connector = (connectOptions, callback) => {
      const literal = parseIpLiteral(connectOptions.hostname);
      const verdict = literal && this.#judge(literal);
      if (literal && verdict) {
        const error = new BlockedAddressError({ host: connectOptions.hostname, address: formatIp(literal), ...verdict });
        process.nextTick(() => callback(error, null));
        return;
      }
      dial(connectOptions, callback);
    };
    return new Agent({ ...agentOptions, connect: guarded });
  }

  /** Resolves `host` (literal or name), checks every address, and returns them all. */
  async #resolveChecked(host: string): Promise<IpAddress[]> {
    const literal = parseIpLiteral(host);
    if (literal) {
      const verdict = this.#judge(literal);
      if (verdict) throw new BlockedAddressError({ host, address: formatIp(literal), ...verdict });
      return [literal];
    }
    if (host === "") throw new UnresolvableHostError(host, "is empty");
    let answers: string[];
    try {
      answers = await this.#resolve(host);
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      const detail = typeof code === "string" ? `${code}: ${(error as Error).message}` : String((error as Error)?.message ?? error);
      throw new UnresolvableHostError(host, `does not resolve (${detail})`, typeof code === "string" ? { cause: error, code } : { cause: error });
    }
    const addresses: IpAddress[] = [];
    for (const answer of answers) {
      const address = parseIpLiteral(answer);
      if (!address) throw new UnresolvableHostError(host, `resolved to ${JSON.stringify(answer)}, which is not an IP address`);
      addresses.push(address);
    }
    if (addresses.length === 0) throw new UnresolvableHostError(host, "resolves to no addresses", { code: "ENOTFOUND" });
    const resolved = addresses.map(formatIp);
    for (const address of addresses) {
      const verdict = this.#judge(address);
      if (verdict) throw new BlockedAddressError({ host, address: formatIp(address), ...verdict, resolved });
    }
    return addresses;
  }

  /** The verdict on one address, or `undefined` if it may be reached. */
  #judge(address: IpAddress): Verdict | undefined {
    if (this.#allowed.some((cidr) => cidrContains(cidr, address))) return undefined;
    const text = formatIp({ version: address.version, bytes: address.bytes });
    // :: and ::1 are IPv6's own unspecified and loopback addresses, not IPv4-compatible forms.
    if (address.version === 6 && !cidrContains(UNSPECIFIED_OR_LOOPBACK_V6, address)) {
      const embedded = this.#judgeEmbedded(address);
      if (embedded !== null) return embedded;
    }
    const blocked = BLOCKED_RANGES.find((entry) => cidrContains(entry.cidr, address));
    if (!blocked) return undefined;
    const endpoint = NAMED_ENDPOINTS.get(text);
    const rangeText = blocked.cidr.toString();
    return { range: rangeText, reason: `${blocked.label} (${rangeText})${endpoint ? `: ${endpoint}` : ""}` };
  }

  /**
   * For IPv6 forms that embed IPv4: the verdict on the embedded address (`undefined` = allowed),
   * or `null` if `address` is no such form and the ordinary ranges apply.
   */
  #judgeEmbedded(address: IpAddress): Verdict | undefined | null {
    for (const embedding of EMBEDDINGS) {
      if (!cidrContains(embedding.cidr, address)) continue;
      for (const { offset, invert, role } of embedding.ipv4) {
        const ipv4 = embeddedIPv4(address, offset, invert);
        const verdict = this.#judge(ipv4);
        if (verdict) {
          const who = role ? `${role} ` : "";
          return { range: verdict.range, reason: `${embedding.label} (${embedding.cidr}) for ${who}${formatIp(ipv4)}, which is ${verdict.reason}` };
        }
      }
      return undefined;
    }
    if (cidrContains(LOCAL_NAT64, address)) {
      const inner = this.#judge(embeddedIPv4(address, 12));
      const reason = inner
        ? `local-use NAT64 (${LOCAL_NAT64}) for ${formatIp(embeddedIPv4(address, 12))}, which is ${inner.reason}`
        : `local-use NAT64 (${LOCAL_NAT64}, not globally reachable)`;
      return { range: LOCAL_NAT64.toString(), reason };
    }
    return null;
  }
}
