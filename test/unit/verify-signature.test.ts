import { randomBytes } from "node:crypto";
import { Webhook } from "standardwebhooks";
import { describe, expect, it } from "vitest";
import { signatureHeaders } from "../../shared/delivery/signature";
import { malformedSecret, verifyWebhook } from "../../shared/delivery/verify-signature";
import { generateSecret } from "../../shared/sinks/secret";

const NOW = 1_800_000_000; // seconds; every check here runs on this fixed clock
const now = () => NOW * 1000 + 999;
const id = "msg_0123456789abcdef0123456789abcdef";
const body = JSON.stringify({ Index: 12, Events: [{ Topic: "Job", Type: "JobRegistered", Key: "web", Namespace: "default", Index: 12, Payload: { Job: { ID: "web", Name: "wéb ✓" } } }] });

/** Headers as the official Standard Webhooks library signs them. */
function officialHeaders(secret: string, msgId: string, timestampSeconds: number, payload: string): Record<string, string> {
  return { "webhook-id": msgId, "webhook-timestamp": String(timestampSeconds), "webhook-signature": new Webhook(secret).sign(msgId, new Date(timestampSeconds * 1000), payload) };
}

const verify = (secrets: readonly string[], headers: Parameters<typeof verifyWebhook>[1], payload: string | Buffer = body, toleranceSeconds?: number) =>
  verifyWebhook(secrets, headers, payload, { now, ...(toleranceSeconds === undefined ? {} : { toleranceSeconds }) });

describe("verifyWebhook: genuine requests", () => {
  it("accepts a request signed by the official standardwebhooks library, returning its id and timestamp", () => {
    const secret = generateSecret();
    expect(verify([secret], officialHeaders(secret, id, NOW, body))).toEqual({ ok: true, id, timestamp: NOW });
  });

  it("accepts a request signed by our signer, with the body as a string or as the raw bytes", () => {
    const secret = generateSecret();
    const headers = signatureHeaders([secret], id, NOW - 10, body);
    expect(verify([secret], headers)).toEqual({ ok: true, id, timestamp: NOW - 10 });
    expect(verify([secret], headers, Buffer.from(body, "utf8"))).toEqual({ ok: true, id, timestamp: NOW - 10 });
    // And the official verifier agrees with our signer (on the real clock).
    const live = Math.floor(Date.now() / 1000);
    const liveHeaders = signatureHeaders([secret], id, live, body);
    expect(new Webhook(secret).verify(body, liveHeaders)).toEqual(JSON.parse(body));
    expect(verifyWebhook([secret], liveHeaders, body)).toEqual({ ok: true, id, timestamp: live });
  });

  it("reads header names case-insensitively, from a record or a Fetch Headers, and as Node gives them", () => {
    const secret = generateSecret();
    const headers = signatureHeaders([secret], id, NOW, body);
    const shouted = Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toUpperCase(), value]));
    expect(verify([secret], shouted)).toMatchObject({ ok: true });
    expect(verify([secret], new Headers(headers))).toMatchObject({ ok: true });
    expect(verify([secret], { ...headers, "content-type": "application/json", "user-agent": ["x"] })).toMatchObject({ ok: true });
  });

  it("during a rotation accepts a header with one signature per secret, with either secret alone or both", () => {
    const [current, previous] = [generateSecret(), generateSecret()];
    const ours = signatureHeaders([current, previous], id, NOW, body);
    const official = { ...officialHeaders(current, id, NOW, body) };
    official["webhook-signature"] = `${official["webhook-signature"]} ${new Webhook(previous).sign(id, new Date(NOW * 1000), body)}`;
    for (const headers of [ours, official]) {
      expect(verify([current], headers)).toMatchObject({ ok: true });
      expect(verify([previous], headers)).toMatchObject({ ok: true });
      expect(verify([generateSecret(), previous], headers)).toMatchObject({ ok: true });
      expect(verify([generateSecret()], headers)).toMatchObject({ ok: false, reason: expect.stringMatching(/^no signature matches: none of the 2 v1 signatures in webhook-signature was made with the 1 secret given/) });
    }
    // A receiver holding both secrets accepts a sender that signs with only the new one.
    expect(verify([previous, current], signatureHeaders([current], id, NOW, body))).toMatchObject({ ok: true });
    // Unknown versions (asymmetric v1a) and extra spaces are ignored.
    expect(verify([current], { ...ours, "webhook-signature": `v1a,AAAA  ${ours["webhook-signature"]!.split(" ")[0]}  ` })).toMatchObject({ ok: true });
  });
});

