/**
 * PutEvents as EventBridge checks it: the request's shape (SerializationException), its
 * constraints (ValidationException for the whole call), then each entry on its own (a
 * per-entry ErrorCode in a 200 answer). Pure; the server in local-eventbridge.ts adds
 * the bus's state and the injected failures.
 *
 * Codes and messages marked "recorded" are what AWS answered in LocalStack's snapshot
 * tests recorded against AWS (tests/aws/services/events/test_events.snapshot.json,
 * 2025-01); the others are this stand-in's best reading and are said so where they are.
 */
import { PUT_EVENTS_MAX_ENTRIES } from "../../../shared/eventbridge/entry-size";

/** Detail nested deeper than this is refused (the limit as the project states it; not checked against AWS). */
export const PUT_EVENTS_MAX_DETAIL_DEPTH = 1100;

export const DEFAULT_EVENT_BUS = "default";

/** A whole-call failure: the HTTP status and the `__type` the SDK turns into `error.name`. */
export class EventBridgeApiError extends Error {
  override readonly name = "EventBridgeApiError";
  constructor(
    readonly status: number,
    readonly type: string,
    message: string,
  ) {
    super(message);
  }
}

/** One request entry as it arrives (JSON nulls dropped); Time is epoch seconds on the wire. */
export interface PutEventsWireEntry {
  readonly Time?: number;
  readonly Source?: string;
  readonly Resources?: readonly string[];
  readonly DetailType?: string;
  readonly Detail?: string;
  readonly EventBusName?: string;
  readonly TraceHeader?: string;
}

export interface PutEventsEntryFailure {
  readonly ErrorCode: string;
  readonly ErrorMessage: string;
}

export type PutEventsResultEntry = { readonly EventId: string } | PutEventsEntryFailure;

const STRING_FIELDS = ["Source", "DetailType", "Detail", "EventBusName", "TraceHeader"] as const;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function serializationError(message: string): EventBridgeApiError {
  return new EventBridgeApiError(400, "SerializationException", message);
}

function validationError(message: string): EventBridgeApiError {
  return new EventBridgeApiError(400, "ValidationException", message);
}

function readEntry(raw: unknown, index: number): PutEventsWireEntry {
  // A wrong JSON type is a deserialization failure for the whole call in AWS's JSON
  // protocols, not a per-entry error; the SDK's types make it unreachable anyway.
  if (!isRecord(raw)) throw serializationError(`Entries[${index}] must be an object`);
  const entry: Record<string, unknown> = {};
  for (const field of STRING_FIELDS) {
    const value = raw[field];
    if (value === undefined || value === null) continue;
    if (typeof value !== "string") throw serializationError(`Entries[${index}].${field} must be a string`);
    entry[field] = value;
  }
  const resources = raw.Resources;
  if (resources !== undefined && resources !== null) {
    if (!Array.isArray(resources) || !resources.every((resource) => typeof resource === "string")) {
      throw serializationError(`Entries[${index}].Resources must be a list of strings`);
    }
    entry.Resources = resources;
  }
  const time = raw.Time;
  if (time !== undefined && time !== null) {
    // Epoch seconds is the JSON protocols' timestamp form; a value no date can hold
    // cannot be deserialized either.
    if (typeof time !== "number" || !Number.isFinite(new Date(time * 1000).getTime())) {
      throw serializationError(`Entries[${index}].Time must be a timestamp in epoch seconds`);
    }
    entry.Time = time;
  }
  return entry as PutEventsWireEntry;
}

/**
 * The entries of a PutEvents body, shape-checked (SerializationException) and present
 * (ValidationException when Entries is missing). Limits are checked separately, so a
 * caller can measure a call before deciding to fail it whole.
 */
export function readPutEventsEntries(body: unknown): PutEventsWireEntry[] {
  if (!isRecord(body)) throw serializationError("the request body must be a JSON object");
  const rawEntries = body.Entries;
  if (rawEntries === undefined || rawEntries === null) {
    throw validationError("1 validation error detected: Value null at 'entries' failed to satisfy constraint: Member must not be null");
  }
  if (!Array.isArray(rawEntries)) throw serializationError("Entries must be a list");
  return rawEntries.map(readEntry);
}

