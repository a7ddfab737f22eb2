import { z } from "zod";

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

/** One NDJSON line: every event of one committed transaction, all sharing `Index`. `{}` is a heartbeat. */
export const NomadFrameSchema = z.object({
  Index: z.number().int().nonnegative().default(0),
  Events: z.array(NomadEventSchema).nullable().default(null),
});
export type NomadFrame = z.infer<typeof NomadFrameSchema>;

/** Nomad's `{}` keep-alive, sent on subscribe and every 30 s (Index 0, no events). */
export function isHeartbeat(frame: { Index?: number; Events?: unknown[] | null }): boolean {
  return (frame.Index ?? 0) === 0 && (frame.Events == null || frame.Events.length === 0);
}