describe("verifyWebhook: refusals, each with a reason", () => {
  const secret = generateSecret();
  const headers = officialHeaders(secret, id, NOW, body);

  it("refuses a tampered body, id or timestamp, as the official verifier does", () => {
    const tampered: Array<[Record<string, string>, string]> = [
      [headers, body.replace('"Index":12', '"Index":13')],
      [headers, `${body} `],
      [{ ...headers, "webhook-id": "msg_other" }, body],
      [{ ...headers, "webhook-timestamp": String(NOW - 1) }, body],
    ];
    for (const [h, payload] of tampered) {
      const result = verify([secret], h, payload);
      expect(result).toEqual({ ok: false, reason: expect.stringMatching(/^no signature matches: none of the 1 v1 signature in webhook-signature was made with the 1 secret given/) });
    }
    // A signature of the wrong length or not base64 is refused, not thrown on.
    for (const bad of ["v1,", "v1,AAAA", `v1,${"!".repeat(44)}`, `v1,${randomBytes(32).toString("base64")}`]) {
      expect(verify([secret], { ...headers, "webhook-signature": bad })).toMatchObject({ ok: false, reason: expect.stringContaining("no signature matches") });
    }
    expect(verify([secret], { ...headers, "webhook-signature": "v1a,AAAA v2,BBBB" })).toEqual({ ok: false, reason: 'no signature matches: webhook-signature has no "v1,<base64>" signature (received "v1a,AAAA v2,BBBB")' });
  });

  it("refuses a timestamp outside the tolerance, saying by how much, and accepts one at its edge", () => {
    expect(verify([secret], officialHeaders(secret, id, NOW - 300, body))).toMatchObject({ ok: true });
    expect(verify([secret], officialHeaders(secret, id, NOW + 300, body))).toMatchObject({ ok: true });
    expect(verify([secret], officialHeaders(secret, id, NOW - 301, body))).toEqual({
      ok: false,
      reason: `timestamp too old: webhook-timestamp ${NOW - 301} is 301 s before now, 1 s beyond the 300 s tolerance (a replay, or a clock off)`,
    });
    expect(verify([secret], officialHeaders(secret, id, NOW - 3600, body), body, 60)).toMatchObject({ ok: false, reason: expect.stringContaining("is 3600 s before now, 3540 s beyond the 60 s tolerance") });
    expect(verify([secret], officialHeaders(secret, id, NOW + 400, body))).toEqual({
      ok: false,
      reason: `timestamp too new: webhook-timestamp ${NOW + 400} is 400 s after now, 100 s beyond the 300 s tolerance (a clock off?)`,
    });
    // A timestamp in milliseconds is named as such.
    const ms = signatureHeaders([secret], id, NOW * 1000, body);
    expect(verify([secret], ms)).toMatchObject({ ok: false, reason: expect.stringMatching(/^timestamp too new: .*it looks like milliseconds, not seconds$/) });
    // The clock defaults to the real one: a request signed now with our signer verifies, one from an hour ago does not.
    expect(verifyWebhook([secret], officialHeaders(secret, id, Math.floor(Date.now() / 1000) - 3600, body), body)).toMatchObject({ ok: false, reason: expect.stringContaining("timestamp too old") });
  });

  it("refuses a timestamp that is not Unix seconds", () => {
    for (const raw of ["abc", "1.5", "-1", "1e9", "0x10", "1".repeat(16)]) {
      expect(verify([secret], { ...headers, "webhook-timestamp": raw })).toEqual({ ok: false, reason: `malformed header webhook-timestamp: expected Unix seconds (digits only), received ${JSON.stringify(raw)}` });
    }
  });

  it("names the missing headers", () => {
    for (const name of ["webhook-id", "webhook-timestamp", "webhook-signature"]) {
      const without = Object.fromEntries(Object.entries(headers).filter(([n]) => n !== name));
      expect(verify([secret], without)).toEqual({ ok: false, reason: `missing header ${name}` });
      expect(verify([secret], { ...headers, [name]: "  " })).toEqual({ ok: false, reason: `missing header ${name}` });
    }
    expect(verify([secret], {})).toEqual({ ok: false, reason: "missing headers webhook-id, webhook-timestamp, webhook-signature" });
    expect(verify([secret], new Headers())).toEqual({ ok: false, reason: "missing headers webhook-id, webhook-timestamp, webhook-signature" });
    expect(verify([secret], { ...headers, "webhook-id": [id, id] })).toEqual({ ok: false, reason: "header webhook-id appears 2 times; expected once" });
  });

  it.each([
    ["not-a-secret-at-all", `malformed secret: it must start with "whsec_" (received "not-a-sec…", 19 characters)`],
    ["whsec_!!!!", `malformed secret: it must be "whsec_" followed by standard base64 (received "whsec…", 10 characters)`],
    ["whsec_" + Buffer.alloc(16, 1).toString("base64"), `malformed secret: it must encode 24 to 64 bytes, but encodes 16 (received "whsec_AQEB…", 30 characters)`],
    [` ${"whsec_" + Buffer.alloc(32, 7).toString("base64")}\n`, `malformed secret: it must start with "whsec_" (received " whsec_Bwc…", 52 characters, with whitespace around it)`],
    ["", `malformed secret: it must start with "whsec_" (received an empty string)`],
  ])("refuses the malformed secret %j, saying what was received without showing it all", (bad, reason) => {
    expect(verify([bad], headers)).toEqual({ ok: false, reason });
    expect(malformedSecret([bad])).toBe(reason);
    if (bad.length > 20) expect(reason).not.toContain(bad.trim().slice(-10));
    // One bad secret among good ones is named by its position, not skipped.
    expect(verify([secret, bad], headers)).toEqual({ ok: false, reason: reason.replace("malformed secret:", "malformed secret #2 of 2:") });
  });

  it("refuses when there is no secret, and checks its own options", () => {
    expect(verify([], headers)).toEqual({ ok: false, reason: "no secret to verify with: pass the sink's whsec_ secret" });
    expect(malformedSecret([secret, generateSecret()])).toBeUndefined();
    expect(() => verify([secret], headers, body, -1)).toThrow("toleranceSeconds must be a number of seconds >= 0, but -1 was given");
  });

  it("agrees with the official verifier on random mutations of a signed request", () => {
    const live = Math.floor(Date.now() / 1000);
    const good = officialHeaders(secret, id, live, body);
    const mutations: Array<[Record<string, string>, string]> = [[good, body]];
    for (let i = 0; i < 200; i++) {
      const which = i % 3;
      if (which === 0) {
        const at = i % body.length;
        mutations.push([good, body.slice(0, at) + String.fromCharCode(body.charCodeAt(at) ^ (1 + (i % 7))) + body.slice(at + 1)]);
      } else if (which === 1) {
        const sig = good["webhook-signature"]!;
        const at = 3 + (i % (sig.length - 3));
        mutations.push([{ ...good, "webhook-signature": sig.slice(0, at) + (sig[at] === "A" ? "B" : "A") + sig.slice(at + 1) }, body]);
      } else {
        mutations.push([{ ...good, "webhook-timestamp": String(live + (i % 2 === 0 ? 1 : -1) * (i % 400)) }, body]);
      }
    }
    for (const [h, payload] of mutations) {
      let official = true;
      try {
        new Webhook(secret).verify(payload, h, { jsonParse: false });
      } catch {
        official = false;
      }
      expect(verifyWebhook([secret], h, payload).ok, JSON.stringify({ h, payload })).toBe(official);
    }
  });
});