/** Entry count (1 to 10) and summed size (`size`, by putEventsRequestSize: at most `maxRequestBytes`). */
export function checkPutEventsLimits(entries: readonly PutEventsWireEntry[], size: number, maxRequestBytes: number): void {
  if (entries.length < 1) {
    throw validationError("1 validation error detected: Value '[]' at 'entries' failed to satisfy constraint: Member must have length greater than or equal to 1");
  }
  if (entries.length > PUT_EVENTS_MAX_ENTRIES) {
    // AWS prints every entry into this message; the count says the same more briefly.
    throw validationError(
      `1 validation error detected: Value '[${entries.length} entries]' at 'entries' failed to satisfy constraint: Member must have length less than or equal to ${PUT_EVENTS_MAX_ENTRIES}`,
    );
  }
  // Message recorded. Exactly the limit passes and one byte more fails, as a third-party
  // test against AWS observed at the 1 MB limit.
  if (size > maxRequestBytes) throw validationError("Total size of the entries in the request is over the limit.");
}

/** How deep a JSON text nests (`{}` is 1), counted without recursion. */
export function jsonNestingDepth(text: string): number {
  let depth = 0;
  let deepest = 0;
  let inString = false;
  for (let at = 0; at < text.length; at++) {
    const code = text.charCodeAt(at);
    if (inString) {
      if (code === 0x5c) at++; // backslash: skip the escaped character
      else if (code === 0x22) inString = false;
    } else if (code === 0x22) inString = true;
    else if (code === 0x7b || code === 0x5b) deepest = Math.max(deepest, ++depth);
    else if (code === 0x7d || code === 0x5d) depth--;
  }
  return deepest;
}

function requiredArgument(field: string): PutEventsEntryFailure {
  // Recorded, for each of the three fields (an empty string counts as missing).
  return { ErrorCode: "InvalidArgument", ErrorMessage: `Parameter ${field} is not valid. Reason: ${field} is a required argument.` };
}

// Recorded for non-JSON, an array, broken JSON and a JSON string.
const MALFORMED_DETAIL: PutEventsEntryFailure = { ErrorCode: "MalformedDetail", ErrorMessage: "Detail is malformed." };

/** Source, DetailType and Detail as AWS requires them, or the per-entry error AWS answers. */
export function checkEntryFields(entry: PutEventsWireEntry): PutEventsEntryFailure | undefined {
  if (!entry.Source) return requiredArgument("Source");
  if (!entry.DetailType) return requiredArgument("DetailType");
  if (!entry.Detail) return requiredArgument("Detail");
  // Not recorded: which code AWS uses past the depth limit; MalformedDetail is the closest.
  if (jsonNestingDepth(entry.Detail) > PUT_EVENTS_MAX_DETAIL_DEPTH) return MALFORMED_DETAIL;
  let detail: unknown;
  try {
    detail = JSON.parse(entry.Detail);
  } catch {
    return MALFORMED_DETAIL;
  }
  return isRecord(detail) ? undefined : MALFORMED_DETAIL;
}

/** The bus an entry names: absent or empty means `default`; an event-bus ARN means its name. */
export function eventBusName(entry: PutEventsWireEntry): string {
  const named = entry.EventBusName;
  if (!named) return DEFAULT_EVENT_BUS;
  const marker = ":event-bus/";
  const at = named.indexOf(marker);
  return named.startsWith("arn:") && at !== -1 ? named.slice(at + marker.length) : named;
}

/** The `time` of the event AWS builds: the entry's Time, else receipt, at whole seconds. */
export function eventTime(entry: PutEventsWireEntry, receivedAt: Date): string {
  const ms = entry.Time === undefined ? receivedAt.getTime() : entry.Time * 1000;
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(".000Z", "Z");
}
