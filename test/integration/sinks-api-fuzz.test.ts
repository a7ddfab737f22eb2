import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { beforeAll, describe, expect, it } from "vitest";
import type { Response } from "../../shared/api/http";
import type { PublicSink } from "../../shared/sinks/sink";
import { httpApiEvent } from "../support/http-api-event";
import { Rng } from "../support/rng";
import { newSinksApi, TEST_TOKEN } from "../support/sinks";

/*
 * Fuzzes the sinks API (the real handler over a fresh DynamoDB Local table) with
 * malformed requests drawn from a seeded PRNG, and checks that every answer is a
 * well-formed 4xx (or the 200 the request deserved), and that rejected requests store
 * nothing. Reproduce a failure with the seed in the suite name:
 *   FUZZ_SEED=<seed> npx vitest run test/integration/sinks-api-fuzz.test.ts
 * and look the case up by its number (#n) in the failure list.
 */

const DEFAULT_SEED = 0x5eed_f00d;
const SEED = seedFromEnvironment(process.env.FUZZ_SEED) ?? DEFAULT_SEED;
const CONCURRENCY = 8;
const BODY_LIMIT = 64 * 1024;

function seedFromEnvironment(value: string | undefined): number | undefined {
  if (value === undefined || value.trim() === "") return undefined;
  const seed = Number(value);
  if (!Number.isSafeInteger(seed)) throw new Error(`FUZZ_SEED must be an integer, not ${JSON.stringify(value)}`);
  return seed >>> 0;
}


// ---------------------------------------------------------------------------------
// What a case sends and what it must get back.

type Category =
  | "bad JSON"
  | "wrong types"
  | "huge values"
  | "odd unicode"
  | "path tricks"
  | "unknown fields"
  | "unknown topics"
  | "bad addresses"
  | "bad secrets"
  | "auth"
  | "wrong methods"
  | "base64 bodies";

type Field = "ID" | "Type" | "Topics" | "Address" | "Secret" | "body" | "ID in the path";
const FIELDS: readonly Field[] = ["ID", "Type", "Topics", "Address", "Secret", "body", "ID in the path"];

/** One acceptable answer. */
interface Outcome {
  readonly status: number;
  readonly message?: RegExp;
  /** For validation errors: exactly the fields (by root) the problems must name. */
  readonly fields?: readonly Field[];
  /** Text the message must contain. */
  readonly mentions?: readonly string[];
  /** For a 200 to a sink write: what must then be stored. */
  readonly stores?: Stored;
}

interface Stored {
  readonly Topics: Record<string, string[]>;
  readonly Address: string;
}

interface CaseSpec {
  readonly what: string;
  readonly event: APIGatewayProxyEventV2;
  /** Size of the body the handler sees (after base64 decoding). */
  readonly bodyBytes: number;
  readonly expect: readonly Outcome[];
  /** Set for PUT/POST on /v1/event/sink/:id: the sink a 200 would have written. */
  readonly writes?: string;
  /** A secret the request sent, which an error must never echo. */
  readonly secret?: string;
}

interface FuzzCase extends CaseSpec {
  readonly n: number;
  readonly category: Category;
}

const invalidJson: Outcome = { status: 400, message: /^Request body is not valid JSON/ };
const emptyBody: Outcome = { status: 400, message: /^Request body is empty/ };
const anyInvalid: Outcome = { status: 400, message: /^invalid event sink: / };
const anyBadRequest: Outcome = { status: 400 };
const badPathId: Outcome = { status: 400, message: /^invalid event sink ID: / };
const badEncoding: Outcome = { status: 400, message: /^Invalid URL path: .*percent-encoding/ };
const noEndpoint: Outcome = { status: 404, message: /^Invalid URL path: no endpoint/ };
const missingId: Outcome = { status: 400, message: /^Missing event sink ID/ };
const mismatch: Outcome = { status: 400, message: /^Event sink name does not match request path/ };
const notFound: Outcome = { status: 404, message: /not found/ };
const denied: Outcome = { status: 403, message: /^Permission denied/ };
const badMethod: Outcome = { status: 405, message: /^Invalid method/ };
const listed: Outcome = { status: 200 };

function invalid(fields: readonly Field[], mentions: readonly string[] = []): Outcome {
  return { status: 400, message: /^invalid event sink: /, fields: [...new Set(fields)], mentions };
}

function tooLarge(bytes: number): Outcome {
  return { status: 413, mentions: [String(bytes), String(BODY_LIMIT)] };
}

function stored(registration: Registration): Outcome {
  return { status: 200, stores: { Topics: expectedTopics(registration.Topics), Address: registration.Address } };
}

// ---------------------------------------------------------------------------------
// Building blocks for requests.

const KNOWN_ID = "known-good";
const KNOWN_SECRET = `whsec_${Buffer.alloc(32, 0x5a).toString("base64")}`;
const KNOWN = {
  ID: KNOWN_ID,
  Type: "webhook",
  Topics: { Job: ["web", "api"], Node: ["*"] },
  Address: "https://hooks.example.com/nomad?team=ops",
  Secret: KNOWN_SECRET,
};

interface Registration {
  ID: unknown;
  Type: unknown;
  Topics: Record<string, string[]>;
  Address: string;
  Secret?: string;
}

const VALID_TOPIC_NAMES = ["*", "Job", "Node", "Allocation", "Evaluation", "Deployment", "Service", "NodePool", "ACLToken", "CSIVolume", "Variable", "Eval", "Alloc"];
const VALID_KEYS = ["*", "web", "api", "", "default/web", "batch-7", "Ünïcode", "a b"];
const VALID_ADDRESSES = [
  "https://hooks.example.com/nomad",
  "http://127.0.0.1:8080/events",
  "https://example.org/a/b?c=d&e=f",
  "http://[::1]:9000/x",
  "https://xn--bcher-kva.example/hook",
  "http://localhost/",
];
const ALIASES: Readonly<Record<string, string>> = { Eval: "Evaluation", Alloc: "Allocation" };

/** What the API must store for `topics`: beta names resolved, keys merged without duplicates. */
function expectedTopics(topics: Record<string, string[]>): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [name, keys] of Object.entries(topics)) {
    const topic = Object.hasOwn(ALIASES, name) ? (ALIASES[name] as string) : name;
    const into = (out[topic] ??= []);
    for (const key of keys) if (!into.includes(key)) into.push(key);
  }
  return out;
}

function validSecret(r: Rng, bytes = 32): string {
  return `whsec_${r.bytes(bytes).toString("base64")}`;
}

function validRegistration(r: Rng, id: string): Registration {
  const topics: Record<string, string[]> = {};
  for (const name of r.some(VALID_TOPIC_NAMES, 1, 3)) topics[name] = r.some(VALID_KEYS, 1, 3);
  return { ID: id, Type: "webhook", Topics: topics, Address: r.pick(VALID_ADDRESSES), ...(r.chance(0.3) ? { Secret: validSecret(r) } : {}) };
}

/** A value spliced into JSON text as is. */
class Raw {
  constructor(readonly text: string) {}
}
const raw = (text: string) => new Raw(text);

type Entries = Array<readonly [string, unknown]>;

function entriesOf(registration: Registration): Entries {
  return Object.entries(registration);
}

/** JSON object text from entries, which may repeat keys or carry raw (invalid) JSON. */
function objectText(entries: Entries): string {
  return `{${entries.map(([key, value]) => `${JSON.stringify(key)}:${value instanceof Raw ? value.text : JSON.stringify(value)}`).join(",")}}`;
}

function withField(entries: Entries, field: string, value: unknown): Entries {
  let replaced = false;
  const out: Entries = entries.map(([key, old]) => {
    if (key !== field) return [key, old] as const;
    replaced = true;
    return [key, value] as const;
  });
  if (!replaced) out.push([field, value]);
  return out;
}

const sinkPath = (id: string) => `/v1/event/sink/${encodeURIComponent(id)}`;
const short = (value: unknown, max = 60) => {
  const text = typeof value === "string" ? JSON.stringify(value) : String(value);
  return text.length > max ? `${text.slice(0, max)}…(${text.length} chars)` : text;
};

interface SendOptions {
  readonly body?: string | Buffer;
  /** Sent as the event body with isBase64Encoded, verbatim (may be invalid base64). */
  readonly base64Text?: string;
  readonly anonymous?: boolean;
  readonly headers?: Record<string, string>;
  /** Replaces the event's headers as given (names not lower-cased). */
  readonly rawHeaders?: Record<string, string>;
}

