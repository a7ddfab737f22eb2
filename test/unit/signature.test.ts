import { createHmac, randomBytes } from "node:crypto";
import { Webhook } from "standardwebhooks";
import { describe, expect, it, vi } from "vitest";
import { deliveryId, webhookId } from "../../shared/delivery/delivery-message";
import { signatureHeaders, webhookSignature } from "../../shared/delivery/signature";
import { generateSecret } from "../../shared/sinks/secret";

const secretOf = (bytes: number, fill?: number) => "whsec_" + (fill === undefined ? randomBytes(bytes) : Buffer.alloc(bytes, fill)).toString("base64");
const nowSeconds = () => Math.floor(Date.now() / 1000);
const body = JSON.stringify({ Index: 12, Events: [{ Topic: "Job", Type: "JobRegistered", Key: "web", Index: 12, Payload: { Job: { ID: "web", Name: "wéb ✓" } } }] });

/** The official Standard Webhooks verifier; throws when no signature matches. */
function verify(secret: string, payload: string, headers: Record<string, string>) {
  return new Webhook(secret).verify(payload, headers);
}

describe("webhookSignature / signatureHeaders (Standard Webhooks)", () => {
  it("produces headers the standardwebhooks verifier accepts", () => {
    const secret = generateSecret();
    const ts = nowSeconds();
    const headers = signatureHeaders([secret], "msg_0123456789abcdef0123456789abcdef", ts, body);
    expect(headers).toEqual({ "webhook-id": "msg_0123456789abcdef0123456789abcdef", "webhook-timestamp": String(ts), "webhook-signature": expect.stringMatching(/^v1,[A-Za-z0-9+/]+=*$/) });
    expect(verify(secret, body, headers)).toEqual(JSON.parse(body));
  });

  it("equals the reference library's signature and HMAC-SHA256 over id.timestamp.body with the decoded key", () => {
    const key = randomBytes(32);
    const secret = "whsec_" + key.toString("base64");
    const ts = 1_700_000_000;
    const ours = webhookSignature([secret], "msg_x", ts, body);
    expect(ours).toBe(new Webhook(secret).sign("msg_x", new Date(ts * 1000), body));
    expect(ours).toBe(`v1,${createHmac("sha256", key).update(`msg_x.${ts}.${body}`).digest("base64")}`);
    // A Buffer body signs the same bytes as its UTF-8 string.
    expect(webhookSignature([secret], "msg_x", ts, Buffer.from(body, "utf8"))).toBe(ours);
  });

  it("signs with every secret during a rotation: space-separated v1 signatures, each verifying with its own secret", () => {
    const secrets = [generateSecret(), secretOf(24), secretOf(64)];
    const ts = nowSeconds();
    const headers = signatureHeaders(secrets, "msg_rot", ts, body);
    const parts = headers["webhook-signature"]!.split(" ");
    expect(parts).toHaveLength(3);
    expect(new Set(parts).size).toBe(3);
    for (const part of parts) expect(part).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    for (const secret of secrets) expect(verify(secret, body, headers)).toBeTruthy();
    // Signature i belongs to secret i, and only to it.
    secrets.forEach((secret, i) => {
      secrets.forEach((_, j) => {
        const one = { ...headers, "webhook-signature": parts[j]! };
        if (i === j) expect(verify(secret, body, one)).toBeTruthy();
        else expect(() => verify(secret, body, one)).toThrow();
      });
    });
    expect(() => verify(generateSecret(), body, headers)).toThrow();
  });

  it("fails verification when the body, timestamp or id is changed", () => {
    const secret = generateSecret();
    const ts = nowSeconds();
    const headers = signatureHeaders([secret], "msg_t", ts, body);
    expect(() => verify(secret, body.replace('"Index":12', '"Index":13'), headers)).toThrow();
    expect(() => verify(secret, body + " ", headers)).toThrow();
    expect(() => verify(secret, body, { ...headers, "webhook-timestamp": String(ts - 1) })).toThrow();
    expect(() => verify(secret, body, { ...headers, "webhook-id": "msg_u" })).toThrow();
    expect(verify(secret, body, headers)).toBeTruthy();
  });

  it.each([
    ["not-a-secret", /malformed: it must start with "whsec_"/],
    ["whsec_!!!!", /malformed: it must be "whsec_" followed by standard base64/],
    ["whsec_" + Buffer.alloc(16, 1).toString("base64"), /malformed: it must encode 24 to 64 bytes, but encodes 16/],
    ["whsec_" + Buffer.alloc(65, 1).toString("base64"), /malformed: it must encode 24 to 64 bytes, but encodes 65/],
  ])("refuses the malformed secret %j with a clear error", (secret, message) => {
    expect(() => webhookSignature([secret], "msg_a", 1, body)).toThrow(message);
    // One bad secret among good ones is not skipped silently.
    expect(() => signatureHeaders([generateSecret(), secret], "msg_a", 1, body)).toThrow(message);
  });

  it("equals createHmac (HMAC-SHA256 over id.timestamp.body) for many keys, ids, timestamps and bodies", () => {
    // Deterministic variety: key lengths across 24–64 bytes (64 is SHA-256's block), body
    // lengths around the block and padding boundaries, multi-byte and astral characters, a
    // lone surrogate (written as U+FFFD by both), and bodies past the one-shot path's
    // scratch bound (256 KiB), which createHmac signs; then small ones again after it grew.
    const pieces = ["a", "{", "\"", "é", "✓", "😀", "\ud800", "\u0000", "\n", "日本"];
    let seed = 7;
    const next = (n: number) => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) % n;
    const lengths = [0, 1, 2, 54, 55, 56, 63, 64, 65, 119, 120, 1_433, 4_095, 8_192, 20_000, 87_000, 87_500, 300_000, 3, 1_500];
    let checked = 0;
    for (const [k, length] of lengths.entries()) {
      const key = randomBytes(24 + (k % 41));
      const secret = "whsec_" + key.toString("base64");
      let payload = "";
      while (payload.length < length) payload += pieces[next(pieces.length)]!;
      const id = k % 3 === 0 ? `msg_${"0123456789abcdef".repeat(2)}` : `msg_ü${k}`;
      const ts = 1_600_000_000 + next(200_000_000);
      for (const body of [payload, Buffer.from(payload, "utf8")]) {
        const expected = createHmac("sha256", key).update(`${id}.${ts}.`).update(body).digest("base64");
        expect(webhookSignature([secret], id, ts, body), `body of ${length} characters, key of ${key.length} bytes`).toBe(`v1,${expected}`);
        checked++;
      }
    }
    expect(checked).toBe(2 * lengths.length);
    // Keys of every valid length, with the same body and id.
    for (let bytes = 24; bytes <= 64; bytes++) {
      const key = randomBytes(bytes);
      expect(webhookSignature(["whsec_" + key.toString("base64")], "msg_k", 1, body)).toBe(`v1,${createHmac("sha256", key).update(`msg_k.1.${body}`).digest("base64")}`);
    }
  });

  it("signs correctly in a row with one secret, across its working buffer growing and other secrets in between", async () => {
    // The signer assembles each HMAC input in one working buffer kept between calls and
    // grown on demand: neither a grown buffer nor another key's signature in between may
    // leave stale bytes behind. A fresh copy of the module, so that the buffer starts small
    // (8 KiB) whatever ran before.
    vi.resetModules();
    const { webhookSignature } = await import("../../shared/delivery/signature");
    const key = randomBytes(32);
    const secret = "whsec_" + key.toString("base64");
    const other = generateSecret();
    const expected = (b: string) => `v1,${createHmac("sha256", key).update(`msg_s.9.${b}`).digest("base64")}`;
    for (const b of ["x", "y".repeat(30_000), "z", "w".repeat(70_000), "v"]) {
      expect(webhookSignature([secret], "msg_s", 9, b), `a body of ${b.length} characters`).toBe(expected(b));
      webhookSignature([other], "msg_s", 9, b);
      expect(webhookSignature([secret], "msg_s", 9, b)).toBe(expected(b));
      expect(webhookSignature([secret], "msg_s", 9, Buffer.from(b))).toBe(expected(b));
    }
  });

  it("signs a rotation's secrets independently (each signature as if alone)", () => {
    const secrets = [secretOf(64, 1), secretOf(24, 2), secretOf(32, 3)];
    const together = webhookSignature(secrets, "msg_r", 42, body);
    expect(together).toBe(secrets.map((s) => webhookSignature([s], "msg_r", 42, body)).join(" "));
    for (const secret of secrets) expect(new Webhook(secret).sign("msg_r", new Date(42_000), body)).toBe(webhookSignature([secret], "msg_r", 42, body));
  });

  it("refuses to sign without a secret", () => {
    expect(() => webhookSignature([], "msg_a", 1, body)).toThrow("cannot sign a webhook without a secret");
  });
});

