import { randomBytes } from "node:crypto";

/** Standard Webhooks secrets: `whsec_` + base64 of the raw key. */
export const SECRET_PREFIX = "whsec_";
export const SECRET_MIN_BYTES = 24;
export const SECRET_MAX_BYTES = 64;
/** How long a replaced secret keeps signing after a rotation. */
export const PREVIOUS_SECRET_GRACE_MS = 24 * 60 * 60 * 1000;

export function generateSecret(): string {
  return SECRET_PREFIX + randomBytes(32).toString("base64");
}

/** The raw key of a `whsec_` secret, or a reason it is not one. */
export function decodeSecret(secret: string): { key: Buffer } | { problem: string } {
  if (!secret.startsWith(SECRET_PREFIX)) return { problem: `must start with "${SECRET_PREFIX}"` };
  const encoded = secret.slice(SECRET_PREFIX.length);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded) || encoded.length % 4 !== 0) {
    return { problem: `must be "${SECRET_PREFIX}" followed by standard base64` };
  }
  const key = Buffer.from(encoded, "base64");
  if (key.length < SECRET_MIN_BYTES || key.length > SECRET_MAX_BYTES) {
    return { problem: `must encode ${SECRET_MIN_BYTES} to ${SECRET_MAX_BYTES} bytes, but encodes ${key.length}` };
  }
  return { key };
}
