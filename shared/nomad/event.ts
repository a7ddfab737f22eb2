import { z } from "zod";
import { spanAt, spansInElements, type JsonSpan } from "../json/json-scan";
import { rememberJsonSource, toJson } from "../json/json-source";

/**
 * One event exactly as Nomad writes it on `/v1/event/stream` (EVENT-STREAM-SPEC 1.2, 2.2).
 * Topic is a plain string: an unknown topic from a newer Nomad must pass through, not
 * fail the stream.
 */
export const NomadEventSchema = z.object({
  Topic: z.string(),
  Type: z.string(),
  Key: z.string(),
  Namespace: z.string().default(""),
  FilterKeys: z.array(z.string()).nullable().default(null),
  Index: z.number().int().nonnegative(),
  Payload: z.record(z.string(), z.unknown()).nullable().default(null),
});
export type NomadEvent = z.infer<typeof NomadEventSchema>;

/**
 * One NDJSON line: every event of one committed transaction, all sharing `Index`. `{}` is a
 * heartbeat. The documented contract; the stream client reads each line with scanFrame
 * (frame-scan.ts) and any line the scan leaves with decodeNomadFrame below, both with the
 * same rules and defaults, without zod's copies.
 */
export const NomadFrameSchema = z.object({
  Index: z.number().int().nonnegative().default(0),
  Events: z.array(NomadEventSchema).nullable().default(null),
});
export type NomadFrame = z.infer<typeof NomadFrameSchema>;

/** Nomad's `{}` keep-alive, sent on subscribe and every 30 s (Index 0, no events). */
export function isHeartbeat(frame: { Index?: number; Events?: unknown[] | null }): boolean {
  return (frame.Index ?? 0) === 0 && (frame.Events == null || frame.Events.length === 0);
}

/** Where a decoded value broke the frame's shape, and how. */
export interface FrameShapeIssue {
  /** Dotted path into the frame, e.g. `Events.3.Topic`. */
  readonly path: string;
  readonly message: string;
}

function received(value: unknown): string {
  return value === null ? "null" : Array.isArray(value) ? "array" : typeof value;
}

function isPlainRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A short account of a rejected number field: the number itself, else its JSON type. */
function receivedNumber(value: unknown): string {
  return typeof value === "number" ? String(value) : received(value);
}

