import { describe, expect, it } from "vitest";
import type { LookupAddress } from "node:dns";
import { formatIp, parseIPv4Loose, parseIpLiteral } from "../../shared/delivery/ip-address";
import {
  AddressGuard,
  BlockedAddressError,
  UnresolvableHostError,
  findBlockedAddressError,
  parseCidrList,
} from "../../shared/delivery/ssrf-guard";

/** A resolver answering from a fixed table, never touching real DNS. */
function fakeResolver(table: Record<string, string[]>): (hostname: string) => Promise<string[]> {
  return async (hostname) => {
    const answer = table[hostname];
    if (!answer) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND" });
    return answer;
  };
}

const names: Record<string, string[]> = {
  "mixed.test": ["93.184.216.34", "127.0.0.1"],
  "mixed-v6.test": ["2606:4700:4700::1111", "fd12:3456::1"],
  "private-last.test": ["8.8.8.8", "1.1.1.1", "10.1.2.3"],
  "metadata.internal": ["169.254.169.254"],
  "credentials.internal": ["169.254.170.2"],
  "mapped.test": ["93.184.216.34", "::ffff:192.168.1.1"],
  "public.test": ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"],
  "localhost.test": ["::1", "127.0.0.1"],
};

const guard = new AddressGuard({ resolve: fakeResolver(names) });

/** [host as given, expected canonical address, a range the reason must name] */
const blocked: readonly [string, string, string][] = [
  // IPv4 in every spelling
  ["127.0.0.1", "127.0.0.1", "127.0.0.0/8"],
  ["2130706433", "127.0.0.1", "127.0.0.0/8"],
  ["0177.0.0.1", "127.0.0.1", "127.0.0.0/8"],
  ["017700000001", "127.0.0.1", "127.0.0.0/8"],
  ["0x7f.0.0.1", "127.0.0.1", "127.0.0.0/8"],
  ["0x7f000001", "127.0.0.1", "127.0.0.0/8"],
  ["0X7F000001", "127.0.0.1", "127.0.0.0/8"],
  ["127.1", "127.0.0.1", "127.0.0.0/8"],
  ["127.0.1", "127.0.0.1", "127.0.0.0/8"],
  ["0x7f.1", "127.0.0.1", "127.0.0.0/8"],
  ["0177.0x0.1", "127.0.0.1", "127.0.0.0/8"],
  ["127.0.0.1.", "127.0.0.1", "127.0.0.0/8"],
  ["0xa.0.0.1", "10.0.0.1", "10.0.0.0/8"],
  ["167772161", "10.0.0.1", "10.0.0.0/8"],
  ["0xc0.0250.1", "192.168.0.1", "192.168.0.0/16"],
  ["0xa9fea9fe", "169.254.169.254", "169.254.0.0/16"],
  ["0", "0.0.0.0", "0.0.0.0/8"],
  // each IPv4 range
  ["0.0.0.0", "0.0.0.0", "0.0.0.0/8"],
  ["10.255.255.255", "10.255.255.255", "10.0.0.0/8"],
  ["100.64.0.1", "100.64.0.1", "100.64.0.0/10"],
  ["100.127.255.254", "100.127.255.254", "100.64.0.0/10"],
  ["127.255.255.254", "127.255.255.254", "127.0.0.0/8"],
  ["169.254.1.1", "169.254.1.1", "169.254.0.0/16"],
  ["172.16.0.1", "172.16.0.1", "172.16.0.0/12"],
  ["172.31.255.255", "172.31.255.255", "172.16.0.0/12"],
  ["192.0.0.8", "192.0.0.8", "192.0.0.0/24"],
  ["192.0.2.10", "192.0.2.10", "192.0.2.0/24"],
  ["192.168.1.1", "192.168.1.1", "192.168.0.0/16"],
  ["198.18.0.1", "198.18.0.1", "198.18.0.0/15"],
  ["198.19.255.1", "198.19.255.1", "198.18.0.0/15"],
  ["198.51.100.7", "198.51.100.7", "198.51.100.0/24"],
  ["203.0.113.9", "203.0.113.9", "203.0.113.0/24"],
  ["224.0.0.1", "224.0.0.1", "224.0.0.0/4"],
  ["239.255.255.250", "239.255.255.250", "224.0.0.0/4"],
  ["240.0.0.1", "240.0.0.1", "240.0.0.0/4"],
  ["255.255.255.255", "255.255.255.255", "255.255.255.255/32"],
  // IPv6 ranges, brackets and zone IDs
  ["::", "::", "::/128"],
  ["::1", "::1", "::1/128"],
  ["[::1]", "::1", "::1/128"],
  ["0:0:0:0:0:0:0:1", "::1", "::1/128"],
  ["fc00::1", "fc00::1", "fc00::/7"],
  ["fd12:3456:789a::1", "fd12:3456:789a::1", "fc00::/7"],
  ["fe80::1", "fe80::1", "fe80::/10"],
  ["fe80::1%eth0", "fe80::1%eth0", "fe80::/10"],
  ["[fe80::1%25eth0]", "fe80::1%eth0", "fe80::/10"],
  ["fec0::1", "fec0::1", "fec0::/10"],
  ["ff02::1", "ff02::1", "ff00::/8"],
  ["2001:db8::1", "2001:db8::1", "2001:db8::/32"],
  ["100::1", "100::1", "100::/64"],
  // IPv6 forms embedding IPv4: judged by the IPv4 address
  ["::ffff:127.0.0.1", "::ffff:127.0.0.1", "127.0.0.0/8"],
  ["[::ffff:127.0.0.1]", "::ffff:127.0.0.1", "127.0.0.0/8"],
  ["::ffff:7f00:1", "::ffff:127.0.0.1", "127.0.0.0/8"],
  ["::FFFF:A9FE:A9FE", "::ffff:169.254.169.254", "169.254.0.0/16"],
  ["::ffff:10.0.0.1", "::ffff:10.0.0.1", "10.0.0.0/8"],
  ["::127.0.0.1", "::7f00:1", "127.0.0.0/8"],
  ["::a00:1", "::a00:1", "10.0.0.0/8"],
  ["::ffff:0:192.168.0.1", "::ffff:0:c0a8:1", "192.168.0.0/16"],
  ["64:ff9b::127.0.0.1", "64:ff9b::7f00:1", "127.0.0.0/8"],
  ["64:ff9b::a9fe:a9fe", "64:ff9b::a9fe:a9fe", "169.254.0.0/16"],
  ["64:ff9b:1::a00:1", "64:ff9b:1::a00:1", "64:ff9b:1::/48"],
  ["64:ff9b:1::808:808", "64:ff9b:1::808:808", "64:ff9b:1::/48"],
  ["2002:7f00:1::", "2002:7f00:1::", "127.0.0.0/8"],
  ["2002:c0a8:101::1", "2002:c0a8:101::1", "192.168.0.0/16"],
  ["2001:0:4136:e378:8000:63bf:80ff:fffe", "2001:0:4136:e378:8000:63bf:80ff:fffe", "127.0.0.0/8"], // client ~80ff:fffe = 127.0.0.1
  ["2001:0:4136:e378:8000:63bf:f5ff:fffe", "2001:0:4136:e378:8000:63bf:f5ff:fffe", "10.0.0.0/8"], // client 10.0.0.1
];