function request(method: string, path: string, options: SendOptions = {}): { event: APIGatewayProxyEventV2; bodyBytes: number } {
  let event = httpApiEvent(method, path, {
    ...(options.body !== undefined ? { body: options.body } : {}),
    ...(options.headers ? { headers: options.headers } : {}),
    ...(options.anonymous ? { anonymous: true } : {}),
  });
  let bodyBytes = options.body === undefined ? 0 : Buffer.isBuffer(options.body) ? options.body.length : Buffer.byteLength(options.body, "utf8");
  if (options.base64Text !== undefined) {
    event = { ...event, body: options.base64Text, isBase64Encoded: true };
    bodyBytes = Buffer.from(options.base64Text, "base64").length;
  }
  if (options.rawHeaders) event = { ...event, headers: { ...options.rawHeaders } };
  return { event, bodyBytes };
}

interface Target {
  readonly id: string;
}

/** Where a request with a bad body goes: a fresh sink, or (often) the known-good one. */
function target(r: Rng, n: number): Target {
  return r.chance(0.3) ? { id: KNOWN_ID } : fresh(n);
}
const fresh = (n: number): Target => ({ id: `fz-${n}` });

function write(r: Rng, t: Target, body: string | Buffer | undefined, expect: Outcome | readonly Outcome[], what: string, options: SendOptions & { secret?: string; method?: string } = {}): CaseSpec {
  const method = options.method ?? r.pick(["PUT", "POST"]);
  const { event, bodyBytes } = request(method, sinkPath(t.id), { ...options, ...(body !== undefined ? { body } : {}) });
  return {
    what: `${method} ${short(t.id, 30)}: ${what}`,
    event,
    bodyBytes,
    expect: Array.isArray(expect) ? expect : [expect as Outcome],
    writes: t.id,
    ...(options.secret !== undefined ? { secret: options.secret } : {}),
  };
}

function call(method: string, path: string, expect: Outcome | readonly Outcome[], what: string, options: SendOptions = {}): CaseSpec {
  const { event, bodyBytes } = request(method, path, options);
  return { what: `${short(method, 20)} ${short(path, 50)}: ${what}`, event, bodyBytes, expect: Array.isArray(expect) ? expect : [expect as Outcome] };
}

const nested = (depth: number) => "[".repeat(depth) + "]".repeat(depth);
const nestedObject = (depth: number) => '{"a":'.repeat(depth) + "1" + "}".repeat(depth);

// ---------------------------------------------------------------------------------
// Value pools.

const WRONG_VALUES: readonly unknown[] = [0, -1, 1.5, 1e308, [], ["webhook"], [1, 2], {}, { a: 1 }, null, true, false];
const BAD_LITERALS = ["NaN", "Infinity", "-Infinity", "undefined", "'webhook'", "0x10", "01", "+1", ".5", "1.", "tru", "nul", '"\\x41"', '"\\u12"', '"a\nb"', '"\t"', "[1,]", '{"a":1,}', "{a:1}", '"unterminated'];
const TRAILING_GARBAGE = ["x", "}", ",", "]", "{}", "null", "\u0000", "/", " //", '"', "1", ";", "\u00a0"];
const BAD_TYPES = ["Webhook", "WEBHOOK", "webhook ", " webhook", "", "http", "webhooks", "sns", "kafka", "wеbhook", "webhook\u200b", "ｗｅｂｈｏｏｋ", "webhooĸ"];
const BAD_ID_STRINGS = ["", "-start", ".start", "_x", "~x", "a b", "a/b", "a:b", "a@b", "a#b", "a?b", "a%20b", "a+b", "a*b", "a\\b", "a'b", 'a"b', "a,b"];
const ODD_IDS = [
  "sink🙂",
  "🙂",
  "sink\u200f",
  "\u202esink",
  "si\u200bnk",
  "si\u200dnk",
  "\ufeffsink",
  "sink\u0000",
  "ѕink",
  "ѕіnk",
  "ｓｉｎｋ",
  "si\u0301nk",
  "sınk",
  "𝐬𝐢𝐧𝐤",
  "sink\u0007",
  "sink\n",
  "sink\t",
  "sink\u00a0",
  "sink\u2028",
  "\u0000",
  "sink\u007f",
];
const LONE_SURROGATE_IDS = ["sink\ud800", "\udc00sink", "a\ud83d"];
const ODD_VALID_KEYS = ["🙂", "web\u200f", "\u202eweb", "we\u200bb", "\ufeff", "日本語", "web\u00a0", "ѕervice", "Ⅻ", "e\u0301", "‮⁦x⁩"];
const LONE_SURROGATE_KEYS = ["\ud800", "x\udfff", "\udbff\udbff"];
const CONTROL_CHARS = [...Array.from({ length: 32 }, (_, i) => String.fromCharCode(i)), "\u007f"];
const HOMOGLYPH_TOPICS = ["Jоb", "Job\u200b", "\u200bJob", "Νode", "Ｊｏｂ", "Job\u0000", "Jo\u0301b", "\u202eJob", "Job\u00a0", "ℕode", "Jοb"];
const UNKNOWN_TOPICS = [
  "Jobs",
  "job",
  "JOB",
  "Allocations",
  "Evals",
  "Evaluations",
  "**",
  "*.*",
  "",
  "  ",
  " Job",
  "Job ",
  "Node,Job",
  "__proto__",
  "constructor",
  "toString",
  "hasOwnProperty",
  "valueOf",
  "1",
  "0",
  "-1",
  "NaN",
  "null",
  "undefined",
  "Topic",
  "Any",
  "all",
  "ACLTokens",
  "Operators",
  "Nodes",
  "Deployments",
  "Services",
];
const UNKNOWN_FIELDS = [
  "id",
  "Id",
  "ID ",
  "type",
  "topics",
  "address",
  "secret",
  "Secrets",
  "PreviousSecrets",
  "Namespace",
  "Region",
  "Config",
  "Webhook",
  "",
  "__proto__",
  "constructor",
  "toString",
  "\u0000",
  "🙂",
  "ID\u200b",
  "Addr ess",
  "Тype",
];
const BAD_ADDRESSES = [
  "ftp://example.com/x",
  "javascript:alert(1)",
  "/relative/path",
  "relative",
  "//example.com/x",
  "http://user:pass@example.com/",
  "https://user@example.com/",
  "https://:pass@example.com/",
  "https://example.com/#frag",
  "",
  " ",
  "http://",
  "https://",
  "http:///",
  "mailto:ops@example.com",
  "file:///etc/passwd",
  "data:text/plain,hi",
  "ws://example.com/",
  "wss://example.com",
  "gopher://x",
  "http://exa mple.com/",
  "http://[::1",
  "http://example.com:99999/",
  "about:blank",
  "blob:https://x",
  "https//example.com",
  "http://999.1.1.1/",
  "https://exa\u202emple.com/",
  "urn:isbn:123",
  "tel:123",
  "http:?x",
];
const WRONG_TOKENS = [
  TEST_TOKEN.replace(/.$/, "X"),
  TEST_TOKEN.slice(0, -1),
  `${TEST_TOKEN}x`,
  "x",
  "t".repeat(10_000),
  TEST_TOKEN.toUpperCase(),
  TEST_TOKEN.replace("-", " "),
  TEST_TOKEN.replace("e", "е"),
  `${TEST_TOKEN}\u0000`,
  `Bearer ${TEST_TOKEN}`,
  "null",
  "undefined",
  "*",
];
const BAD_AUTHORIZATIONS = [
  "Bearer",
  "Bearer ",
  "Bearer wrong-token",
  `Basic ${Buffer.from(`user:${TEST_TOKEN}`).toString("base64")}`,
  `Token ${TEST_TOKEN}`,
  TEST_TOKEN,
  `Bearer${TEST_TOKEN}`,
  `Bearer ${TEST_TOKEN} extra`,
  `Bearer: ${TEST_TOKEN}`,
  `Bearer ${TEST_TOKEN}, Bearer x`,
  `Bearer "${TEST_TOKEN}"`,
  `Bearer ${TEST_TOKEN.slice(1)}`,
  `Digest ${TEST_TOKEN}`,
  `Bearer ${TEST_TOKEN.toUpperCase()}`,
];
const GOOD_AUTHORIZATIONS = [`Bearer ${TEST_TOKEN}`, `bearer ${TEST_TOKEN}`, `BEARER ${TEST_TOKEN}`, `Bearer\t${TEST_TOKEN}`, `Bearer   ${TEST_TOKEN}   `];
const ODD_METHODS = ["PATCH", "HEAD", "OPTIONS", "TRACE", "CONNECT", "FOO", "", "PROPFIND", "constructor", "__proto__", "toString", "hasOwnProperty", "GET ", " PUT", "PUT\u0000", "DELETE\n"];

interface RouteSpec {
  readonly name: string;
  readonly path: (id: string) => string;
  readonly allowed: readonly string[];
}
const ROUTES: readonly RouteSpec[] = [
  { name: "sinks", path: () => "/v1/event/sinks", allowed: ["GET"] },
  { name: "sink", path: sinkPath, allowed: ["GET", "PUT", "POST", "DELETE"] },
  { name: "secret", path: (id) => `${sinkPath(id)}/secret`, allowed: ["GET"] },
  { name: "rotate", path: (id) => `${sinkPath(id)}/secret/rotate`, allowed: ["POST"] },
];

