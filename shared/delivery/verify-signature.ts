import { timingSafeEqual } from "node:crypto";
import { decodeSecret } from "../sinks/secret";
import { signatureOf } from "./signature";

export type WebhookVerification = { ok: true; id: string; timestamp: number } | { ok: false; reason: string };

/** Request headers: Node's `req.headers`, any record (names matched case-insensitively), or a Fetch `Headers`. */
export type WebhookHeaders = Readonly<Record<string, string | readonly string[] | undefined>> | { get(name: string): string | null };

export interface VerifyWebhookOptions {
  /** How far `webhook-timestamp` may be from now, either way. @default 300 */
  readonly toleranceSeconds?: number;
  /** The clock, epoch milliseconds. @default Date.now */
  readonly now?: () => number;
}

export const DEFAULT_TOLERANCE_SECONDS = 300;
const HEADER_NAMES = ["webhook-id", "webhook-timestamp", "webhook-signature"] as const;
type HeaderName = (typeof HEADER_NAMES)[number];

/**
 * Standard Webhooks verification (https://www.standardwebhooks.com), the receiving side of
 * signature.ts: a request is genuine when one of the `v1,<base64>` signatures in its
 * `webhook-signature` header (space-separated; several during a secret rotation) equals
 * base64(HMAC-SHA256(key, `${webhook-id}.${webhook-timestamp}.${body}`)) under one of the
 * given `whsec_` secrets, compared in constant time, and its `webhook-timestamp` (Unix
 * seconds) is within `toleranceSeconds` of now (default 300, as the reference libraries),
 * so an old request cannot be replayed. Other signature versions (`v1a,` asymmetric ones)
 * are ignored.
 *
 * Never throws on bad input: the result says why a request is refused, naming the header
 * and what was received (secrets only by their first characters and length). A malformed
 * secret is refused the same way, since nothing can verify with it. `body` must be the raw
 * bytes received: re-serialised JSON does not verify.
 */
export function verifyWebhook(secrets: readonly string[], headers: WebhookHeaders, body: string | Buffer, options: VerifyWebhookOptions = {}): WebhookVerification {
  const toleranceSeconds = options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  if (!(toleranceSeconds >= 0)) throw new RangeError(`toleranceSeconds must be a number of seconds >= 0, but ${String(toleranceSeconds)} was given`);

  if (secrets.length === 0) return refuse("no secret to verify with: pass the sink's whsec_ secret");
  const secretProblem = malformedSecret(secrets);
  if (secretProblem !== undefined) return refuse(secretProblem);

  const values = readHeaders(headers);
  if ("reason" in values) return refuse(values.reason);
  const { "webhook-id": id, "webhook-timestamp": rawTimestamp, "webhook-signature": signatureHeader } = values;

  if (!/^\d{1,15}$/.test(rawTimestamp)) return refuse(`malformed header webhook-timestamp: expected Unix seconds (digits only), received ${quote(rawTimestamp)}`);
  const timestamp = Number(rawTimestamp);
  const nowSeconds = Math.floor((options.now ?? Date.now)() / 1000);
  const age = nowSeconds - timestamp;
  if (age > toleranceSeconds) {
    return refuse(`timestamp too old: webhook-timestamp ${timestamp} is ${age} s before now, ${age - toleranceSeconds} s beyond the ${toleranceSeconds} s tolerance (a replay, or a clock off)`);
  }
  if (-age > toleranceSeconds) {
    const hint = timestamp > 100_000_000_000 ? "; it looks like milliseconds, not seconds" : " (a clock off?)";
    return refuse(`timestamp too new: webhook-timestamp ${timestamp} is ${-age} s after now, ${-age - toleranceSeconds} s beyond the ${toleranceSeconds} s tolerance${hint}`);
  }

  const candidates = signatureHeader
    .split(/\s+/)
    .filter((part) => part.startsWith("v1,"))
    .map((part) => Buffer.from(part.slice(3)));
  if (candidates.length === 0) return refuse(`no signature matches: webhook-signature has no "v1,<base64>" signature (received ${quote(signatureHeader)})`);
  for (const secret of secrets) {
    const expected = Buffer.from(signatureOf(secret, id, timestamp, body));
    // Lengths are public (every v1 signature is 44 characters); only equal lengths are compared, in constant time.
    if (candidates.some((candidate) => candidate.length === expected.length && timingSafeEqual(candidate, expected))) return { ok: true, id, timestamp };
  }
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;
  return refuse(
    `no signature matches: none of the ${plural(candidates.length, "v1 signature")} in webhook-signature was made with the ${plural(secrets.length, "secret")} given (a different secret, or the body, webhook-id or webhook-timestamp changed on the way)`,
  );
}

/**
 * Why one of `secrets` is not a `whsec_` secret (which one, what is wrong, and what was
 * received, shown only by its first characters and length), or undefined when all are.
 */
export function malformedSecret(secrets: readonly string[]): string | undefined {
  for (const [i, secret] of secrets.entries()) {
    const decoded = decodeSecret(secret);
    if ("problem" in decoded) return `malformed secret${secrets.length > 1 ? ` #${i + 1} of ${secrets.length}` : ""}: it ${decoded.problem} (received ${preview(secret)})`;
  }
  return undefined;
}

function refuse(reason: string): WebhookVerification {
  return { ok: false, reason };
}

function readHeaders(headers: WebhookHeaders): Record<HeaderName, string> | { reason: string } {
  const get = headerReader(headers);
  const values: Partial<Record<HeaderName, string>> = {};
  const missing: string[] = [];
  for (const name of HEADER_NAMES) {
    const value = get(name);
    if (typeof value !== "string" && value !== undefined && value.length > 1) return { reason: `header ${name} appears ${value.length} times; expected once` };
    const one = (typeof value === "string" ? value : value?.[0])?.trim();
    if (one === undefined || one === "") missing.push(name);
    else values[name] = one;
  }
  if (missing.length > 0) return { reason: `missing header${missing.length > 1 ? "s" : ""} ${missing.join(", ")}` };
  return values as Record<HeaderName, string>;
}

function headerReader(headers: WebhookHeaders): (name: string) => string | readonly string[] | undefined {
  if (typeof headers.get === "function") {
    const fetchHeaders = headers as { get(name: string): string | null };
    return (name) => fetchHeaders.get(name) ?? undefined;
  }
  const record = headers as Readonly<Record<string, string | readonly string[] | undefined>>;
  return (name) => {
    if (Object.hasOwn(record, name)) return record[name];
    const key = Object.keys(record).find((k) => k.toLowerCase() === name);
    return key === undefined ? undefined : record[key];
  };
}

/** A received header value for a reason: JSON-quoted (control characters escaped), at most 80 characters. */
function quote(value: string): string {
  return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
}

/** A secret as a reason may show it: at most its first 10 characters (half of a short one) and its length. */
function preview(secret: string): string {
  if (secret.length === 0) return "an empty string";
  const shown = `${JSON.stringify(`${secret.slice(0, Math.min(10, Math.floor(secret.length / 2)))}…`)}, ${secret.length} characters`;
  return secret.trim() === secret ? shown : `${shown}, with whitespace around it`;
}
