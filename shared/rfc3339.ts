import { z } from "zod";

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|([+-])(\d{2}):(\d{2}))$/i;

/**
 * Epoch milliseconds of an RFC 3339 time (as Go's time.Parse(time.RFC3339) takes it), or
 * undefined when it is not one. Impossible dates (February 30, 24:00) are refused, not
 * rolled over as `Date.parse` would.
 */
export function parseRfc3339(text: string): number | undefined {
  const m = RFC3339.exec(text);
  if (m === null) return undefined;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const fields = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
  const exact = fields.getUTCFullYear() === year && fields.getUTCMonth() === month - 1 && fields.getUTCDate() === day && fields.getUTCHours() === hour && fields.getUTCMinutes() === minute;
  if (!exact || second > 59 || (m[10] !== undefined && (Number(m[10]) > 23 || Number(m[11]) > 59))) return undefined;
  return Date.parse(text);
}

/** A string field holding an RFC 3339 time (kept as given; parse it with parseRfc3339). */
export function rfc3339Schema(example: string) {
  const error = `must be a time in RFC 3339 form, such as ${example}`;
  return z.string({ error }).refine((text) => parseRfc3339(text) !== undefined, { error });
}