// ---------------------------------------------------------------------------------
// Generators: one list of variants per category, taken round-robin so every variant is
// sent, each drawing its details from the PRNG.

type Variant = (r: Rng, n: number) => CaseSpec;

const badJson: Variant[] = [
  (r, n) => {
    const t = target(r, n);
    const text = JSON.stringify(validRegistration(r, t.id));
    const cut = r.int(1, text.length - 1);
    return write(r, t, text.slice(0, cut), invalidJson, `truncated at ${cut}/${text.length}`);
  },
  (r, n) => {
    const t = target(r, n);
    const garbage = r.pick(TRAILING_GARBAGE);
    return write(r, t, JSON.stringify(validRegistration(r, t.id)) + garbage, invalidJson, `trailing ${short(garbage)}`);
  },
  (r, n) => {
    const t = target(r, n);
    const field = r.pick(["ID", "Type", "Topics", "Address", "Secret"]);
    const literal = r.pick(BAD_LITERALS);
    return write(r, t, objectText(withField(entriesOf(validRegistration(r, t.id)), field, raw(literal))), invalidJson, `${field} = ${short(literal)}`);
  },
  (r, n) => {
    const t = target(r, n);
    const text = JSON.stringify(validRegistration(r, t.id));
    const variants = [`/* c */${text}`, `// c\n${text}`, `{/* c */${text.slice(1)}`, `${text}/* trailing */`, `${text.slice(0, -1)} // c\n}`, `#c\n${text}`];
    const i = r.int(0, variants.length - 1);
    return write(r, t, variants[i] as string, invalidJson, `comment variant ${i}`);
  },
  (r, n) => {
    const t = target(r, n);
    return write(r, t, `\ufeff${JSON.stringify(validRegistration(r, t.id))}`, invalidJson, "UTF-8 BOM before the JSON");
  },
  (r, n) => {
    const t = target(r, n);
    const depth = r.int(10_000, 32_000);
    return write(r, t, nested(depth), invalid(["body"]), `top-level array nested ${depth} deep`);
  },
  (r, n) => {
    const t = target(r, n);
    const field = r.pick(["ID", "Type", "Topics", "Address", "Secret", "Topics.Job"]);
    const depth = r.int(10_000, 30_000);
    const registration = validRegistration(r, t.id);
    const entries = field === "Topics.Job" ? withField(entriesOf(registration), "Topics", raw(`{"Job":${nested(depth)}}`)) : withField(entriesOf(registration), field, raw(nested(depth)));
    return write(r, t, objectText(entries), invalid([field.startsWith("Topics") ? "Topics" : (field as Field)]), `${field} nested ${depth} arrays deep`);
  },
  (r, n) => {
    const t = target(r, n);
    const field = r.pick(["ID", "Type", "Topics", "Address", "Secret"] as const);
    const depth = r.int(2_000, 9_000);
    return write(r, t, objectText(withField(entriesOf(validRegistration(r, t.id)), field, raw(nestedObject(depth)))), invalid([field]), `${field} nested ${depth} objects deep`);
  },
  (r, n) => {
    const t = target(r, n);
    const field = r.pick(["ID", "Type", "Topics", "Address", "Secret"] as const);
    const value = r.pick(WRONG_VALUES);
    const entries: Entries = [...entriesOf(validRegistration(r, t.id)), [field, value]];
    return write(r, t, objectText(entries), invalid([field]), `duplicate ${field}, the last ${short(JSON.stringify(value))}`);
  },
  (r, n) => {
    const t = fresh(n);
    const field = r.pick(["ID", "Type", "Topics", "Address"] as const);
    const registration = validRegistration(r, t.id);
    const entries: Entries = [[field, r.pick(WRONG_VALUES)], ...entriesOf(registration)];
    return write(r, t, objectText(entries), stored(registration), `duplicate ${field}, the last valid`);
  },
  (r, n) => (r.chance(0.5) ? write(r, target(r, n), "", emptyBody, "empty body") : write(r, target(r, n), undefined, emptyBody, "no body")),
  (r, n) => {
    const ws = r.pick([" ", "\n", "\t\r\n ", "   "]);
    return write(r, target(r, n), ws, invalidJson, `whitespace-only body ${short(ws)}`);
  },
  (r, n) => {
    const scalar = r.pick(["null", "42", '"str"', "true", "[]", "[{}]", "-0", '"{\\"ID\\":\\"x\\"}"']);
    return write(r, target(r, n), scalar, invalid(["body"]), `top-level ${scalar}`);
  },
  (r, n) => write(r, target(r, n), "{}", invalid(["ID", "Type", "Topics", "Address"]), "empty object"),
  (r, n) => {
    const t = target(r, n);
    const control = r.pick(["\u0001", "\n", "\t", "\u001f", "\u0000"]);
    const entries = withField(entriesOf(validRegistration(r, t.id)), "Address", raw(`"https://example.com/${control}"`));
    return write(r, t, objectText(entries), invalidJson, `raw control ${short(control)} inside a JSON string`);
  },
];

const WRONG_BY_KIND: Readonly<Record<string, readonly unknown[]>> = {
  number: [0, -1, 1.5, 1e308, 42],
  array: [[], ["webhook"], [1, 2], [{}]],
  object: [{}, { a: 1 }, { Job: ["*"] }],
  null: [null],
  boolean: [true, false],
};

const wrongTypes: Variant[] = [
  // Every field as every kind of wrong JSON type, one at a time.
  ...(["ID", "Type", "Topics", "Address", "Secret"] as const).flatMap((field) =>
    Object.entries(WRONG_BY_KIND).map(([kind, values]): Variant => (r, n) => {
      const t = target(r, n);
      const value = field === "Topics" && kind === "object" ? r.pick([{}, { a: 1 }, { Job: "*" }]) : r.pick(values);
      return write(r, t, objectText(withField(entriesOf(validRegistration(r, t.id)), field, value)), invalid([field]), `${field} as a ${kind}: ${JSON.stringify(value)}`);
    }),
  ),
  (r, n) => {
    const t = target(r, n);
    const fields = r.some(["ID", "Type", "Topics", "Address", "Secret"] as const, 1, 3);
    let entries = entriesOf(validRegistration(r, t.id));
    const parts: string[] = [];
    for (const field of fields) {
      const value = r.pick(WRONG_VALUES);
      entries = withField(entries, field, value);
      parts.push(`${field}=${JSON.stringify(value)}`);
    }
    return write(r, t, objectText(entries), invalid(fields), parts.join(" "));
  },
  (r, n) => {
    const t = target(r, n);
    const value = r.pick<unknown>(["*", null, 1, {}, [1], [null], [["*"]], true, [], [{}], [true, "*"]]);
    const topics = r.chance(0.5) ? { Job: value } : { Node: ["*"], Job: value };
    return write(r, t, objectText(withField(entriesOf(validRegistration(r, t.id)), "Topics", topics)), invalid(["Topics"]), `Topics.Job = ${JSON.stringify(value)}`);
  },
  (r, n) => {
    const t = target(r, n);
    const type = r.pick(BAD_TYPES);
    return write(r, t, objectText(withField(entriesOf(validRegistration(r, t.id)), "Type", type)), invalid(["Type"]), `Type ${short(type)}`);
  },
  (r, n) => {
    const t = fresh(n);
    const id = r.pick(BAD_ID_STRINGS);
    return write(r, t, objectText(withField(entriesOf(validRegistration(r, t.id)), "ID", id)), invalid(["ID"]), `body ID ${short(id)}`);
  },
  (r, n) => {
    const t = target(r, n);
    const entries: Entries = (["ID", "Type", "Topics", "Address", "Secret"] as const).map((field) => [field, r.pick(WRONG_VALUES)] as const);
    return write(r, t, objectText(entries), invalid(["ID", "Type", "Topics", "Address", "Secret"]), "every field of a wrong type");
  },
  (r, n) => {
    // Server-managed fields are accepted in any shape and ignored.
    const t = fresh(n);
    const registration = validRegistration(r, t.id);
    const entries: Entries = [...entriesOf(registration), ["LatestIndex", r.pick(WRONG_VALUES)], ["CreateIndex", r.pick<unknown>(["7", 1e9, -5])], ["ModifyIndex", r.pick<unknown>([{ a: 1 }, 99, null])]];
    return write(r, t, objectText(entries), stored(registration), "garbage server-managed fields");
  },
];

