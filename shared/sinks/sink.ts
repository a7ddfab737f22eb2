import { z } from "zod";
import { canonicalTopic, NOMAD_TOPICS, TOPIC_ALIASES } from "../nomad/topics";
import { ALL_NAMESPACES, NamespacesSchema, TeamNameSchema } from "../tokens/scope";
import { parseOrThrow } from "../validation";
import { decodeSecret } from "./secret";

export const SINK_TYPE_WEBHOOK = "webhook";
export const SINK_ID_MAX_LENGTH = 128;
export const ADDRESS_MAX_LENGTH = 2048;
export const TOPIC_KEY_MAX_LENGTH = 512;
export const KEYS_PER_TOPIC_MAX = 100;

/** A sink as stored: Nomad's `EventSink` fields plus its signing secrets. */
export interface Sink {
  readonly ID: string;
  readonly Type: typeof SINK_TYPE_WEBHOOK;
  /** Topic (current name) → keys; see `matchesTopics`. */
  readonly Topics: Readonly<Record<string, readonly string[]>>;
  readonly Address: string;
  /** Highest event index delivered to the webhook; only ever moves forward. */
  readonly LatestIndex: number;
  readonly CreateIndex: number;
  /** Index of the last configuration change. */
  readonly ModifyIndex: number;
  /** Current `whsec_` signing secret. */
  readonly Secret: string;
  /** Replaced secrets that still sign until they expire (rotation grace). */
  readonly PreviousSecrets: readonly PreviousSecret[];
  /** Set when deliveries stopped for good (the webhook answered 410 Gone); re-registering clears it. */
  readonly Disabled?: SinkDisabled;
  /** The team that owns the sink (made with its team token); absent when made with a management token. */
  readonly Team?: string;
  /** Namespaces whose events the sink receives (within its team's); absent means every one. */
  readonly Namespaces?: readonly string[];
}

export interface SinkDisabled {
  readonly Reason: string;
  /** Epoch milliseconds. */
  readonly At: number;
}

export interface PreviousSecret {
  readonly Secret: string;
  /** Epoch milliseconds. */
  readonly ExpiresAt: number;
}

/** The order sinks are listed in: by ID, byte for byte (Nomad's list order). */
export function bySinkId(a: Pick<Sink, "ID">, b: Pick<Sink, "ID">): number {
  return a.ID < b.ID ? -1 : a.ID > b.ID ? 1 : 0;
}

/** What a missing sink answers (and one the caller may not see: names do not leak). */
export const SINK_NOT_FOUND = "event sink not found";

/** What the API shows of a sink: Nomad's fields, in Nomad's order, and never a secret. */
export interface PublicSink {
  ID: string;
  Type: string;
  Topics: Record<string, string[]>;
  Address: string;
  LatestIndex: number;
  CreateIndex: number;
  ModifyIndex: number;
  /** Ours, after Nomad's fields: whether deliveries are flowing, and if not, why and since when. */
  Enabled: boolean;
  DisabledReason: string;
  DisabledAt: string | null;
  /** The owning team; "" for a sink made with a management token. */
  Team: string;
  /** The sink's namespace filter; ["*"] when it has none. */
  Namespaces: string[];
}

export function toPublicSink(sink: Sink): PublicSink {
  return {
    ID: sink.ID,
    Type: sink.Type,
    Topics: Object.fromEntries(Object.entries(sink.Topics).map(([topic, keys]) => [topic, [...keys]])),
    Address: sink.Address,
    LatestIndex: sink.LatestIndex,
    CreateIndex: sink.CreateIndex,
    ModifyIndex: sink.ModifyIndex,
    Enabled: sink.Disabled === undefined,
    DisabledReason: sink.Disabled?.Reason ?? "",
    DisabledAt: sink.Disabled ? new Date(sink.Disabled.At).toISOString() : null,
    Team: sink.Team ?? "",
    Namespaces: sink.Namespaces ? [...sink.Namespaces] : [ALL_NAMESPACES],
  };
}

const ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._~-]*$/;

export const SinkIdSchema = z
  .string({ error: "must be a string" })
  .min(1, { error: "must not be empty", abort: true })
  .max(SINK_ID_MAX_LENGTH, { error: `must be at most ${SINK_ID_MAX_LENGTH} characters`, abort: true })
  .regex(ID_PATTERN, { error: "must start with a letter or digit and contain only letters, digits, '.', '_', '~' and '-'" });

const validTopicNames = `${NOMAD_TOPICS.join(", ")} (or the 1.0-beta names ${Object.keys(TOPIC_ALIASES).join(", ")})`;

// C0, DEL and C1 controls; and UTF-16 halves without their pair (not valid Unicode text).
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

const TopicKeySchema = z
  .string({ error: "must be a string" })
  .max(TOPIC_KEY_MAX_LENGTH, { error: `must be at most ${TOPIC_KEY_MAX_LENGTH} characters`, abort: true })
  .refine((key) => !CONTROL.test(key), { error: "must not contain control characters" })
  .refine((key) => !LONE_SURROGATE.test(key), { error: "must be valid Unicode (it has an unpaired surrogate)" });

/**
 * Flags unknown topic names before the record parses them: zod's record silently skips
 * a `__proto__` key, which would otherwise vanish from the sink without an error.
 */
const KnownTopicNames = z.unknown().superRefine((value, ctx) => {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return;
  for (const name of Object.keys(value)) {
    if (canonicalTopic(name) === undefined) ctx.addIssue({ code: "custom", path: [name], message: `unknown topic; valid topics are ${validTopicNames}`, input: name });
  }
});

