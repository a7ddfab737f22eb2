/** The fields of a PutEvents entry that count toward AWS's size limit. */
export interface SizedEntry {
  readonly Time?: Date | number | string;
  readonly Source?: string;
  readonly DetailType?: string;
  readonly Detail?: string;
  readonly Resources?: readonly string[];
}

/** At most this many entries per PutEvents call. */
export const PUT_EVENTS_MAX_ENTRIES = 10;
/** AWS's documented limit on the summed entry sizes of one call (configurable where used). */
export const PUT_EVENTS_DEFAULT_MAX_BYTES = 256 * 1024;

const utf8 = (text: string | undefined) => (text === undefined ? 0 : Buffer.byteLength(text, "utf8"));

/**
 * AWS's rule ("Calculating PutEvents event entry size"): Time counts 14 bytes when set;
 * Source, DetailType, Detail and each Resource count their UTF-8 bytes.
 */
export function putEventsEntrySize(entry: SizedEntry): number {
  let size = entry.Time !== undefined ? 14 : 0;
  size += utf8(entry.Source) + utf8(entry.DetailType) + utf8(entry.Detail);
  for (const resource of entry.Resources ?? []) size += utf8(resource);
  return size;
}