describe("AddressGuard.blockedReason and checkHost on IP literals", () => {
  it("covers at least 40 blocked literals", () => {
    expect(blocked.length).toBeGreaterThanOrEqual(40);
  });

  it.each(blocked)("blocks %s (%s, in %s)", async (host, address, range) => {
    const reason = guard.blockedReason(host);
    expect(reason).toContain(range);
    const error = await guard.checkHost(host).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(BlockedAddressError);
    const blockedError = error as BlockedAddressError;
    expect(blockedError.host).toBe(host);
    expect(blockedError.address).toBe(address);
    expect(blockedError.reason).toBe(reason);
    expect(blockedError.message).toContain(range);
    expect(blockedError.message).toContain(JSON.stringify(host));
    expect(blockedError.message).toContain("WEBHOOK_ALLOWED_CIDRS");
  });

  it("names the embedded IPv4 address and both ranges for IPv6 forms that carry one", () => {
    expect(guard.blockedReason("::ffff:7f00:1")).toBe("an IPv4-mapped IPv6 address (::ffff:0:0/96) for 127.0.0.1, which is loopback (127.0.0.0/8)");
    expect(guard.blockedReason("2002:7f00:1::")).toBe("a 6to4 address (2002::/16) for 127.0.0.1, which is loopback (127.0.0.0/8)");
    expect(guard.blockedReason("2001:0:4136:e378:8000:63bf:80ff:fffe")).toBe(
      "a Teredo address (2001::/32) for client 127.0.0.1, which is loopback (127.0.0.0/8)",
    );
    expect(guard.blockedReason("64:ff9b:1::a00:1")).toBe("local-use NAT64 (64:ff9b:1::/48) for 10.0.0.1, which is private (10.0.0.0/8)");
  });

  it("names the instance metadata and container credentials endpoints", async () => {
    expect(guard.blockedReason("169.254.169.254")).toBe(
      "link-local (169.254.0.0/16): the cloud instance metadata endpoint, serving instance credentials",
    );
    expect(guard.blockedReason("169.254.170.2")).toBe("link-local (169.254.0.0/16): the container credentials endpoint (ECS task role credentials)");
    expect(guard.blockedReason("fd00:ec2::254")).toContain("instance metadata");
    await expect(guard.checkHost("metadata.internal")).rejects.toThrow(
      'webhook host "metadata.internal" resolves to 169.254.169.254, which is link-local (169.254.0.0/16): the cloud instance metadata endpoint, serving instance credentials; webhooks may only reach public addresses (allow it with WEBHOOK_ALLOWED_CIDRS)',
    );
    await expect(guard.checkHost("credentials.internal")).rejects.toThrow(/169\.254\.170\.2, which is link-local \(169\.254\.0\.0\/16\): the container credentials endpoint/);
  });

  it("says which address a literal spelling stands for", async () => {
    await expect(guard.checkHost("0x7f.1")).rejects.toThrow(
      'webhook host "0x7f.1" is the IP address 127.0.0.1, which is loopback (127.0.0.0/8); webhooks may only reach public addresses (allow it with WEBHOOK_ALLOWED_CIDRS)',
    );
  });

  it.each([
    ["8.8.8.8", "8.8.8.8"],
    ["1.1.1.1", "1.1.1.1"],
    ["93.184.216.34", "93.184.216.34"],
    ["134744072", "8.8.8.8"],
    ["0x08.0x08.0x08.0x08", "8.8.8.8"],
    ["100.63.255.255", "100.63.255.255"],
    ["100.128.0.0", "100.128.0.0"],
    ["172.15.255.255", "172.15.255.255"],
    ["172.32.0.0", "172.32.0.0"],
    ["198.17.255.255", "198.17.255.255"],
    ["223.255.255.255", "223.255.255.255"],
    ["2606:4700:4700::1111", "2606:4700:4700::1111"],
    ["[2606:4700:4700::1111]", "2606:4700:4700::1111"],
    ["2001:4860:4860::8888", "2001:4860:4860::8888"],
    ["::ffff:8.8.8.8", "::ffff:8.8.8.8"],
    ["64:ff9b::808:808", "64:ff9b::808:808"],
    ["2002:808:808::1", "2002:808:808::1"],
  ])("lets %s through", async (host, canonical) => {
    expect(guard.blockedReason(host)).toBeUndefined();
    await expect(guard.checkHost(host)).resolves.toEqual([canonical]);
  });

  it("refuses to judge something that is not an IP literal", () => {
    expect(() => guard.blockedReason("example.com")).toThrow('expected an IP address, but "example.com" was given');
  });
});

