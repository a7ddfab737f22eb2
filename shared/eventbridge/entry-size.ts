/**
 * EventBridge's PutEvents limits and its rule for an entry's size, as AWS documents them
 * ("Calculating Amazon EventBridge PutEvents event entry size"). Pure and dependency-free:
 * the streamer's publisher batches by the same rule the local endpoint enforces.
 */

/** More entries in one PutEvents call fail the whole call (ValidationException). */
export const PUT_EVENTS_MAX_ENTRIES = 10;

/**
 * The ceiling on the summed entry sizes of one PutEvents call (256 KB). AWS announced 1 MB
 * for most regions in January 2026; 256 KB holds in every region, so it stays the default.
 */
export const PUT_EVENTS_DEFAULT_MAX_BYTES = 262_144;

/** AWS counts a present Time as a fixed 14 bytes, whatever its value or encoding. */
export const PUT_EVENTS_TIME_BYTES = 14;

/**
 * The fields the rule reads. The SDK's `PutEventsRequestEntry` (Time as a Date) and the
 * wire form (Time as epoch seconds) both fit; EventBusName and TraceHeader do not count.
 */
export interface SizedPutEventsEntry {
  readonly Time?: unknown;
  readonly Source?: string | undefined;
  readonly DetailType?: string | undefined;
  readonly Detail?: string | undefined;
  readonly Resources?: readonly (string | null | undefined)[] | undefined;
}

const encoder = new TextEncoder();

function utf8Bytes(text: string | null | undefined): number {
  if (typeof text !== "string") return 0;
  // Buffer.byteLength counts without encoding (several times cheaper on a ~3 KB Detail);
  // TextEncoder is the fallback outside Node. Both count a lone surrogate as U+FFFD's 3
  // bytes: at least what AWS could count, so a batcher stays on the safe side.
  return typeof Buffer === "function" ? Buffer.byteLength(text, "utf8") : encoder.encode(text).length;
}

/** The size of one entry by AWS's rule: 14 for a Time, plus the UTF-8 bytes of Source, DetailType, Detail and each resource. */
export function putEventsEntrySize(entry: SizedPutEventsEntry): number {
  let size = entry.Time !== undefined && entry.Time !== null ? PUT_EVENTS_TIME_BYTES : 0;
  size += utf8Bytes(entry.Source);
  size += utf8Bytes(entry.DetailType);
  size += utf8Bytes(entry.Detail);
  for (const resource of entry.Resources ?? []) size += utf8Bytes(resource);
  return size;
}

/** The summed size of a call's entries, which must not exceed the limit (256 KB by default). */
export function putEventsRequestSize(entries: readonly SizedPutEventsEntry[]): number {
  let total = 0;
  for (const entry of entries) total += putEventsEntrySize(entry);
  return total;
}