const hugeValues: Variant[] = [
  (r, n) => {
    const t = fresh(n);
    const length = r.int(129, 20_000);
    return write(r, t, JSON.stringify({ ...validRegistration(r, t.id), ID: r.chars(length, "abcdefghijklmnopqrstuvwxyz0123456789") }), invalid(["ID"]), `body ID of ${length} chars`);
  },
  (r) => {
    const length = r.int(129, 20_000);
    const id = r.chars(length, "abcdefghijklmnopqrstuvwxyz0123456789");
    const method = r.pick(["GET", "PUT", "DELETE"]);
    const body = method === "PUT" ? JSON.stringify(validRegistration(r, id)) : undefined;
    return call(method, sinkPath(id), badPathId, `path ID of ${length} chars`, body !== undefined ? { body } : {});
  },
  (r, n) => {
    const t = target(r, n);
    const body = JSON.stringify({ ...validRegistration(r, t.id), Address: `https://example.com/${"a".repeat(100_000)}` });
    return write(r, t, body, tooLarge(Buffer.byteLength(body)), "Address of 100k chars");
  },
  (r, n) => {
    const t = target(r, n);
    const length = r.int(2049, 60_000);
    const address = `https://example.com/${"a".repeat(length - 20)}`;
    return write(r, t, JSON.stringify({ ...validRegistration(r, t.id), Address: address }), invalid(["Address"]), `Address of ${length} chars`);
  },
  (r, n) => {
    const t = target(r, n);
    const topics: Record<string, string[]> = {};
    for (let i = 0; i < 1000; i++) topics[r.chance(0.5) ? `T${i}` : `${r.chars(6, "abcdefghij")}${i}`] = ["*"];
    return write(r, t, JSON.stringify({ ...validRegistration(r, t.id), Topics: topics }), invalid(["Topics"]), "1000 unknown topics");
  },
  (r, n) => {
    const t = target(r, n);
    const count = r.int(101, 1000);
    const keys = Array.from({ length: count }, (_, i) => `k${i}`);
    return write(r, t, JSON.stringify({ ...validRegistration(r, t.id), Topics: { Job: keys } }), invalid(["Topics"]), `${count} keys for one topic`);
  },
  (r, n) => {
    const t = target(r, n);
    const length = r.int(513, 20_000);
    return write(r, t, JSON.stringify({ ...validRegistration(r, t.id), Topics: { Job: ["web", "x".repeat(length)] } }), invalid(["Topics"]), `topic key of ${length} chars`);
  },
  (r, n) => {
    const t = target(r, n);
    const where = r.pick(["topic key", "ID", "unknown field name", "Secret"]);
    const big = "k".repeat(1024 * 1024 + r.int(0, 1000));
    const registration = validRegistration(r, t.id);
    const body =
      where === "topic key"
        ? JSON.stringify({ ...registration, Topics: { Job: [big] } })
        : where === "ID"
          ? JSON.stringify({ ...registration, ID: big })
          : where === "Secret"
            ? JSON.stringify({ ...registration, Secret: `whsec_${big}` })
            : objectText([...entriesOf(registration), [big, 1]]);
    return write(r, t, body, tooLarge(Buffer.byteLength(body)), `1 MiB ${where}`);
  },
  (r, n) => {
    const t = fresh(n);
    const registration = validRegistration(r, t.id);
    const text = JSON.stringify(registration);
    const over = r.int(1, 2000);
    const body = text + " ".repeat(BODY_LIMIT + over - Buffer.byteLength(text));
    return write(r, t, body, tooLarge(BODY_LIMIT + over), `valid body padded to ${BODY_LIMIT + over} bytes`);
  },
  (r, n) => {
    const t = fresh(n);
    const registration = validRegistration(r, t.id);
    const text = JSON.stringify(registration);
    const leading = r.int(0, 100);
    const body = " ".repeat(leading) + text + " ".repeat(BODY_LIMIT - leading - Buffer.byteLength(text));
    return write(r, t, body, stored(registration), `valid body of exactly ${BODY_LIMIT} bytes`);
  },
  (r, n) => {
    const t = target(r, n);
    const count = r.int(1000, 5000);
    const entries: Entries = [...entriesOf(validRegistration(r, t.id))];
    for (let i = 0; i < count; i++) entries.push([`f${i}`, i]);
    return write(r, t, objectText(entries), invalid(["body"], ["unknown fields"]), `${count} unknown fields`);
  },
  (r, n) => {
    // JSON keeps the last of duplicate keys: 1000 "Job" entries make one topic.
    const t = fresh(n);
    const registration = validRegistration(r, t.id);
    const topicsText = `{${Array.from({ length: 1000 }, (_, i) => `"Job":["k${i}"]`).join(",")}}`;
    const body = objectText(withField(entriesOf(registration), "Topics", raw(topicsText)));
    return write(r, t, body, stored({ ...registration, Topics: { Job: ["k999"] } }), "1000 duplicate Job topics");
  },
  (r, n) => {
    const t = target(r, n);
    const length = r.int(100, 40_000);
    const secret = `whsec_${r.bytes(length).toString("base64")}`;
    return write(r, t, JSON.stringify({ ...validRegistration(r, t.id), Secret: secret }), invalid(["Secret"]), `Secret of ${length} bytes`, { secret });
  },
  (r, n) => {
    const t = target(r, n);
    const decoded = Buffer.from(JSON.stringify({ ...validRegistration(r, t.id), Address: `https://example.com/${"b".repeat(r.int(BODY_LIMIT, 3 * BODY_LIMIT))}` }));
    return write(r, t, decoded, tooLarge(decoded.length), `base64 body decoding to ${decoded.length} bytes`);
  },
];

const oddUnicode: Variant[] = [
  (r, n) => {
    const t = fresh(n);
    const id = r.pick([...ODD_IDS, ...LONE_SURROGATE_IDS]);
    return write(r, t, JSON.stringify({ ...validRegistration(r, t.id), ID: id }), invalid(["ID"]), `body ID ${short(id)}`);
  },
  (r) => {
    const id = r.pick(ODD_IDS);
    const method = r.pick(["GET", "PUT", "DELETE", "POST"]);
    const body = method === "PUT" || method === "POST" ? JSON.stringify(validRegistration(r, id)) : undefined;
    return call(method, sinkPath(id), badPathId, `percent-encoded path ID ${short(id)}`, body !== undefined ? { body } : {});
  },
  (r) => {
    const id = r.pick([...ODD_IDS.filter((id) => !/[?%]/.test(id)), ...LONE_SURROGATE_IDS]);
    return call(r.pick(["GET", "DELETE"]), `/v1/event/sink/${id}`, badPathId, `raw (unencoded) path ID ${short(id)}`);
  },
  (r) => {
    const encoded = r.pick(["%ED%A0%80", "%ED%B0%80", "sink%ED%A0%80", "%F0%9F"]);
    return call(r.pick(["GET", "PUT", "DELETE"]), `/v1/event/sink/${encoded}`, badEncoding, `path ID with a lone surrogate ${encoded}`);
  },
  (r, n) => {
    const t = target(r, n);
    const control = r.pick(CONTROL_CHARS);
    const key = r.pick([`web${control}`, `${control}`, `a${control}b`]);
    return write(r, t, JSON.stringify({ ...validRegistration(r, t.id), Topics: { Job: ["api", key] } }), invalid(["Topics"]), `topic key with U+${control.charCodeAt(0).toString(16).padStart(4, "0")}`);
  },
  (r, n) => {
    const t = target(r, n);
    const name = r.pick(HOMOGLYPH_TOPICS);
    return write(r, t, JSON.stringify({ ...validRegistration(r, t.id), Topics: { [name]: ["*"] } }), invalid(["Topics"], [JSON.stringify(name)]), `look-alike topic ${short(name)}`);
  },
  (r, n) => {
    const t = fresh(n);
    const keys = r.some(ODD_VALID_KEYS, 1, 4);
    const registration = { ...validRegistration(r, t.id), Topics: { Job: keys, "*": [r.pick(ODD_VALID_KEYS)] } };
    return write(r, t, JSON.stringify(registration), stored(registration), `odd but valid topic keys ${short(keys.join("|"))}`);
  },
  (r, n) => {
    // Either refused as a bad key or stored exactly as sent; never a 5xx or a mangled key.
    const t = fresh(n);
    const key = r.pick(LONE_SURROGATE_KEYS);
    const registration = { ...validRegistration(r, t.id), Topics: { Job: ["web", key] } };
    return write(r, t, JSON.stringify(registration), [stored(registration), invalid(["Topics"])], `lone surrogate topic key ${short(key)}`);
  },
  (r, n) => {
    const t = target(r, n);
    const type = r.pick(BAD_TYPES.filter((type) => /[^\x20-\x7e]/.test(type)));
    return write(r, t, JSON.stringify({ ...validRegistration(r, t.id), Type: type }), invalid(["Type"]), `look-alike Type ${short(type)}`);
  },
  (r, n) => {
    const t = fresh(n);
    const registration = { ...validRegistration(r, t.id), Address: r.pick(["https://bücher.example/hook", "https://例え.テスト/", "http://пример.испытание/x", "https://example.com/ünïcode/🙂"]) };
    return write(r, t, JSON.stringify(registration), stored(registration), `unicode Address ${short(registration.Address)}`);
  },
  (r, n) => {
    // A lone surrogate written straight into the body text (not escaped) becomes U+FFFD.
    const t = fresh(n);
    const id = r.pick(LONE_SURROGATE_IDS);
    const body = objectText(withField(entriesOf(validRegistration(r, t.id)), "ID", raw(`"${id}"`)));
    return write(r, t, body, invalid(["ID"]), `raw lone surrogate in body ID ${short(id)}`);
  },
  (r, n) => {
    const t = target(r, n);
    const name = r.pick(["🙂", "\u0000", "ID\u200b", "\u202eID", "Ｉｄ", "Тype", "Address\u00a0"]);
    return write(r, t, objectText([...entriesOf(validRegistration(r, t.id)), [name, "x"]]), invalid(["body"], ["unknown field", JSON.stringify(name)]), `unknown field ${short(name)}`);
  },
  (r, n) => {
    const t = target(r, n);
    const address = r.pick(["https://exa\u202emple.com/", "https://exa\u0000mple.com/", "https://exa mple.com/", "https://\u200b/"]);
    return write(r, t, JSON.stringify({ ...validRegistration(r, t.id), Address: address }), invalid(["Address"]), `unicode-broken host ${short(address)}`);
  },
];

