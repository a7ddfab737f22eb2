import { createHash } from "node:crypto";
import { z } from "zod";
import { rememberEventPayload } from "../nomad/event";
import { busDetailJson, decodeNomadBusDetail, NomadBusDetailSchema, type NomadBusDetail } from "../streamer/event-contract";

/**
 * One message on the FIFO delivery queue: one event for one sink. `MessageGroupId` is the
 * sink ID (deliveries of one sink are strictly ordered); `MessageDeduplicationId` is the
 * delivery ID, so an event the streamer re-sends never reaches a webhook twice within
 * SQS's 5-minute deduplication window. Claim-checked events keep their reference.
 */
export const DeliveryMessageSchema = z.object({
  sinkId: z.string().min(1),
  deliveryId: z.string().min(1),
  detail: NomadBusDetailSchema,
  /** Set on messages sent back by a redrive. */
  redriven: z.boolean().optional(),
  /** The replay (its ID) this delivery is part of: the webhook body says so. */
  replay: z.string().min(1).optional(),
  /**
   * The sink's CreateIndex when the message was queued: a sink deleted and registered
   * again under the same ID (perhaps by another team) never gets the old sink's messages.
   */
  sinkIndex: z.number().int().nonnegative().optional(),
});
export type DeliveryMessage = z.infer<typeof DeliveryMessageSchema>;

/**
 * The FIFO deduplication ID of a replayed event: unlike the delivery ID (kept, so the
 * webhook sees the event's original ID), it differs per replay, so a replay within SQS's
 * 5-minute window is not dropped as a duplicate of the first delivery.
 */
export function replayDeduplicationId(sinkId: string, eventId: string, replayId: string): string {
  return deliveryId(sinkId, `${eventId}\u0000${replayId}`);
}

/** Stable for a (sink, event) pair: 32 hex characters, valid as an SQS deduplication ID. */
export function deliveryId(sinkId: string, eventId: string): string {
  return createHash("sha256").update(`${sinkId}\u0000${eventId}`).digest("hex").slice(0, 32);
}

/**
 * The `webhook-id` of one POST: `msg_` + the delivery ID when it carries one event, or a
 * hash of its deliveries in order when it carries several. The same body always has the
 * same ID, and a different body never does.
 */
export function webhookId(deliveryIds: readonly string[]): string {
  if (deliveryIds.length === 1) return `msg_${deliveryIds[0]}`;
  return `msg_${createHash("sha256").update(deliveryIds.join(",")).digest("hex").slice(0, 32)}`;
}

export function deliveryMessage(sinkId: string, detail: NomadBusDetail): DeliveryMessage {
  return { sinkId, deliveryId: deliveryId(sinkId, detail.id), detail };
}

/**
 * `JSON.stringify(deliveryMessage(sinkId, detail))` from the detail's ID and JSON
 * (busDetailJson: the payload as received), so one event matched by many sinks is
 * serialised once. Same keys, same order, same bytes.
 */
export function deliveryMessageJson(sinkId: string, eventId: string, detailJson: string, extra: { replay?: string; sinkIndex?: number } = {}): string {
  return messageJson(sinkId, deliveryId(sinkId, eventId), detailJson, extra);
}

/** A message's JSON from its parts: DeliveryMessage's keys in JSON.stringify's order, the detail as given. */
function messageJson(sinkId: string, deliveryId: string, detailJson: string, extras: Pick<DeliveryMessage, "replay" | "sinkIndex" | "redriven">): string {
  return `{"sinkId":${JSON.stringify(sinkId)},"deliveryId":${JSON.stringify(deliveryId)},"detail":${detailJson}${messageExtras(extras)}}`;
}

/** The optional fields after `detail`, in JSON.stringify's order of DeliveryMessage's keys. */
function messageExtras(m: Pick<DeliveryMessage, "replay" | "sinkIndex" | "redriven">): string {
  return (
    (m.replay !== undefined ? `,"replay":${JSON.stringify(m.replay)}` : "") +
    (m.sinkIndex !== undefined ? `,"sinkIndex":${m.sinkIndex}` : "") +
    (m.redriven !== undefined ? `,"redriven":${m.redriven}` : "")
  );
}

/** A whole message as JSON: JSON.stringify's keys and order, the event's payload as received (busDetailJson). */
export function deliveryMessageBody(message: DeliveryMessage): string {
  return messageJson(message.sinkId, message.deliveryId, busDetailJson(message.detail), message);
}

/**
 * A FIFO message's body read as a delivery: parsed, checked (decodeDeliveryMessage), and its
 * event's payload remembered as the body's own text (parsed, Nomad's int64 values would lose
 * digits; the payload goes out byte for byte). The problem says whether the body is not JSON
 * or not a delivery.
 */
export function parseDeliveryMessage(body: string): { message: DeliveryMessage } | { problem: string } {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (error) {
    return { problem: `not JSON: ${(error as Error).message}` };
  }
  const decoded = decodeDeliveryMessage(value);
  if ("problem" in decoded) return { problem: `not a delivery: ${decoded.problem}` };
  rememberEventPayload(body, ["detail", "event"], decoded.message.detail.event);
  return decoded;
}

/**
 * Checks a parsed message body against DeliveryMessageSchema's rules without copying the
 * event's payload (the deliver path's hot spot): the same fields, defaults and meaning,
 * and a problem that names the field.
 */
export function decodeDeliveryMessage(value: unknown): { message: DeliveryMessage } | { problem: string } {
  const v = value as Record<string, unknown> | null;
  if (typeof v !== "object" || v === null || Array.isArray(v)) return { problem: "body is not a JSON object" };
  if (typeof v.sinkId !== "string" || v.sinkId === "") return { problem: "sinkId must be a non-empty string" };
  if (typeof v.deliveryId !== "string" || v.deliveryId === "") return { problem: "deliveryId must be a non-empty string" };
  if (v.redriven !== undefined && typeof v.redriven !== "boolean") return { problem: "redriven must be a boolean" };
  if (v.replay !== undefined && (typeof v.replay !== "string" || v.replay === "")) return { problem: "replay must be a non-empty string" };
  if (v.sinkIndex !== undefined && !(Number.isInteger(v.sinkIndex) && (v.sinkIndex as number) >= 0)) return { problem: "sinkIndex must be a whole number" };
  const decoded = decodeNomadBusDetail(v.detail);
  if ("problem" in decoded) return decoded;
  return {
    message: { sinkId: v.sinkId, deliveryId: v.deliveryId, detail: decoded.detail, ...(v.replay !== undefined ? { replay: v.replay as string } : {}), ...(v.sinkIndex !== undefined ? { sinkIndex: v.sinkIndex as number } : {}), ...(v.redriven !== undefined ? { redriven: v.redriven } : {}) },
  };
}
