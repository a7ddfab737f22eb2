import { createHmac } from "node:crypto";
import { decodeSecret } from "../sinks/secret";

/**
 * Standard Webhooks signing (https://www.standardwebhooks.com): the signature of a request
 * is `v1,` + base64(HMAC-SHA256(key, `${id}.${timestamp}.${body}`)), where the key is the
 * base64 part of a `whsec_` secret. During a secret rotation the header carries one
 * signature per valid secret, separated by spaces; a verifier accepts any of them.
 */
export function webhookSignature(secrets: readonly string[], id: string, timestampSeconds: number, body: string | Buffer): string {
  if (secrets.length === 0) throw new Error("cannot sign a webhook without a secret");
  return secrets.map((secret) => `v1,${signatureOf(secret, id, timestampSeconds, body)}`).join(" ");
}

/** Decoded keys of recently used secrets (a few per sink), so a secret is decoded once, not per request. */
const keys = new Map<string, Buffer>();
const KEY_CACHE_SIZE = 1_000;

function keyOf(secret: string): Buffer {
  let key = keys.get(secret);
  if (key === undefined) {
    const decoded = decodeSecret(secret);
    if ("problem" in decoded) throw new Error(`a sink's signing secret is malformed: it ${decoded.problem}`);
    key = decoded.key;
    if (keys.size >= KEY_CACHE_SIZE) keys.delete(keys.keys().next().value as string);
    keys.set(secret, key);
  }
  return key;
}

/**
 * One signature without its `v1,` prefix: base64(HMAC-SHA256(key, `${id}.${timestamp}.${body}`)).
 * Shared by the signer and the verifier (verify-signature.ts); throws on a malformed secret.
 */
export function signatureOf(secret: string, id: string, timestampSeconds: number, body: string | Buffer): string {
  return createHmac("sha256", keyOf(secret)).update(`${id}.${timestampSeconds}.`).update(body).digest("base64");
}

/** The headers that sign one request (Standard Webhooks names). */
export function signatureHeaders(secrets: readonly string[], id: string, timestampSeconds: number, body: string | Buffer): Record<string, string> {
  return {
    "webhook-id": id,
    "webhook-timestamp": String(timestampSeconds),
    "webhook-signature": webhookSignature(secrets, id, timestampSeconds, body),
  };
}
