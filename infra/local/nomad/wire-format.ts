import type { NomadEvent } from "../../../shared/nomad/event";

/**
 * The bytes Nomad puts on `/v1/event/stream` (EVENT-STREAM-SPEC 1.2): go-msgpack's JSON
 * handle, fields in declaration order, compact, `<>&` left as is (JSON.stringify never
 * escapes them either).
 */

/** Nomad's keep-alive frame (`nomad/stream/ndjson.go`). */
export const HEARTBEAT_FRAME = "{}";
/** Written after every frame, as its own write (and so its own chunk before 1.11.2). */
export const FRAME_DELIMITER = "\n";

/**
 * A payload given as JSON text, written verbatim. Fixture payloads go through this so
 * their bytes survive exactly: Nomad's nanosecond timestamps (for example
 * `1647394818583344000`) do not round-trip through a JS number.
 */
export class RawJson {
  readonly text: string;
  constructor(text: string) {
    this.text = text;
  }
}

export function rawJson(text: string): RawJson {
  return new RawJson(text);
}

/** One event as a test or simulator hands it to the server; Index comes from the publish. */
export interface PublishEvent {
  readonly Topic: string;
  readonly Type: string;
  readonly Key: string;
  /** "" (the default) for cluster-wide topics: Node, NodePool, ACL*, CSIPlugin. */
  readonly Namespace?: string;
  /** null (the default) is what Nomad sends for topics without filter keys. */
  readonly FilterKeys?: readonly string[] | null;
  readonly Payload?: Readonly<Record<string, unknown>> | RawJson | null;
}

/** One transaction's events; all get the index of the publish. */
export type PublishFrame = readonly PublishEvent[];

export interface EncodedEvent {
  /** What a JSON.parse client gets for this event. */
  readonly event: NomadEvent;
  /** The event's wire JSON, computed once per publish and shared by every subscriber. */
  readonly json: string;
}

export interface EncodedFrame {
  readonly index: number;
  readonly events: readonly EncodedEvent[];
}

export function encodeEvent(index: number, input: PublishEvent): EncodedEvent {
  for (const field of ["Topic", "Type", "Key"] as const) {
    if (typeof input[field] !== "string") throw new TypeError(`event ${field} must be a string, got ${typeof input[field]}`);
  }
  const namespace = input.Namespace ?? "";
  const filterKeys = input.FilterKeys === undefined || input.FilterKeys === null ? null : [...input.FilterKeys];
  const payload = input.Payload ?? null;
  let payloadJson: string;
  let payloadValue: Record<string, unknown> | null | undefined;
  if (payload instanceof RawJson) {
    const parsed: unknown = JSON.parse(payload.text);
    if (parsed !== null && (typeof parsed !== "object" || Array.isArray(parsed))) throw new TypeError("a raw event payload must be a JSON object or null");
    // A line break outside strings would split the NDJSON line.
    if (/[\r\n]/.test(payload.text)) throw new TypeError("a raw event payload must be compact JSON, without line breaks");
    payloadJson = payload.text;
    payloadValue = parsed as Record<string, unknown> | null;
  } else {
    payloadJson = JSON.stringify(payload);
  }
  const json =
    `{"Topic":${JSON.stringify(input.Topic)},"Type":${JSON.stringify(input.Type)},"Key":${JSON.stringify(input.Key)},` +
    `"Namespace":${JSON.stringify(namespace)},"FilterKeys":${JSON.stringify(filterKeys)},"Index":${index},"Payload":${payloadJson}}`;
  const event = { Topic: input.Topic, Type: input.Type, Key: input.Key, Namespace: namespace, FilterKeys: filterKeys, Index: index } as NomadEvent;
  // The record is what a client parses back (not the caller's object: no undefined, no Dates),
  // parsed when first read: the buffer holds thousands of frames, and most records are never read.
  Object.defineProperty(event, "Payload", {
    enumerable: true,
    configurable: true,
    get: () => (payloadValue === undefined ? (payloadValue = JSON.parse(payloadJson) as Record<string, unknown> | null) : payloadValue),
  });
  return { event, json };
}

export function encodeFrame(index: number, events: PublishFrame): EncodedFrame {
  return { index, events: events.map((event) => encodeEvent(index, event)) };
}

const unfilteredLines = new WeakMap<EncodedFrame, Buffer>();

/**
 * The bytes a subscriber gets for `frame` when `events` passed its filter. The common
 * unfiltered case is built once per frame, which matters for multi-MB PlanResult frames.
 */
export function frameLine(frame: EncodedFrame, events: readonly EncodedEvent[]): Buffer {
  if (events.length !== frame.events.length) return Buffer.from(frameJson(frame.index, events));
  let line = unfilteredLines.get(frame);
  if (line === undefined) {
    line = Buffer.from(frameJson(frame.index, frame.events));
    unfilteredLines.set(frame, line);
  }
  return line;
}

/** The frame line without its "\n"; `events` may be a subscriber's filtered subset. */
export function frameJson(index: number, events: readonly EncodedEvent[]): string {
  return `{"Index":${index},"Events":[${events.map((event) => event.json).join(",")}]}`;
}
