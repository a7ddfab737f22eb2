import type { IncomingHttpHeaders } from "node:http";

/**
 * How Nomad's HTTP agent reads a `/v1/event/stream` request (EVENT-STREAM-SPEC 1.1):
 * `command/agent/event_endpoint.go` (index, then topics) and the generic `s.parse`
 * helpers (namespace, region, token), including their exact error texts.
 */

export interface StreamRequest {
  readonly index: number;
  /** Topic → keys in query order, as `parseEventTopics` builds it. */
  readonly topics: Record<string, string[]>;
  /** The raw namespace; `*` is expanded by the server at subscribe time. */
  readonly namespace: string;
  readonly region: string | undefined;
}

export type StreamRequestResult = { ok: true; request: StreamRequest } | { ok: false; status: 400; message: string };

const INT64_MAX = 2n ** 63n - 1n;
const INT64_MIN = -(2n ** 63n);

/** Go's `strconv.Atoi` on a 64-bit platform: the value or Go's error text. */
export function goAtoi(text: string): { ok: true; value: bigint } | { ok: false; error: string } {
  if (!/^[+-]?[0-9]+$/.test(text)) return { ok: false, error: `strconv.Atoi: parsing ${goQuote(text)}: invalid syntax` };
  const value = BigInt(text);
  if (value > INT64_MAX || value < INT64_MIN) return { ok: false, error: `strconv.Atoi: parsing ${goQuote(text)}: value out of range` };
  return { ok: true, value };
}

/** Go's `strconv.Quote` for the characters a query string can carry. */
export function goQuote(text: string): string {
  let out = '"';
  for (const char of text) {
    const code = char.codePointAt(0) ?? 0;
    if (char === '"' || char === "\\") out += `\\${char}`;
    else if (code === 0x07) out += "\\a";
    else if (code === 0x08) out += "\\b";
    else if (code === 0x0c) out += "\\f";
    else if (code === 0x0a) out += "\\n";
    else if (code === 0x0d) out += "\\r";
    else if (code === 0x09) out += "\\t";
    else if (code === 0x0b) out += "\\v";
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, "0")}`;
    else if (code >= 0x80 && code < 0xa0) out += `\\u${code.toString(16).padStart(4, "0")}`;
    else out += char;
  }
  return `${out}"`;
}

/** `parseTopic`: `T` → key `*`, `T:k` → key `k` (possibly ""), more colons → error. */
function parseTopic(raw: string): { topic: string; key: string } | undefined {
  const parts = raw.split(":");
  if (parts.length === 1) return { topic: raw, key: "*" };
  if (parts.length !== 2) return undefined;
  return { topic: parts[0] ?? "", key: parts[1] ?? "" };
}

export function parseStreamQuery(query: URLSearchParams): StreamRequestResult {
  const indexText = query.get("index") || "0";
  const index = goAtoi(indexText);
  if (!index.ok) return { ok: false, status: 400, message: `Unable to parse index: ${index.error}` };
  // Atoi accepts a sign, but the generic parseWait re-parses index with ParseUint and
  // writes a stray "400 Invalid index" into the response. We answer that 400 and stop,
  // rather than reproduce a 400 whose body then carries the stream.
  if (!/^[0-9]+$/.test(indexText)) return { ok: false, status: 400, message: "Invalid index" };

  const topics: Record<string, string[]> = {};
  const rawTopics = query.getAll("topic");
  if (rawTopics.length === 0) {
    topics["*"] = ["*"];
  } else {
    for (const raw of rawTopics) {
      const parsed = parseTopic(raw);
      if (parsed === undefined) {
        return { ok: false, status: 400, message: `Invalid topic query: error parsing topics: Invalid key value pair for topic, topic: ${raw}` };
      }
      const keys = Object.hasOwn(topics, parsed.topic) ? topics[parsed.topic] : undefined;
      if (keys === undefined) topics[parsed.topic] = [parsed.key];
      else keys.push(parsed.key);
    }
  }

  return {
    ok: true,
    request: {
      // Beyond 2^53 precision is lost, but such an index is newer than anything a test publishes, which is all it decides.
      index: Number(index.value),
      topics,
      namespace: query.get("namespace") || "default",
      region: query.get("region") || undefined,
    },
  };
}

function header(headers: IncomingHttpHeaders, name: string): string {
  const value = headers[name];
  return (Array.isArray(value) ? value[0] : value) ?? "";
}

/** `parseToken`: a non-empty `X-Nomad-Token` (trimmed) wins, else `Authorization: Bearer <tok>`. */
export function requestToken(headers: IncomingHttpHeaders): string {
  const nomadToken = header(headers, "x-nomad-token");
  if (nomadToken !== "") return nomadToken.trim();
  const parts = header(headers, "authorization").split(" ");
  if (parts.length > 1 && (parts[0] ?? "").toLowerCase() === "bearer") {
    const value = parts.slice(1).join(" ").trim();
    return (value.split(" ")[0] ?? "").trim();
  }
  return "";
}

export type ContentCoding = "gzip" | "deflate";

/**
 * gorilla/handlers' CompressHandler (Nomad 1.3 – 1.11.1): the first list entry that is
 * exactly `gzip` or `deflate` once trimmed. `gzip;q=1` therefore does not count, and
 * `deflate` is raw DEFLATE (Go's compress/flate), not the zlib format.
 */
export function chooseContentCoding(headers: IncomingHttpHeaders): ContentCoding | undefined {
  if (header(headers, "upgrade") !== "") return undefined;
  for (const entry of header(headers, "accept-encoding").split(",")) {
    const coding = entry.trim();
    if (coding === "gzip" || coding === "deflate") return coding;
  }
  return undefined;
}