export function isIndex(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

/**
 * Checks one parsed line against NomadFrameSchema's rules and returns the frame with the
 * schema's defaults (`Index` 0, `Events` null; per event `Namespace` "", `FilterKeys` and
 * `Payload` null) and only the schema's fields, or the first issue found. The per-frame
 * equivalent of `NomadFrameSchema.safeParse`, for the stream lines the scan leaves (and the
 * reason a bad one is refused): it copies no payload (the event objects are rebuilt with their seven fields, payloads are kept as
 * parsed), where the zod schema copies every event and payload.
 */
export function decodeNomadFrame(value: unknown): { frame: NomadFrame } | { issue: FrameShapeIssue } {
  if (!isPlainRecord(value)) return { issue: { path: "", message: `expected an object, received ${received(value)}` } };
  const index = value.Index ?? 0;
  // `?? 0` would also turn a null Index into 0; zod's default applies to a missing one only.
  if (value.Index === null || !isIndex(index)) return { issue: { path: "Index", message: `expected a non-negative integer, received ${receivedNumber(value.Index)}` } };
  const rawEvents = value.Events;
  if (rawEvents === undefined || rawEvents === null) return { frame: { Index: index, Events: null } };
  if (!Array.isArray(rawEvents)) return { issue: { path: "Events", message: `expected an array or null, received ${received(rawEvents)}` } };
  const events: NomadEvent[] = new Array<NomadEvent>(rawEvents.length);
  for (let i = 0; i < rawEvents.length; i++) {
    const decoded = decodeNomadEvent(rawEvents[i]);
    if ("issue" in decoded) return { issue: { path: decoded.issue.path === "" ? `Events.${i}` : `Events.${i}.${decoded.issue.path}`, message: decoded.issue.message } };
    events[i] = decoded.event;
  }
  return { frame: { Index: index, Events: events } };
}

/** NomadEventSchema's rules for one event; see decodeNomadFrame. */
export function decodeNomadEvent(value: unknown): { event: NomadEvent } | { issue: FrameShapeIssue } {
  if (!isPlainRecord(value)) return { issue: { path: "", message: `expected an object, received ${received(value)}` } };
  const { Topic, Type, Key, Namespace = "", FilterKeys = null, Index, Payload = null } = value;
  if (typeof Topic !== "string") return { issue: { path: "Topic", message: `expected a string, received ${received(Topic)}` } };
  if (typeof Type !== "string") return { issue: { path: "Type", message: `expected a string, received ${received(Type)}` } };
  if (typeof Key !== "string") return { issue: { path: "Key", message: `expected a string, received ${received(Key)}` } };
  if (typeof Namespace !== "string") return { issue: { path: "Namespace", message: `expected a string, received ${received(Namespace)}` } };
  if (FilterKeys !== null) {
    if (!Array.isArray(FilterKeys)) return { issue: { path: "FilterKeys", message: `expected an array of strings or null, received ${received(FilterKeys)}` } };
    for (let k = 0; k < FilterKeys.length; k++) {
      if (typeof FilterKeys[k] !== "string") return { issue: { path: `FilterKeys.${k}`, message: `expected a string, received ${received(FilterKeys[k])}` } };
    }
  }
  if (!isIndex(Index)) return { issue: { path: "Index", message: `expected a non-negative integer, received ${receivedNumber(Index)}` } };
  if (Payload !== null && !isPlainRecord(Payload)) return { issue: { path: "Payload", message: `expected an object or null, received ${received(Payload)}` } };
  return { event: { Topic, Type, Key, Namespace, FilterKeys: FilterKeys as string[] | null, Index, Payload } };
}

/**
 * One event as JSON: the seven fields in the schema's order (the keys and bytes
 * JSON.stringify writes for a decoded event), the payload as the text it was parsed from
 * when that is known (see rememberFramePayloads), so its numbers keep every digit Nomad
 * sent; a payload built in JS is written by JSON.stringify.
 */
export function nomadEventJson(event: NomadEvent): string {
  return nomadEventJsonWith(event, toJson(event.Payload));
}

/** The same, given the payload's JSON text (the stream reader's ScannedEvent carries it unparsed). */
export function nomadEventJsonWith(event: Omit<NomadEvent, "Payload">, payloadJson: string): string {
  return (
    `{"Topic":${JSON.stringify(event.Topic)},"Type":${JSON.stringify(event.Type)},"Key":${JSON.stringify(event.Key)},"Namespace":${JSON.stringify(event.Namespace)},` +
    `"FilterKeys":${JSON.stringify(event.FilterKeys)},"Index":${event.Index},"Payload":${payloadJson}}`
  );
}

function rememberPayload(event: NomadEvent, text: string, span: JsonSpan | undefined): void {
  if (event.Payload !== null && span !== undefined) rememberJsonSource(event.Payload, text.slice(span.start, span.end));
}

/**
 * For a frame decoded from `JSON.parse(text)` (decodeNomadFrame keeps the parsed payload
 * objects): remembers each event's payload text, so nomadEventJson writes it byte for
 * byte as Nomad sent it rather than as JSON.stringify would round its int64 values.
 */
export function rememberFramePayloads(text: string, frame: NomadFrame): void {
  const events = frame.Events;
  if (events === null || events.length === 0) return;
  const spans = spansInElements(text, ["Events"], ["Payload"]);
  if (spans === undefined) return;
  for (let i = 0; i < events.length; i++) rememberPayload(events[i]!, text, spans[i]);
}

/** The same for one event decoded from the JSON object at `eventPath` in `text` (`["detail", "event"]` in a bus event). */
export function rememberEventPayload(text: string, eventPath: readonly string[], event: NomadEvent): void {
  if (event.Payload !== null) rememberPayload(event, text, spanAt(text, [...eventPath, "Payload"]));
}
