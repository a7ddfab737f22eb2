/**
 * The JSON text a parsed object came from, so it can be written back as received.
 *
 * JSON.parse turns every number into a double: integers beyond 2^53 (Nomad's nanosecond
 * times, its uint64 indexes and hashes) come back from JSON.stringify with other digits,
 * `1763712000123456789` as `1763712000123456800`. An object remembered here with its text
 * is written by toJson as that text instead: every number, escape and key order as
 * received. Anything else is written by JSON.stringify, which is exact for values built
 * in JS (a JS number has no digits beyond those it prints).
 *
 * The text is kept on the object itself (a property under a private symbol, not enumerable:
 * JSON.stringify, Object.keys, spreads and structuredClone leave it out), not on the field
 * that holds the object: a field given another value (a payload replaced by a claim-check
 * reference, or fetched back) leaves the old text behind with the old object, and a copy
 * does not carry it, so a value is never written with another's text. The text lives and
 * dies with its object: a WeakMap kept it, and the whole line it was cut from, until a full
 * collection, which cost the streamer 10 to 30 MB more peak memory in its benchmark. A
 * remembered object must not be modified afterwards (the pipeline never modifies a
 * payload); its text would no longer describe it.
 */

const SOURCE: unique symbol = Symbol("JSON source text");

interface WithSource {
  readonly [SOURCE]?: string;
}

/** Records that JSON.parse made `value` from `text` (the value's own text, not a larger one); returns `value`. */
export function rememberJsonSource<T extends object>(value: T, text: string): T {
  // Reflect: a frozen object (never one JSON.parse made) keeps no text rather than throwing.
  Reflect.defineProperty(value, SOURCE, { value: text, configurable: true });
  return value;
}

/** The text `value` was parsed from, when remembered. */
export function jsonSourceOf(value: object): string | undefined {
  return (value as WithSource)[SOURCE];
}

/** `value` as JSON: the text it was parsed from when remembered, else JSON.stringify's. */
export function toJson(value: object | null): string {
  return (value !== null ? (value as WithSource)[SOURCE] : undefined) ?? JSON.stringify(value);
}