/** SQS: a deduplication ID is up to 128 alphanumeric and punctuation characters. */
const SQS_DEDUP_ID = /^[A-Za-z0-9!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]{1,128}$/;

describe("deliveryId / webhookId", () => {
  it("gives a stable 32-hex delivery ID per (sink, event), valid as an SQS deduplication ID", () => {
    const id = deliveryId("team-a", "42-abcdef0123456789abcd");
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect(id).toMatch(SQS_DEDUP_ID);
    expect(deliveryId("team-a", "42-abcdef0123456789abcd")).toBe(id);
    // Long and unusual inputs still make a short, valid ID.
    const long = deliveryId("s".repeat(128), `gap-${"cluster ünïcode ".repeat(20)}-1-2`);
    expect(long).toMatch(/^[0-9a-f]{32}$/);
    expect(long).toMatch(SQS_DEDUP_ID);
  });

  it("differs for different sinks, events, and ways of splitting the same characters", () => {
    const ids = [
      deliveryId("a", "1-x"),
      deliveryId("b", "1-x"),
      deliveryId("a", "2-x"),
      deliveryId("ab", "c"),
      deliveryId("a", "bc"),
      deliveryId("", "abc"),
    ];
    expect(new Set(ids).size).toBe(ids.length);
  });

  it("names a single-event POST after its delivery, and a multi-event one after its deliveries in order", () => {
    const [a, b, c] = [deliveryId("s", "1"), deliveryId("s", "2"), deliveryId("s", "3")];
    expect(webhookId([a])).toBe(`msg_${a}`);
    const ab = webhookId([a, b]);
    expect(ab).toMatch(/^msg_[0-9a-f]{32}$/);
    expect(webhookId([a, b])).toBe(ab);
    const others = [webhookId([b, a]), webhookId([a, b, c]), webhookId([a]), webhookId([b]), webhookId([a, c])];
    expect(new Set([ab, ...others]).size).toBe(others.length + 1);
    for (const id of [ab, ...others]) expect(id).toMatch(SQS_DEDUP_ID);
  });
});