const pathTricks: Variant[] = [
  (r) => {
    const segment = r.pick([".", "..", "%2e", "%2e%2e", "%2E%2E", ".%2e", "...", "%2e."]);
    const route = r.pick(["sink", "secret", "rotate"] as const);
    if (route === "secret") return call("GET", `/v1/event/sink/${segment}/secret`, badPathId, "dot segment as the ID");
    if (route === "rotate") return call("POST", `/v1/event/sink/${segment}/secret/rotate`, badPathId, "dot segment as the ID");
    const method = r.pick(["GET", "PUT", "POST", "DELETE"]);
    const body = method === "PUT" || method === "POST" ? JSON.stringify(validRegistration(r, decodeURIComponent(segment))) : undefined;
    return call(method, `/v1/event/sink/${segment}`, badPathId, "dot segment as the ID", body !== undefined ? { body } : {});
  },
  (r) => {
    const segment = r.pick(["a%2Fb", "a%2fb", "%2F", "a%5Cb", "a%00b", "%20abc", "abc%20", "a%3Fb", "a%23b", "a%25b", "a%0Ab", "%2F..%2F..%2Fsinks"]);
    return call(r.pick(["GET", "DELETE"]), `/v1/event/sink/${segment}`, badPathId, "encoded separator in the ID");
  },
  (r) => {
    const segment = r.pick(["%ZZ", "%", "%2", "%E0%A4%A", "%C0%AF", "%FF", "abc%", "%G0", "%%"]);
    const path = r.pick([`/v1/event/sink/${segment}`, `/v1/${segment}/sinks`, `/v1/event/sink/x/${segment}`, `/${segment}/event/sinks`]);
    return call(r.pick(["GET", "PUT", "DELETE"]), path, badEncoding, "malformed percent-encoding");
  },
  (r, n) => {
    const path = r.pick(["/v1/event//sink/x", "//v1/event/sinks", "/v1//event/sinks", `/v1/event/sink//fz-${n}`, "/v1/event//sinks", "/v1/event/sinks//"]);
    return call("GET", path, noEndpoint, "double slash");
  },
  (r) => (r.chance(0.5) ? call("GET", "/v1/event/sink//secret", missingId, "empty ID before /secret") : call("POST", "/v1/event/sink//secret/rotate", missingId, "empty ID before /secret/rotate")),
  (r, n) => {
    const path = r.pick(["/v1/event/sinks/", `/v1/event/sink/fz-${n}/`, `/v1/event/sink/${KNOWN_ID}/secret/`, `/v1/event/sink/fz-${n}/secret/rotate/`]);
    return call(r.pick(["GET", "POST"]), path, noEndpoint, "trailing slash");
  },
  (r) => {
    const method = r.pick(["GET", "PUT", "DELETE"]);
    return call(method, "/v1/event/sink/", missingId, "no ID at all", method === "PUT" ? { body: JSON.stringify(validRegistration(r, "")) } : {});
  },
  (r) => {
    if (r.chance(0.5)) {
      const length = r.int(129, 50_000);
      return call("GET", `/v1/event/sink/${"a".repeat(length)}`, badPathId, `path ID of ${length} chars`);
    }
    const segments = r.int(10, 5000);
    return call("GET", `/v1/event/${"a/".repeat(segments)}`, noEndpoint, `${segments} extra path segments`);
  },
  (r, n) => {
    const kind = r.pick(["other", "case", "known body", "known path", "prefix"] as const);
    const pathId = kind === "known path" ? KNOWN_ID : `fz-${n}`;
    const bodyId = kind === "other" ? `fz-${n}-other` : kind === "case" ? `FZ-${n}` : kind === "known body" ? KNOWN_ID : kind === "known path" ? `fz-${n}` : `fz-${n}`.slice(0, -1);
    const t: Target = { id: pathId };
    return write(r, t, JSON.stringify(validRegistration(r, bodyId)), mismatch, `body ID ${short(bodyId)} (${kind})`);
  },
  (r, n) => {
    const id = `gone-${n}`;
    const route = r.pick(["sink", "secret", "rotate"] as const);
    if (route === "sink") return call("GET", sinkPath(id), notFound, "sink that does not exist");
    if (route === "secret") return call("GET", `${sinkPath(id)}/secret`, notFound, "secret of a sink that does not exist");
    return call("POST", `${sinkPath(id)}/secret/rotate`, notFound, "rotating a sink that does not exist");
  },
  (r, n) => {
    const path = r.pick([
      "/V1/event/sinks",
      "/v1/Event/sinks",
      "/v1/event/SINKS",
      "/v2/event/sinks",
      "/v1/events/sinks",
      "/",
      "",
      "v1/event/sinks",
      "/v1/event",
      "/v1/event/sink",
      `/v1/event/sinks/fz-${n}`,
      `/v1/event/sink/fz-${n}/secrets`,
      `/v1/event/sink/fz-${n}/secret/rotation`,
      `/v1/event/sink/fz-${n}/Secret`,
      "/v1/event/sink/%2e%2e/%2e%2e/sinks",
      "/v1/event/sink/../sinks",
    ]);
    return call(r.pick(["GET", "PUT", "POST", "DELETE"]), path, noEndpoint, "no such route");
  },
  (r, n) => {
    // A percent-encoded valid ID is the same ID.
    const t = fresh(n);
    const registration = validRegistration(r, t.id);
    const encoded = [...t.id].map((c) => `%${c.charCodeAt(0).toString(16).padStart(2, "0")}`).join("");
    const { event, bodyBytes } = request("PUT", `/v1/event/sink/${encoded}`, { body: JSON.stringify(registration) });
    return { what: `PUT ${encoded}: fully percent-encoded ID`, event, bodyBytes, expect: [stored(registration)], writes: t.id };
  },
  (r) => {
    const query = r.pick(["pretty=%ZZ", "index=-1&wait=abc", "pretty", "pretty=false&pretty=true", "a=%00", `x=${"y".repeat(5000)}`]);
    return call("GET", `/v1/event/sinks?${query}`, listed, "odd query string");
  },
];

const unknownFields: Variant[] = [
  (r, n) => {
    const t = target(r, n);
    const names = r.some(UNKNOWN_FIELDS, 1, 5);
    const registration = validRegistration(r, t.id);
    const entries: Entries = [...entriesOf(registration)];
    for (const name of names) entries.splice(r.int(0, entries.length), 0, [name, r.pick<unknown>([...WRONG_VALUES, "x", "webhook"])]);
    return write(r, t, objectText(entries), invalid(["body"], ["unknown field", ...names.map((name) => JSON.stringify(name))]), `unknown ${names.map((name) => short(name, 16)).join(", ")}`);
  },
  (r, n) => {
    const t = target(r, n);
    const registration = validRegistration(r, t.id);
    const entries: Entries = [
      ["id", registration.ID],
      ["type", "webhook"],
      ["topics", registration.Topics],
      ["address", registration.Address],
    ];
    return write(r, t, objectText(entries), invalid(["ID", "Type", "Topics", "Address", "body"], ["unknown field"]), "lower-case field names");
  },
  (r, n) => {
    const t = target(r, n);
    const registration = validRegistration(r, t.id);
    return write(r, t, JSON.stringify({ EventSink: registration }), invalid(["ID", "Type", "Topics", "Address", "body"], ['"EventSink"']), "registration wrapped in EventSink");
  },
];