const TopicsSchema = KnownTopicNames.pipe(
  z
  .record(
    z.string().refine((name) => canonicalTopic(name) !== undefined, { error: `unknown topic; valid topics are ${validTopicNames}` }),
    z
      .array(TopicKeySchema, { error: 'must be a list of keys, such as ["*"]' })
      .min(1, { error: 'must list at least one key (use ["*"] for every event of the topic)' })
      .max(KEYS_PER_TOPIC_MAX, { error: `must list at most ${KEYS_PER_TOPIC_MAX} keys` }),
    { error: (issue) => (issue.code === "invalid_type" ? 'must be an object of topic to keys, such as {"Job": ["*"]}' : undefined) },
  )
  .refine((topics) => Object.keys(topics).length > 0, { error: 'must name at least one topic, such as {"*": ["*"]}' }),
).transform(normalizeTopics);

/** Resolves beta aliases and merges keys of topics that name the same thing, without duplicates. */
function normalizeTopics(topics: Record<string, string[]>): Record<string, string[]> {
  const merged: Record<string, string[]> = {};
  for (const [name, keys] of Object.entries(topics)) {
    const topic = canonicalTopic(name) as string;
    const into = (merged[topic] ??= []);
    for (const key of keys) if (!into.includes(key)) into.push(key);
  }
  return merged;
}

const AddressSchema = z
  .string({ error: "must be a string" })
  .max(ADDRESS_MAX_LENGTH, { error: `must be at most ${ADDRESS_MAX_LENGTH} characters`, abort: true })
  .superRefine((address, ctx) => {
    const problem = addressProblem(address);
    if (problem) ctx.addIssue({ code: "custom", message: problem, input: address });
  });

function addressProblem(address: string): string | undefined {
  // The URL parser would quietly strip these; a stored address must be what is dialled.
  if (/\s/.test(address) || CONTROL.test(address)) return "must not contain spaces or control characters (percent-encode them)";
  if (LONE_SURROGATE.test(address)) return "must be valid Unicode (it has an unpaired surrogate)";
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    return "must be an absolute http:// or https:// URL";
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return `must use http:// or https://, not ${url.protocol}//`;
  if (url.hostname === "") return "must name a host";
  if (url.username !== "" || url.password !== "") return "must not contain credentials (user:password@); use the signing secret to authenticate deliveries";
  if (address.includes("#")) return "must not contain a #fragment (it is never sent)";
  return undefined;
}

const SecretSchema = z.string({ error: "must be a string" }).superRefine((secret, ctx) => {
  const decoded = decodeSecret(secret);
  if ("problem" in decoded) ctx.addIssue({ code: "custom", message: decoded.problem, input: "(secret not shown)" });
});

/** Fields the server manages: accepted in a request (the Go client sends them) and ignored. */
const ServerManaged = z.unknown().optional();

/** The body of `PUT /v1/event/sink/:id`. */
export const SinkRegistrationSchema = z.strictObject(
  {
    ID: SinkIdSchema,
    Type: z.literal(SINK_TYPE_WEBHOOK, { error: `must be "${SINK_TYPE_WEBHOOK}"` }),
    Topics: TopicsSchema,
    Address: AddressSchema,
    Secret: SecretSchema.optional(),
    Namespaces: NamespacesSchema.optional(),
    // "" gives a team's sink back to management (a management token only).
    Team: z.union([z.literal(""), TeamNameSchema]).optional(),
    LatestIndex: ServerManaged,
    CreateIndex: ServerManaged,
    ModifyIndex: ServerManaged,
  },
  { error: "must be a JSON object with ID, Type, Topics and Address" },
);

export interface SinkRegistration {
  readonly ID: string;
  readonly Type: typeof SINK_TYPE_WEBHOOK;
  readonly Topics: Record<string, string[]>;
  readonly Address: string;
  readonly Secret?: string;
  /** Absent: every namespace (of the owning team). A body's ["*"] is parsed as absent. */
  readonly Namespaces?: string[];
  /** The owner: a team name, "" for management, absent to keep the current owner. */
  readonly Team?: string;
}

/** Validates a registration body; throws ValidationError naming each bad field. */
export function parseSinkRegistration(body: unknown): SinkRegistration {
  const parsed = parseOrThrow(SinkRegistrationSchema, body, "event sink");
  return {
    ID: parsed.ID,
    Type: parsed.Type,
    Topics: parsed.Topics,
    Address: parsed.Address,
    ...(parsed.Secret !== undefined ? { Secret: parsed.Secret } : {}),
    // ["*"] is no filter at all: stored as none.
    ...(parsed.Namespaces !== undefined && !parsed.Namespaces.includes(ALL_NAMESPACES) ? { Namespaces: parsed.Namespaces } : {}),
    ...(parsed.Team !== undefined ? { Team: parsed.Team } : {}),
  };
}

/** Validates a sink ID taken from a path. */
export function parseSinkId(id: unknown): string {
  return parseOrThrow(SinkIdSchema, id, "event sink ID", "ID in the path");
}

/** The secrets that sign a delivery now: the current one, then unexpired previous ones. */
export function signingSecrets(sink: Pick<Sink, "Secret" | "PreviousSecrets">, now = Date.now()): string[] {
  // The usual case (no rotation under way) builds no intermediate arrays: this runs for every POST.
  if (sink.PreviousSecrets.length === 0) return [sink.Secret];
  return [sink.Secret, ...sink.PreviousSecrets.filter((p) => p.ExpiresAt > now).map((p) => p.Secret)];
}
