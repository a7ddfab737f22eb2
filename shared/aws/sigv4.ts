import { createHmac, hash } from "node:crypto";
import type { AwsCredentialIdentity, HttpRequest } from "@smithy/types";

/**
 * AWS Signature Version 4 for request headers (the `Authorization` header form), on
 * node:crypto, synchronous: what @smithy/signature-v4 computes (the tests sign the same
 * requests with the SDK's own signer and compare), without its per-call costs (a clone of
 * the request, asynchronous hashing, an HMAC of the credentials to look up the signing
 * key): ≈ 70 µs per PutEvents call there, a few µs here, on the streamer's hot path.
 *
 * Signs every header present except those AWS and the SDK never sign (`user-agent`,
 * `authorization`, hop-by-hop headers, `proxy-*`, `sec-*`). The payload hash is the
 * request's `x-amz-content-sha256` header when present, else the SHA-256 of its body
 * (a string or bytes), then sent as that header, as the SDK does. Paths are normalised
 * and escaped as for every service but S3.
 */

const ALGORITHM = "AWS4-HMAC-SHA256";
const UNSIGNABLE = new Set(["authorization", "cache-control", "connection", "expect", "from", "keep-alive", "max-forwards", "pragma", "referer", "te", "trailer", "transfer-encoding", "upgrade", "user-agent", "x-amzn-trace-id"]);

export class SigV4Signer {
  /** The last signing key, by what it was derived from (one per day and secret). */
  private cached: { readonly secret: string; readonly day: string; readonly key: Buffer } | undefined;

  constructor(
    private readonly region: string,
    private readonly service: string,
  ) {}

  /** `request`'s headers plus `x-amz-date`, `x-amz-security-token` (with a session token) and `authorization`. */
  sign(request: HttpRequest, credentials: AwsCredentialIdentity, date: Date): Record<string, string> {
    const stamp = amzDate(date);
    const day = stamp.slice(0, 8);
    const headers: Record<string, string> = {};
    for (const name of Object.keys(request.headers)) {
      const value = request.headers[name];
      const lower = name.toLowerCase();
      // The signer's own headers are set afresh below.
      if (value === undefined || value === null || lower === "authorization" || lower === "x-amz-date" || lower === "x-amz-security-token") continue;
      headers[lower] = value;
    }
    headers["x-amz-date"] = stamp;
    if (credentials.sessionToken) headers["x-amz-security-token"] = credentials.sessionToken;
    // As the SDK's signer (applyChecksum): the payload hash is sent, and signed, as a header.
    const payloadHash = (headers["x-amz-content-sha256"] ??= hash("sha256", bodyBytes(request.body), "hex"));

    const signed = Object.keys(headers)
      .filter((name) => !UNSIGNABLE.has(name) && !name.startsWith("proxy-") && !name.startsWith("sec-"))
      .sort();
    let canonicalHeaders = "";
    // Values as the SDK's signer folds them: line breaks to spaces, runs of spaces and tabs to one, ends trimmed of one.
    for (const name of signed) canonicalHeaders += `${name}:${headers[name]!.replace(/[\r\n]/g, " ").replace(/[ \t]+/g, " ").replace(/^ | $/g, "")}\n`;
    const signedHeaders = signed.join(";");
    const canonicalRequest = `${request.method}\n${canonicalPath(request.path)}\n${canonicalQuery(request.query)}\n${canonicalHeaders}\n${signedHeaders}\n${payloadHash}`;
    const scope = `${day}/${this.region}/${this.service}/aws4_request`;
    const stringToSign = `${ALGORITHM}\n${stamp}\n${scope}\n${hash("sha256", canonicalRequest, "hex")}`;
    const signature = createHmac("sha256", this.signingKey(credentials.secretAccessKey, day)).update(stringToSign).digest("hex");
    headers.authorization = `${ALGORITHM} Credential=${credentials.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
    return headers;
  }

  private signingKey(secret: string, day: string): Buffer {
    const cached = this.cached;
    if (cached !== undefined && cached.secret === secret && cached.day === day) return cached.key;
    const kDate = createHmac("sha256", `AWS4${secret}`).update(day).digest();
    const kRegion = createHmac("sha256", kDate).update(this.region).digest();
    const kService = createHmac("sha256", kRegion).update(this.service).digest();
    const key = createHmac("sha256", kService).update("aws4_request").digest();
    this.cached = { secret, day, key };
    return key;
  }
}

let lastStamp: { second: number; text: string } | undefined;

/** `20261121T064912Z` (the last second's text is kept: calls come many to the second). */
function amzDate(date: Date): string {
  const second = Math.floor(date.getTime() / 1000);
  if (lastStamp?.second === second) return lastStamp.text;
  const text = date.toISOString().replace(/\.\d{3}Z$/, "Z").replace(/[-:]/g, "");
  lastStamp = { second, text };
  return text;
}

function bodyBytes(body: unknown): string | Uint8Array {
  if (body === undefined || body === null) return "";
  if (typeof body === "string" || body instanceof Uint8Array) return body;
  if (ArrayBuffer.isView(body)) return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  throw new TypeError("SigV4Signer signs string or byte bodies only");
}

/** RFC 3986 escaping, as AWS wants it. */
function escapeUri(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** The path with `.`, `..` and empty segments resolved, then escaped once more (every service but S3). */
function canonicalPath(path: string): string {
  const segments: string[] = [];
  for (const segment of path.split("/")) {
    if (segment === "" || segment === ".") continue;
    if (segment === "..") segments.pop();
    else segments.push(segment);
  }
  const normalized = `${path.startsWith("/") ? "/" : ""}${segments.join("/")}${segments.length > 0 && path.endsWith("/") ? "/" : ""}`;
  return escapeUri(normalized).replace(/%2F/g, "/");
}

/** Keys escaped then sorted; a list's pairs sorted; a key without a value (null) left out. */
function canonicalQuery(query: HttpRequest["query"]): string {
  if (query === undefined) return "";
  const serialized = new Map<string, string>();
  for (const key of Object.keys(query)) {
    if (key.toLowerCase() === "x-amz-signature") continue;
    const value = query[key];
    const name = escapeUri(key);
    if (typeof value === "string") serialized.set(name, `${name}=${escapeUri(value)}`);
    else if (Array.isArray(value)) serialized.set(name, value.map((item) => `${name}=${escapeUri(item)}`).sort().join("&"));
  }
  return [...serialized.keys()]
    .sort()
    .map((name) => serialized.get(name)!)
    .filter((pair) => pair !== "")
    .join("&");
}