const unknownTopics: Variant[] = [
  (r, n) => {
    const t = target(r, n);
    const names = r.some(UNKNOWN_TOPICS, 1, 3);
    const entries = names.map((name) => `${JSON.stringify(name)}:["*"]`);
    if (r.chance(0.5)) entries.splice(r.int(0, entries.length), 0, `"Job":["web"]`);
    const body = objectText(withField(entriesOf(validRegistration(r, t.id)), "Topics", raw(`{${entries.join(",")}}`)));
    return write(r, t, body, invalid(["Topics"], names.map((name) => `received ${JSON.stringify(name)}`)), `unknown topics ${names.map((name) => short(name, 16)).join(", ")}`);
  },
  (r, n) => {
    // Names that are properties of every object; alone, or beside a valid topic.
    const t = target(r, n);
    const name = r.pick(["__proto__", "constructor", "toString", "hasOwnProperty", "__defineGetter__"]);
    const topics = r.chance(0.5) ? `{${JSON.stringify(name)}:["*"]}` : `{"Job":["web"],${JSON.stringify(name)}:["*"]}`;
    const body = objectText(withField(entriesOf(validRegistration(r, t.id)), "Topics", raw(topics)));
    return write(r, t, body, invalid(["Topics"], [`received ${JSON.stringify(name)}`]), `prototype-named topic in ${topics}`);
  },
  (r, n) => {
    const t = target(r, n);
    return write(r, t, JSON.stringify({ ...validRegistration(r, t.id), Topics: {} }), invalid(["Topics"]), "no topics");
  },
  (r, n) => {
    const t = target(r, n);
    const topics = r.pick<unknown>([["Job"], [["Job", ["*"]]], "Job", "*", { Job: "*" }]);
    return write(r, t, JSON.stringify({ ...validRegistration(r, t.id), Topics: topics }), invalid(["Topics"]), `Topics ${JSON.stringify(topics)}`);
  },
];

// One variant per bad address, so each is sent.
const badAddresses: Variant[] = BAD_ADDRESSES.map((address): Variant => (r, n) => {
  const t = target(r, n);
  return write(r, t, JSON.stringify({ ...validRegistration(r, t.id), Address: address }), invalid(["Address"]), `Address ${short(address)}`);
});

/** Bad secrets by kind; each is a variant of its own. */
const BAD_SECRETS: ReadonlyArray<readonly [string, (r: Rng) => string]> = [
  ["a plain word", () => "secret"],
  ["the prefix without its underscore", () => "whsec"],
  ["the prefix alone", () => "whsec_"],
  ["an upper-case prefix", (r) => `WHSEC_${r.bytes(32).toString("base64")}`],
  ["a hyphen for the underscore", (r) => `whsec-${r.bytes(32).toString("base64")}`],
  ["no prefix", (r) => r.bytes(32).toString("base64")],
  ["punctuation for base64", () => "whsec_!!!!"],
  // At least one '-', so it is never standard base64 by chance.
  ["base64url", (r) => `whsec_-${r.bytes(33).toString("base64url").slice(1)}`],
  ["base64 without its padding", (r) => `whsec_${r.bytes(32).toString("base64").replace(/=+$/, "")}`],
  ["a key that is too short", (r) => `whsec_${r.bytes(r.int(1, 23)).toString("base64")}`],
  ["a key that is too long", (r) => `whsec_${r.bytes(r.int(65, 300)).toString("base64")}`],
  ["a trailing newline", (r) => `whsec_${r.bytes(32).toString("base64")}\n`],
  ["a leading space", (r) => ` whsec_${r.bytes(32).toString("base64")}`],
  ["a space after the prefix", (r) => `whsec_ ${r.bytes(32).toString("base64")}`],
  ["too much padding", (r) => `whsec_${r.bytes(33).toString("base64")}===`],
  ["a space inside the base64", (r) => `whsec_${r.bytes(15).toString("base64")} ${r.bytes(15).toString("base64")}`],
  ["padding only", () => "whsec_===="],
  ["an emoji after the base64", (r) => `whsec_${r.bytes(32).toString("base64")}🙂`],
  ["a short run of A", (r) => `whsec_${"A".repeat(r.int(1, 31))}`],
];

const badSecrets: Variant[] = [
  ...BAD_SECRETS.map(([kind, make]): Variant => (r, n) => {
    const t = target(r, n);
    const secret = make(r);
    return write(r, t, JSON.stringify({ ...validRegistration(r, t.id), Secret: secret }), invalid(["Secret"]), `Secret with ${kind}`, { secret });
  }),
  (r, n) => {
    // The boundaries are accepted.
    const t = fresh(n);
    const bytes = r.pick([24, 64]);
    const secret = validSecret(r, bytes);
    const registration = { ...validRegistration(r, t.id), Secret: secret };
    return write(r, t, JSON.stringify(registration), stored(registration), `Secret of ${bytes} bytes`);
  },
];

/** Routes that an anonymous or wrongly authenticated request may try. */
function authVictim(r: Rng, n: number): { method: string; path: string; body?: string; writes?: string; what: string } {
  const kind = r.pick(["list", "create", "read known", "read known secret", "delete known", "rotate known", "replace known", "bad body"] as const);
  switch (kind) {
    case "list":
      return { method: "GET", path: "/v1/event/sinks", what: kind };
    case "create":
      return { method: r.pick(["PUT", "POST"]), path: sinkPath(`fz-${n}`), body: JSON.stringify(validRegistration(r, `fz-${n}`)), writes: `fz-${n}`, what: kind };
    case "read known":
      return { method: "GET", path: sinkPath(KNOWN_ID), what: kind };
    case "read known secret":
      return { method: "GET", path: `${sinkPath(KNOWN_ID)}/secret`, what: kind };
    case "delete known":
      return { method: "DELETE", path: sinkPath(KNOWN_ID), what: kind };
    case "rotate known":
      return { method: "POST", path: `${sinkPath(KNOWN_ID)}/secret/rotate`, what: kind };
    case "replace known":
      return { method: "PUT", path: sinkPath(KNOWN_ID), body: JSON.stringify(validRegistration(r, KNOWN_ID)), writes: KNOWN_ID, what: kind };
    case "bad body":
      return { method: "PUT", path: sinkPath(`fz-${n}`), body: "{not json", writes: `fz-${n}`, what: kind };
  }
}

function authCase(r: Rng, n: number, credentials: SendOptions, how: string): CaseSpec {
  const victim = authVictim(r, n);
  const { event, bodyBytes } = request(victim.method, victim.path, { ...credentials, ...(victim.body !== undefined ? { body: victim.body } : {}) });
  return { what: `${victim.method} ${victim.what}: ${how}`, event, bodyBytes, expect: [denied], ...(victim.writes !== undefined ? { writes: victim.writes } : {}) };
}

const auth: Variant[] = [
  (r, n) => authCase(r, n, { anonymous: true }, "no token"),
  (r, n) => {
    const token = r.pick(WRONG_TOKENS);
    return authCase(r, n, { anonymous: true, headers: { "x-nomad-token": token } }, `X-Nomad-Token ${short(token, 30)}`);
  },
  (r, n) => {
    const authorization = r.pick(BAD_AUTHORIZATIONS);
    return authCase(r, n, { anonymous: true, headers: { authorization } }, `Authorization ${short(authorization, 40)}`);
  },
  (r, n) => {
    const token = r.pick(WRONG_TOKENS);
    return authCase(r, n, { anonymous: true, headers: { "x-nomad-token": token, authorization: r.pick(GOOD_AUTHORIZATIONS) } }, `wrong X-Nomad-Token ${short(token, 20)} beside a good Bearer`);
  },
  (r, n) => authCase(r, n, { anonymous: true, headers: { "x-nomad-token": r.pick(["", " ", "\t"]), authorization: r.pick(BAD_AUTHORIZATIONS) } }, "blank X-Nomad-Token and a bad Bearer"),
  (r, n) => authCase(r, n, { rawHeaders: { "X-Nomad-Token-X": TEST_TOKEN, "X-Nomad": TEST_TOKEN, Token: TEST_TOKEN } }, "the token under other header names"),
  (r, n) => {
    // Accepted credentials in other spellings: the request then does what it asks.
    const ways: Array<[SendOptions, string]> = [
      [{ anonymous: true, headers: { authorization: r.pick(GOOD_AUTHORIZATIONS) } }, "good Bearer"],
      [{ headers: { authorization: r.pick(BAD_AUTHORIZATIONS) } }, "good X-Nomad-Token beside a bad Authorization"],
      [{ rawHeaders: { "X-Nomad-Token": TEST_TOKEN } }, "X-Nomad-Token with capitals"],
      [{ rawHeaders: { AUTHORIZATION: `Bearer ${TEST_TOKEN}` } }, "AUTHORIZATION with capitals"],
      [{ anonymous: true, headers: { "x-nomad-token": "", authorization: `Bearer ${TEST_TOKEN}` } }, "empty X-Nomad-Token and a good Bearer"],
    ];
    const [credentials, how] = r.pick(ways);
    const kind = r.pick(["list", "create", "missing"] as const);
    if (kind === "list") return call("GET", "/v1/event/sinks", listed, how, credentials);
    if (kind === "missing") return call("GET", sinkPath(`gone-${n}`), notFound, how, credentials);
    const t = fresh(n);
    const registration = validRegistration(r, t.id);
    return write(r, t, JSON.stringify(registration), stored(registration), how, credentials);
  },
];