describe("AddressGuard.checkHost on names (injected resolver)", () => {
  it.each([
    ["mixed.test", "127.0.0.1", "127.0.0.0/8"],
    ["mixed-v6.test", "fd12:3456::1", "fc00::/7"],
    ["private-last.test", "10.1.2.3", "10.0.0.0/8"],
    ["mapped.test", "::ffff:192.168.1.1", "192.168.0.0/16"],
    ["localhost.test", "::1", "::1/128"],
  ])("blocks %s, which resolves to a public and a blocked address (%s)", async (host, address, range) => {
    const error = (await guard.checkHost(host).catch((e: unknown) => e)) as BlockedAddressError;
    expect(error).toBeInstanceOf(BlockedAddressError);
    expect(error.address).toBe(address);
    expect(error.range).toBe(range);
    expect(error.message).toContain(`webhook host ${JSON.stringify(host)} resolves to ${address} (one of its `);
    for (const resolved of names[host]!) expect(error.message).toContain(formatIp(parseIpLiteral(resolved)!));
  });

  it("returns every address of a name that resolves only to public addresses", async () => {
    await expect(guard.checkHost("public.test")).resolves.toEqual(["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"]);
  });

  it("tells an unresolvable name apart from a blocked one", async () => {
    const error = (await guard.checkHost("nope.test").catch((e: unknown) => e)) as UnresolvableHostError;
    expect(error).toBeInstanceOf(UnresolvableHostError);
    expect(error.code).toBe("ENOTFOUND");
    expect(error.message).toBe('webhook host "nope.test" does not resolve (ENOTFOUND: getaddrinfo ENOTFOUND nope.test)');
    const empty = new AddressGuard({ resolve: async () => [] });
    await expect(empty.checkHost("empty.test")).rejects.toThrow('webhook host "empty.test" resolves to no addresses');
    const garbage = new AddressGuard({ resolve: async () => ["not-an-ip"] });
    await expect(garbage.checkHost("garbage.test")).rejects.toBeInstanceOf(UnresolvableHostError);
  });

  it("hands strings that are not IP literals to the resolver", async () => {
    const asked: string[] = [];
    const spy = new AddressGuard({
      resolve: async (hostname) => {
        asked.push(hostname);
        return ["93.184.216.34"];
      },
    });
    for (const host of ["256.0.0.1", "1.2.3.4.5", "0x.0x.0x.0xg", "09.0.0.1", "example.com"]) await spy.checkHost(host);
    expect(asked).toEqual(["256.0.0.1", "1.2.3.4.5", "0x.0x.0x.0xg", "09.0.0.1", "example.com"]);
  });
});

