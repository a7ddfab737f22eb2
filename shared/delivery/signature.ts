import { createHmac, hash } from "node:crypto";
import { decodeSecret } from "../sinks/secret";

/**
 * Standard Webhooks signing (https://www.standardwebhooks.com): the signature of a request
 * is `v1,` + base64(HMAC-SHA256(key, `${id}.${timestamp}.${body}`)), where the key is the
 * base64 part of a `whsec_` secret. During a secret rotation the header carries one
 * signature per valid secret, separated by spaces; a verifier accepts any of them.
 */
export function webhookSignature(secrets: readonly string[], id: string, timestampSeconds: number, body: string | Buffer): string {
  if (secrets.length === 0) throw new Error("cannot sign a webhook without a secret");
  let header = `v1,${signatureOf(secrets[0]!, id, timestampSeconds, body)}`;
  for (let i = 1; i < secrets.length; i++) header += ` v1,${signatureOf(secrets[i]!, id, timestampSeconds, body)}`;
  return header;
}

/** SHA-256's block size: HMAC pads (or first hashes) the key to this many bytes. */
const BLOCK = 64;
const DIGEST = 32;

/**
 * A secret made ready for HMAC (RFC 2104) by hand: the key XOR ipad, and a buffer that
 * holds the key XOR opad followed by room for the inner digest. HMAC-SHA256(K, m) is
 * SHA256((K' ^ opad) ‖ SHA256((K' ^ ipad) ‖ m)), where K' is the key padded with zeros to
 * 64 bytes (or its SHA-256, when longer). Two one-shot `crypto.hash` calls compute it
 * without the per-request `Hmac` object, whose OpenSSL context setup and garbage cost
 * several times the hashing of a typical body.
 */
interface PreparedKey {
  readonly key: Buffer;
  readonly ipad: Buffer;
  /** `K' ^ opad` (64 bytes), then the inner digest (32 bytes), written per signature. */
  readonly outer: Buffer;
}

function prepare(key: Buffer): PreparedKey {
  const padded = Buffer.alloc(BLOCK);
  (key.length > BLOCK ? hash("sha256", key, "buffer") : key).copy(padded);
  const ipad = Buffer.alloc(BLOCK);
  const outer = Buffer.alloc(BLOCK + DIGEST);
  for (let i = 0; i < BLOCK; i++) {
    ipad[i] = padded[i]! ^ 0x36;
    outer[i] = padded[i]! ^ 0x5c;
  }
  return { key, ipad, outer };
}

/** Prepared keys of recently used secrets (a few per sink), so a secret is decoded once, not per request. */
const keys = new Map<string, PreparedKey>();
const KEY_CACHE_SIZE = 1_000;

function keyOf(secret: string): PreparedKey {
  let key = keys.get(secret);
  if (key === undefined) {
    const decoded = decodeSecret(secret);
    if ("problem" in decoded) throw new Error(`a sink's signing secret is malformed: it ${decoded.problem}`);
    key = prepare(decoded.key);
    if (keys.size >= KEY_CACHE_SIZE) keys.delete(keys.keys().next().value as string);
    keys.set(secret, key);
  }
  return key;
}

/**
 * The inner hash's input, `K' ^ ipad ‖ id.timestamp.body`, is assembled here. Signing is
 * synchronous, so one buffer serves every call; it grows up to SCRATCH_MAX_BYTES. A body
 * that might not fit (its UTF-8 can take up to 3 bytes per UTF-16 unit) goes through
 * `createHmac`, where the hashing outweighs the object's setup anyway.
 */
const SCRATCH_MAX_BYTES = 256 * 1024;
let scratch = Buffer.allocUnsafe(8 * 1024);

/**
 * One signature without its `v1,` prefix: base64(HMAC-SHA256(key, `${id}.${timestamp}.${body}`)).
 * Shared by the signer and the verifier (verify-signature.ts); throws on a malformed secret.
 */
export function signatureOf(secret: string, id: string, timestampSeconds: number, body: string | Buffer): string {
  const key = keyOf(secret);
  const prefix = `${id}.${timestampSeconds}.`;
  // An upper bound of the bytes: a Buffer's length, or 3 UTF-8 bytes per UTF-16 code unit.
  const most = BLOCK + 3 * prefix.length + (typeof body === "string" ? 3 * body.length : body.length);
  if (most > SCRATCH_MAX_BYTES) return createHmac("sha256", key.key).update(prefix).update(body).digest("base64");
  if (scratch.length < most) scratch = Buffer.allocUnsafe(Math.min(SCRATCH_MAX_BYTES, Math.max(most, 2 * scratch.length)));
  key.ipad.copy(scratch, 0);
  let length = BLOCK + scratch.write(prefix, BLOCK, "utf8");
  length += typeof body === "string" ? scratch.write(body, length, "utf8") : body.copy(scratch, length);
  const { outer } = key;
  // The inner digest as a binary (latin1) string, one byte per character, costs less than a new Buffer.
  outer.write(hash("sha256", new Uint8Array(scratch.buffer, scratch.byteOffset, length), "binary"), BLOCK, "latin1");
  return hash("sha256", outer, "base64");
}

/** The headers that sign one request (Standard Webhooks names). */
export function signatureHeaders(secrets: readonly string[], id: string, timestampSeconds: number, body: string | Buffer): Record<string, string> {
  return {
    "webhook-id": id,
    "webhook-timestamp": String(timestampSeconds),
    "webhook-signature": webhookSignature(secrets, id, timestampSeconds, body),
  };
}