function wrongMethodCase(r: Rng, n: number, route: RouteSpec, method: string): CaseSpec {
  const t = target(r, n);
  const body = r.chance(0.5) ? JSON.stringify(validRegistration(r, t.id)) : undefined;
  const authorized = r.chance(0.75);
  const options: SendOptions = { ...(body !== undefined ? { body } : {}), ...(authorized ? {} : { anonymous: true }) };
  const { event, bodyBytes } = request(method, route.path(t.id), options);
  return {
    what: `${short(method, 20)} on ${route.name} ${short(t.id, 20)}${authorized ? "" : " (no token)"}${body !== undefined ? " with a valid body" : ""}`,
    event,
    bodyBytes,
    // Refusing the method before or after authenticating are both fine when no token is sent.
    expect: authorized ? [badMethod] : [badMethod, denied],
    ...(route.name === "sink" ? { writes: t.id } : {}),
  };
}

const wrongMethods: Variant[] = [
  ...ROUTES.flatMap((route) => ["PATCH", "HEAD", "OPTIONS"].map((method): Variant => (r, n) => wrongMethodCase(r, n, route, method))),
  (r, n) => {
    const route = r.pick(ROUTES);
    const method = r.pick([...ODD_METHODS, ...["GET", "PUT", "POST", "DELETE"].filter((m) => !route.allowed.includes(m))]);
    return wrongMethodCase(r, n, route, method);
  },
];

const base64Bodies: Variant[] = [
  (r, n) => write(r, target(r, n), r.bytes(r.int(1, 300)), [invalidJson, anyInvalid], "random bytes"),
  (r, n) => {
    const text = r.pick(["!!!!", "{not base64}", "%%%%", "====", "YQ", "Zm9v\u0000", "🙂🙂", "-_-_", "   ", "*"]);
    return write(r, target(r, n), undefined, [invalidJson, emptyBody, anyInvalid], `non-base64 text ${short(text)}`, { base64Text: text });
  },
  (r, n) => {
    const t = target(r, n);
    return write(r, t, undefined, [invalidJson, emptyBody, anyInvalid], "plain JSON flagged as base64", { base64Text: JSON.stringify(validRegistration(r, t.id)) });
  },
  (r, n) => {
    const t = fresh(n);
    const registration = validRegistration(r, t.id);
    return write(r, t, Buffer.from(JSON.stringify(registration)), stored(registration), "base64 of a valid body");
  },
  (r, n) => {
    // MIME-style line breaks: decoded leniently, or refused; never anything else.
    const t = fresh(n);
    const registration = validRegistration(r, t.id);
    const wrapped = Buffer.from(JSON.stringify(registration)).toString("base64").replace(/.{76}/g, "$&\r\n");
    return write(r, t, undefined, [stored(registration), anyBadRequest], "base64 with line breaks", { base64Text: wrapped });
  },
  (r, n) => {
    const t = target(r, n);
    const field = r.pick(["ID", "Type", "Topics", "Address", "Secret"] as const);
    return write(r, t, Buffer.from(objectText(withField(entriesOf(validRegistration(r, t.id)), field, r.pick(WRONG_VALUES)))), invalid([field]), `base64 body with a bad ${field}`);
  },
  (r, n) => {
    const t = target(r, n);
    return write(r, t, Buffer.from(JSON.stringify(validRegistration(r, t.id)), "utf16le"), invalidJson, "base64 of UTF-16 JSON");
  },
  (r, n) => {
    const t = target(r, n);
    return write(r, t, Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify(validRegistration(r, t.id)))]), invalidJson, "base64 of JSON after a BOM");
  },
  (r, n) => {
    const t = fresh(n);
    const invalidUtf8 = r.pick([[0xff, 0xfe], [0xc0, 0xaf], [0xed, 0xa0, 0x80], [0x80]]);
    const text = JSON.stringify({ ...validRegistration(r, "PLACEHOLDER") });
    const [before, after] = text.split("PLACEHOLDER") as [string, string];
    return write(r, t, Buffer.concat([Buffer.from(before), Buffer.from(invalidUtf8), Buffer.from(after)]), invalid(["ID"]), `invalid UTF-8 ${invalidUtf8.map((b) => b.toString(16)).join(" ")} in the ID`);
  },
  (r, n) => write(r, target(r, n), undefined, emptyBody, "empty base64 body", { base64Text: "" }),
];

const GENERATORS: ReadonlyArray<readonly [Category, readonly Variant[], number]> = [
  ["bad JSON", badJson, 150],
  ["wrong types", wrongTypes, 150],
  ["huge values", hugeValues, 70],
  ["odd unicode", oddUnicode, 130],
  ["path tricks", pathTricks, 140],
  ["unknown fields", unknownFields, 60],
  ["unknown topics", unknownTopics, 70],
  ["bad addresses", badAddresses, 80],
  ["bad secrets", badSecrets, 70],
  ["auth", auth, 150],
  ["wrong methods", wrongMethods, 120],
  ["base64 bodies", base64Bodies, 80],
];

function generateCases(seed: number): FuzzCase[] {
  const r = new Rng(seed);
  const planned: Category[] = r.shuffle(GENERATORS.flatMap(([category, , count]) => Array.from({ length: count }, () => category)));
  const taken = new Map<Category, number>();
  return planned.map((category, n) => {
    const variants = GENERATORS.find(([name]) => name === category)?.[1] ?? [];
    const k = taken.get(category) ?? 0;
    taken.set(category, k + 1);
    const variant = variants[k % variants.length];
    if (variant === undefined) throw new Error(`no variants for ${category}`);
    return { n, category, ...variant(r, n) };
  });
}

// ---------------------------------------------------------------------------------
// Checking answers.

interface Result {
  readonly response?: Response;
  readonly thrown?: unknown;
}