describe("allowlist", () => {
  const allowLoopback = new AddressGuard({ allowedCidrs: ["127.0.0.0/8"], resolve: fakeResolver(names) });

  it("lets an allowlisted address through, in any spelling, but nothing else", async () => {
    for (const host of ["127.0.0.1", "127.9.9.9", "0x7f.1", "2130706433", "::ffff:127.0.0.1"]) {
      expect(allowLoopback.blockedReason(host), host).toBeUndefined();
    }
    await expect(allowLoopback.checkHost("127.0.0.1")).resolves.toEqual(["127.0.0.1"]);
    await expect(allowLoopback.checkHost("mixed.test")).resolves.toEqual(["93.184.216.34", "127.0.0.1"]);
    expect(allowLoopback.blockedReason("10.0.0.1")).toBe("private (10.0.0.0/8)");
    expect(allowLoopback.blockedReason("::1")).toBe("IPv6 loopback (::1/128)");
    await expect(allowLoopback.checkHost("private-last.test")).rejects.toBeInstanceOf(BlockedAddressError);
  });

  it("takes IPv6 CIDRs and parsed lists", () => {
    const v6 = new AddressGuard({ allowedCidrs: parseCidrList("::1/128, fd00::/8 169.254.169.254") });
    expect(v6.blockedReason("::1")).toBeUndefined();
    expect(v6.blockedReason("fd12::1")).toBeUndefined();
    expect(v6.blockedReason("169.254.169.254")).toBeUndefined();
    expect(v6.blockedReason("169.254.169.253")).toContain("169.254.0.0/16");
    expect(v6.blockedReason("fc00::1")).toContain("fc00::/7");
    expect(v6.blockedReason("127.0.0.1")).toContain("127.0.0.0/8");
  });

  it("parses CIDR lists", () => {
    expect(parseCidrList("")).toEqual([]);
    expect(parseCidrList("  ,  ")).toEqual([]);
    expect(parseCidrList("127.0.0.0/8, ::1/128,10.0.0.0/8\n2001:db8::/32").map(String)).toEqual([
      "127.0.0.0/8",
      "::1/128",
      "10.0.0.0/8",
      "2001:db8::/32",
    ]);
    expect(parseCidrList("192.168.1.1 ::").map(String)).toEqual(["192.168.1.1/32", "::/128"]);
  });

  it.each([
    ["127.0.0.0/8, 10.0.0.0/33", /entry 2 "10\.0\.0\.0\/33" has prefix length "33", but an IPv4 prefix length must be a whole number from 0 to 32/],
    ["::1/129", /entry 1 "::1\/129" has prefix length "129", but an IPv6 prefix length must be a whole number from 0 to 128/],
    ["localhost", /entry 1 "localhost" does not start with an IP address/],
    ["127.1/8", /entry 1 "127\.1\/8" does not start with an IP address/],
    ["10.0.0.1/8", /entry 1 "10\.0\.0\.1\/8" has bits set after its \/8 prefix; did you mean "10\.0\.0\.0\/8"\?/],
    ["10.0.0.0/", /entry 1 "10\.0\.0\.0\/" has prefix length ""/],
    ["fe80::1%eth0/64", /entry 1 "fe80::1%eth0\/64" does not start with an IP address/],
  ])("rejects %j with a message naming the entry", (text, message) => {
    expect(() => parseCidrList(text)).toThrow(message);
    expect(() => new AddressGuard({ allowedCidrs: text.split(", ") })).toThrow(message);
  });
});

