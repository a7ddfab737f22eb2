import { z } from "zod";
import { decodeNomadEvent, isIndex, nomadEventJson, nomadEventJsonWith, NomadEventSchema, type NomadEvent } from "../nomad/event";
import type { ScannedEvent } from "../nomad/frame-scan";

/**
 * The contract of events on the bus, for anyone writing an EventBridge rule:
 * - `source`: `nomad`
 * - `detail-type`: the Nomad topic (`Job`, `Allocation`, ...); gap markers have the topic
 *   `EventSinks` (and the Type `StreamGap`)
 * - `detail`: NomadBusDetail below.
 */
export const BUS_SOURCE = "nomad";
export const GAP_TOPIC = "EventSinks";
export const GAP_TYPE = "StreamGap";

/** Where a payload too large for the bus was stored (claim check). */
export const PayloadRefSchema = z.object({
  bucket: z.string(),
  key: z.string(),
  sha256: z.string(),
  bytes: z.number().int().nonnegative(),
});
export type PayloadRef = z.infer<typeof PayloadRefSchema>;

export const NomadBusDetailSchema = z.object({
  /** Deterministic: the same event re-sent by Nomad has the same ID. */
  id: z.string(),
  /** The cluster label the streamer was configured with. */
  cluster: z.string(),
  /** Index of the frame the event came in (equal to `event.Index` for Nomad's events). */
  frameIndex: z.number().int().nonnegative(),
  /** The event as Nomad sent it; `Payload` is null when it was stored by reference. */
  event: NomadEventSchema,
  /** Set when the payload was too large for the bus and was stored in S3 instead. */
  payloadRef: PayloadRefSchema.optional(),
});
export type NomadBusDetail = z.infer<typeof NomadBusDetailSchema>;

/**
 * Checks a parsed `detail` against NomadBusDetailSchema's rules without copying the
 * event's payload (the fan-out and deliver hot path); the problem names the field under
 * `detail.`.
 */
export function decodeNomadBusDetail(value: unknown): { detail: NomadBusDetail } | { problem: string } {
  const d = value as Record<string, unknown> | null;
  if (typeof d !== "object" || d === null || Array.isArray(d)) return { problem: "detail must be an object" };
  if (typeof d.id !== "string") return { problem: "detail.id must be a string" };
  if (typeof d.cluster !== "string") return { problem: "detail.cluster must be a string" };
  if (!isIndex(d.frameIndex)) return { problem: "detail.frameIndex must be a non-negative integer" };
  const event = decodeNomadEvent(d.event);
  if ("issue" in event) return { problem: `detail.event${event.issue.path ? `.${event.issue.path}` : ""} ${event.issue.message}` };
  if (d.payloadRef === undefined) return { detail: { id: d.id, cluster: d.cluster, frameIndex: d.frameIndex, event: event.event } };
  const ref = PayloadRefSchema.safeParse(d.payloadRef);
  if (!ref.success) return { problem: `detail.payloadRef.${ref.error.issues[0]?.path.join(".") ?? ""} ${ref.error.issues[0]?.message ?? "is invalid"}` };
  return { detail: { id: d.id, cluster: d.cluster, frameIndex: d.frameIndex, event: event.event, payloadRef: ref.data } };
}

export interface BusEntry {
  readonly Source: string;
  readonly DetailType: string;
  readonly Detail: string;
  readonly EventBusName: string;
}

/**
 * The detail as JSON: the keys and order JSON.stringify writes, with the event's payload as
 * received from Nomad (nomadEventJson), so the bus and its archive carry every digit.
 */
export function busDetailJson(detail: NomadBusDetail): string {
  return detailJson(detail.id, detail.cluster, detail.frameIndex, nomadEventJson(detail.event), detail.payloadRef);
}

function detailJson(id: string, cluster: string, frameIndex: number, eventJson: string, payloadRef: PayloadRef | undefined): string {
  const ref = payloadRef !== undefined ? `,"payloadRef":${JSON.stringify(payloadRef)}` : "";
  return `{"id":${JSON.stringify(id)},"cluster":${JSON.stringify(cluster)},"frameIndex":${frameIndex},"event":${eventJson}${ref}}`;
}

export function busEntry(busName: string, detail: NomadBusDetail): BusEntry {
  return { Source: BUS_SOURCE, DetailType: detail.event.Topic, Detail: busDetailJson(detail), EventBusName: busName };
}

/**
 * The entry for an event as the stream reader gives it, its payload still the text Nomad
 * sent: the same bytes busEntry writes for that event parsed (a test holds them equal).
 * With `payloadRef` (the payload stored by the claim check), the payload is null and the
 * reference follows, as busEntry writes an offloaded detail.
 */
export function busEntryOfScanned(busName: string, id: string, cluster: string, frameIndex: number, event: ScannedEvent, payloadRef?: PayloadRef): BusEntry {
  const payloadJson = payloadRef !== undefined ? "null" : (event.payloadJson ?? "null");
  return { Source: BUS_SOURCE, DetailType: event.Topic, Detail: detailJson(id, cluster, frameIndex, nomadEventJsonWith(event, payloadJson), payloadRef), EventBusName: busName };
}

/**
 * A marker for indexes that may have been lost: after a resume, Nomad no longer held the
 * checkpoint's index, so events between `fromIndex` (exclusive) and `toIndex`
 * (exclusive) may have left its buffer unseen.
 */
export function gapMarker(cluster: string, fromIndex: number, toIndex: number, reason: string): NomadBusDetail {
  const event: NomadEvent = {
    Topic: GAP_TOPIC,
    Type: GAP_TYPE,
    Key: `${fromIndex}-${toIndex}`,
    Namespace: "",
    FilterKeys: null,
    Index: toIndex,
    Payload: { FromIndex: fromIndex, ToIndex: toIndex, Reason: reason },
  };
  return { id: `gap-${cluster}-${fromIndex}-${toIndex}`, cluster, frameIndex: toIndex, event };
}