const PROBLEM_START = /(?:^|; )(ID in the path|ID|Type|Topics|Address|Secret|body|LatestIndex|CreateIndex|ModifyIndex)(?=[:.[])/g;

/** The problems of a validation message, each with the field (root) it names. */
function problemsOf(problemsText: string): { problems: Array<{ field: string; text: string }>; error?: string } {
  const starts = [...problemsText.matchAll(PROBLEM_START)];
  const first = starts[0];
  if (first === undefined || first.index !== 0) return { problems: [], error: `does not start with a field name: ${short(problemsText, 120)}` };
  const problems = starts.map((match, i) => {
    const from = match.index + (match[0].startsWith("; ") ? 2 : 0);
    const next = starts[i + 1];
    return { field: match[1] as string, text: problemsText.slice(from, next === undefined ? undefined : next.index) };
  });
  return { problems };
}

const FOUR_XX_MESSAGES: Readonly<Record<number, RegExp>> = {
  400: /^(invalid event sink( ID)?: |Request body is (empty|not valid JSON)|Invalid URL path|Missing event sink ID|Event sink name does not match request path)/,
  403: /^Permission denied/,
  404: /not found|no endpoint/,
  405: /^Invalid method/,
  409: /try again/,
  413: /too large/i,
};

const label = (c: FuzzCase) => `#${c.n} [${c.category}] ${c.what}`;

/** What every answer must be, whatever the request. */
function generalProblems(c: FuzzCase, result: Result): string[] {
  if (result.thrown !== undefined) return [`handler threw ${String(result.thrown)}`];
  const response = result.response;
  if (response === undefined) return ["no response"];
  const { statusCode } = response;
  const body = typeof response.body === "string" ? response.body : "";
  const out: string[] = [];
  // 5xx have their own test; here, anything that is not an HTTP status is wrong.
  if (!Number.isInteger(statusCode) || statusCode < 200) out.push(`answered ${statusCode}: ${short(body, 200)}`);
  if (statusCode >= 400 && statusCode < 500) {
    if (body.trim() === "") out.push(`${statusCode} with an empty body`);
    if (!response.headers["content-type"]?.startsWith("text/plain")) out.push(`${statusCode} is not plain text: ${response.headers["content-type"]}`);
    const expected = FOUR_XX_MESSAGES[statusCode];
    if (expected === undefined) out.push(`unexpected status ${statusCode}: ${short(body, 200)}`);
    else if (!expected.test(body)) out.push(`${statusCode} does not say what was wrong: ${short(body, 200)}`);
    if (statusCode === 413 && !(body.includes(String(c.bodyBytes)) && body.includes(String(BODY_LIMIT)))) {
      out.push(`413 does not give the size (${c.bodyBytes} of at most ${BODY_LIMIT}): ${short(body, 200)}`);
    }
    const validation = /^invalid event sink(?: ID)?: /.exec(body);
    if (validation) {
      const { problems, error } = problemsOf(body.slice(validation[0].length));
      if (error) out.push(`validation message ${error}`);
      for (const problem of problems) {
        if (!FIELDS.includes(problem.field as Field)) out.push(`problem names ${problem.field}, not a registration field: ${short(problem.text, 120)}`);
        if (!/received|unknown field/.test(problem.text)) out.push(`problem does not say what was received: ${short(problem.text, 120)}`);
      }
    }
    if (body.includes(KNOWN_SECRET)) out.push("an error echoes the known-good sink's secret");
    if (c.secret !== undefined && c.secret.length >= 10 && body.includes(c.secret)) out.push("an error echoes the secret it was sent");
  }
  if (statusCode === 200 && c.writes !== undefined && body !== "") out.push(`a write answered 200 with a body: ${short(body, 100)}`);
  return out;
}

/** Whether the answer is one the case allows; undefined if so, else why not. */
function expectationProblem(c: FuzzCase, result: Result): string | undefined {
  const response = result.response;
  if (response === undefined) return "no response";
  const body = typeof response.body === "string" ? response.body : "";
  const reasons: string[] = [];
  for (const outcome of c.expect) {
    if (outcome.status !== response.statusCode) continue;
    if (outcome.message && !outcome.message.test(body)) {
      reasons.push(`message does not match ${outcome.message}`);
      continue;
    }
    const missing = (outcome.mentions ?? []).filter((text) => !body.includes(text));
    if (missing.length > 0) {
      reasons.push(`message does not mention ${missing.map((m) => short(m, 30)).join(", ")}`);
      continue;
    }
    if (outcome.fields) {
      const prefix = /^invalid event sink: /.exec(body);
      const named = prefix ? [...new Set(problemsOf(body.slice(prefix[0].length)).problems.map((p) => p.field))].sort() : [];
      const wanted = [...outcome.fields].sort();
      if (JSON.stringify(named) !== JSON.stringify(wanted)) {
        reasons.push(`names fields ${named.join(",") || "none"}, expected ${wanted.join(",")}`);
        continue;
      }
    }
    return undefined;
  }
  const allowed = c.expect.map((o) => o.status).join(" or ");
  return `answered ${response.statusCode} (expected ${allowed})${reasons.length ? `; ${reasons.join("; ")}` : ""}: ${short(body, 240)}`;
}

function report(failures: readonly string[]): string[] {
  return failures.length === 0 ? [] : [`${failures.length} failure(s), seed ${SEED}; the first:`, ...failures.slice(0, 25)];
}

async function runAll<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < items.length; i = next++) results[i] = await fn(items[i] as T);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

// ---------------------------------------------------------------------------------

describe(`sinks API fuzz (seed ${SEED})`, () => {
  const cases = generateCases(SEED);
  let results: Result[] = [];
  let knownBefore: PublicSink | undefined;
  let listAfter: Response | undefined;
  let knownSecretAfter: Response | undefined;
  let elapsedMs = 0;

  beforeAll(async () => {
    // Validation is the subject here; loopback examples are allowlisted past the SSRF guard.
    const { api } = await newSinksApi({ allowedCidrs: ["127.0.0.0/8", "::1/128"] });
    const send = (event: APIGatewayProxyEventV2) => api(event);

    const created = await send(httpApiEvent("PUT", sinkPath(KNOWN_ID), { body: KNOWN }));
    expect(created.statusCode, String(created.body)).toBe(200);
    const read = await send(httpApiEvent("GET", sinkPath(KNOWN_ID)));
    expect(read.statusCode, String(read.body)).toBe(200);
    knownBefore = JSON.parse(String(read.body)) as PublicSink;

    const started = performance.now();
    results = await runAll(cases, CONCURRENCY, async (c): Promise<Result> => {
      try {
        return { response: await send(c.event) };
      } catch (thrown) {
        return { thrown };
      }
    });
    elapsedMs = performance.now() - started;

    listAfter = await send(httpApiEvent("GET", "/v1/event/sinks"));
    knownSecretAfter = await send(httpApiEvent("GET", `${sinkPath(KNOWN_ID)}/secret`));
  }, 120_000);

  const resultOf = (c: FuzzCase): Result => results[c.n] ?? { thrown: new Error("not sent") };

  it("sends at least 1,000 malformed requests across every category", () => {
    const counts: Record<string, number> = {};
    for (const c of cases) counts[c.category] = (counts[c.category] ?? 0) + 1;
    console.info(`sinks API fuzz: seed ${SEED}, ${cases.length} requests in ${Math.round(elapsedMs)} ms`, counts);
    expect(results).toHaveLength(cases.length);
    expect(cases.length).toBeGreaterThanOrEqual(1000);
    for (const [category, variants] of GENERATORS) expect(counts[category] ?? 0, category).toBeGreaterThanOrEqual(variants.length);
  });

  it("never throws and never answers 5xx", () => {
    const failures: string[] = [];
    for (const c of cases) {
      const result = resultOf(c);
      if (result.thrown !== undefined) failures.push(`${label(c)}: threw ${String(result.thrown)}`);
      else if ((result.response?.statusCode ?? 500) >= 500) failures.push(`${label(c)}: ${result.response?.statusCode} ${short(result.response?.body, 120)}`);
    }
    expect(report(failures)).toEqual([]);
  });

  it("answers every 4xx with a plain-text message naming what was wrong", () => {
    const failures = cases.flatMap((c) => generalProblems(c, resultOf(c)).map((problem) => `${label(c)}: ${problem}`));
    expect(report(failures)).toEqual([]);
  });

  it("answers each request as its category requires", () => {
    const failures = cases.flatMap((c) => {
      const problem = expectationProblem(c, resultOf(c));
      return problem === undefined ? [] : [`${label(c)}: ${problem}`];
    });
    expect(report(failures)).toEqual([]);
  });

  it("blames the path, not the body, for a bad sink ID in the path", () => {
    const failures = cases.flatMap((c) => {
      const body = String(resultOf(c).response?.body ?? "");
      return /^invalid event sink ID: body\b/.test(body) ? [`${label(c)}: ${short(body, 160)}`] : [];
    });
    expect(report(failures)).toEqual([]);
  });

  it("stores exactly the sinks whose writes were answered 200, as they were sent", () => {
    expect(listAfter?.statusCode, String(listAfter?.body)).toBe(200);
    const sinks = JSON.parse(String(listAfter?.body)) as PublicSink[];
    const accepted = cases.filter((c) => c.writes !== undefined && resultOf(c).response?.statusCode === 200);
    const expectedIds = [...new Set([KNOWN_ID, ...accepted.map((c) => c.writes as string)])].sort();
    expect(sinks.map((sink) => sink.ID).sort()).toEqual(expectedIds);
    // The fuzz is not vacuous: some requests were meant to be, and were, accepted.
    expect(accepted.length).toBeGreaterThan(20);

    const failures: string[] = [];
    for (const c of accepted) {
      const sink = sinks.find((s) => s.ID === c.writes);
      const want = c.expect.find((o) => o.status === 200)?.stores;
      if (sink === undefined || want === undefined) continue;
      if (JSON.stringify(sortKeys(sink.Topics)) !== JSON.stringify(sortKeys(want.Topics))) failures.push(`${label(c)}: stored Topics ${short(JSON.stringify(sink.Topics), 120)}, sent ${short(JSON.stringify(want.Topics), 120)}`);
      if (sink.Address !== want.Address) failures.push(`${label(c)}: stored Address ${short(sink.Address)}, sent ${short(want.Address)}`);
      if (sink.Type !== "webhook" || sink.LatestIndex !== 0 || sink.CreateIndex !== sink.ModifyIndex) {
        failures.push(`${label(c)}: stored ${short(JSON.stringify({ ...sink, Topics: undefined }), 160)} (server-managed fields taken from the request?)`);
      }
    }
    expect(report(failures)).toEqual([]);
  });

  it("leaves the known-good sink exactly as it was", () => {
    expect(knownBefore).toBeDefined();
    const sinks = JSON.parse(String(listAfter?.body)) as PublicSink[];
    expect(sinks.find((sink) => sink.ID === KNOWN_ID)).toEqual(knownBefore);
    expect(knownBefore?.Topics).toEqual(KNOWN.Topics);
    expect(knownBefore?.Address).toBe(KNOWN.Address);
    expect(knownSecretAfter?.statusCode).toBe(200);
    expect(JSON.parse(String(knownSecretAfter?.body))).toEqual({ ID: KNOWN_ID, Secret: KNOWN_SECRET, PreviousSecrets: [] });
  });
});

function sortKeys(topics: Record<string, string[]>): Array<[string, string[]]> {
  return Object.entries(topics).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}