describe("AddressGuard.lookup", () => {
  const lookup = (g: AddressGuard, host: string, options: object) =>
    new Promise<{ address: string | LookupAddress[]; family?: number }>((resolve, reject) =>
      g.lookup(host, options, (err, address, family) => (err ? reject(err) : resolve({ address, family }))),
    );

  it("answers like dns.lookup, honouring all and family", async () => {
    await expect(lookup(guard, "public.test", { all: true })).resolves.toEqual({
      address: [
        { address: "93.184.216.34", family: 4 },
        { address: "2606:2800:220:1:248:1893:25c8:1946", family: 6 },
      ],
      family: undefined,
    });
    await expect(lookup(guard, "public.test", {})).resolves.toEqual({ address: "93.184.216.34", family: 4 });
    await expect(lookup(guard, "public.test", { family: 6 })).resolves.toEqual({ address: "2606:2800:220:1:248:1893:25c8:1946", family: 6 });
    await expect(lookup(guard, "public.test", { family: "IPv4", all: true })).resolves.toEqual({
      address: [{ address: "93.184.216.34", family: 4 }],
      family: undefined,
    });
    await expect(lookup(guard, "8.8.8.8", { all: true })).resolves.toEqual({ address: [{ address: "8.8.8.8", family: 4 }], family: undefined });
  });

  it("rejects when any address is blocked, whatever family is asked for", async () => {
    // mixed.test's blocked address is IPv4; asking for IPv6 only must not hide it.
    await expect(lookup(guard, "mixed.test", { family: 6 })).rejects.toBeInstanceOf(BlockedAddressError);
    await expect(lookup(guard, "mixed.test", { all: true })).rejects.toThrow(/resolves to 127\.0\.0\.1/);
    await expect(lookup(guard, "0x7f.1", {})).rejects.toBeInstanceOf(BlockedAddressError);
    await expect(lookup(guard, "nope.test", { all: true })).rejects.toBeInstanceOf(UnresolvableHostError);
    await expect(lookup(guard, "8.8.8.8", { family: 6 })).rejects.toThrow('webhook host "8.8.8.8" has no IPv6 address (it resolves to 8.8.8.8)');
  });
});

describe("AddressGuard.dispatcher options", () => {
  it("refuses options that would bypass the guard", () => {
    const anyOptions = (options: object) => options as Parameters<AddressGuard["dispatcher"]>[0];
    expect(() => guard.dispatcher(anyOptions({ connect: () => undefined }))).toThrow(/connector function/);
    expect(() => guard.dispatcher(anyOptions({ socketPath: "/tmp/x.sock" }))).toThrow(/socketPath/);
    expect(() => guard.dispatcher(anyOptions({ connect: { socketPath: "/tmp/x.sock" } }))).toThrow(/socketPath/);
    expect(() => guard.dispatcher(anyOptions({ connect: { lookup: () => undefined } }))).toThrow(/lookup/);
    expect(() => guard.dispatcher(anyOptions({ factory: () => undefined }))).toThrow(/factory/);
  });
});

describe("findBlockedAddressError", () => {
  it("finds the error through cause and AggregateError chains", () => {
    const inner = new BlockedAddressError({ host: "h", address: "127.0.0.1", range: "127.0.0.0/8", reason: "loopback (127.0.0.0/8)" });
    expect(findBlockedAddressError(inner)).toBe(inner);
    expect(findBlockedAddressError(new Error("outer", { cause: new AggregateError([new Error("x"), inner]) }))).toBe(inner);
    expect(findBlockedAddressError(new Error("plain"))).toBeUndefined();
    expect(findBlockedAddressError("text")).toBeUndefined();
  });
});

describe("parseIPv4Loose", () => {
  it.each([
    ["1.2.3.4", 0x01020304],
    ["1.2.772", 0x01020304],
    ["1.131844", 0x01020304],
    ["16909060", 0x01020304],
    ["0x1.0x2.0x3.0x4", 0x01020304],
    ["01.02.03.04", 0x01020304],
    ["4294967295", 0xffffffff],
    ["0x", 0],
  ])("reads %s", (text, value) => {
    expect(parseIPv4Loose(text)).toBe(value);
  });

  it.each(["4294967296", "1.2.3.256", "1.2.65536", "256.1", "08.1.1.1", "1..1", "", ".", "1.2.3.4.5", "0xg", "-1", "1e3", " 1.2.3.4"])(
    "rejects %j",
    (text) => {
      expect(parseIPv4Loose(text)).toBeUndefined();
    },
  );
});
