import { describe, expect, it } from "vitest";
import {
  PUT_EVENTS_DEFAULT_MAX_BYTES,
  PUT_EVENTS_MAX_ENTRIES,
  putEventsEntrySize,
  putEventsRequestSize,
  type SizedPutEventsEntry,
} from "../../shared/eventbridge/entry-size";

// Each row is a clause of AWS's "Calculating PutEvents event entry size". `wireOnly` rows
// use JSON nulls, which only a raw request (not the SDK's types) can carry.
const cases: Array<{ name: string; entry: SizedPutEventsEntry; size: number; wireOnly?: true }> = [
  { name: "an empty entry counts nothing", entry: {}, size: 0 },
  { name: "ASCII Source, DetailType and Detail count a byte a character", entry: { Source: "a", DetailType: "bc", Detail: "{}" }, size: 5 },
  { name: "a Time (Date, as the SDK takes it) counts 14", entry: { Time: new Date("2026-01-02T03:04:05Z"), Source: "s" }, size: 15 },
  { name: "a Time (epoch seconds, as on the wire) counts 14", entry: { Time: 1_767_322_000.5, Source: "s" }, size: 15 },
  { name: "a Time of 0 (the epoch) is present and counts 14", entry: { Time: 0 }, size: 14 },
  { name: "a null Time is absent", entry: { Time: null, Source: "s" }, size: 1, wireOnly: true },
  { name: "2-byte UTF-8 (é) counts 2", entry: { Detail: "é" }, size: 2 },
  { name: "3-byte UTF-8 (€, 日) counts 3 each", entry: { Source: "€", DetailType: "日" }, size: 6 },
  { name: "an astral character (😀, two UTF-16 units) counts 4", entry: { Detail: "😀" }, size: 4 },
  { name: "a lone surrogate counts as U+FFFD's 3", entry: { Detail: "\ud800" }, size: 3 },
  { name: "a quote counts 1 although JSON sends it escaped as 2", entry: { Detail: '{"a":"\\""}' }, size: 10 },
  { name: "each resource counts its bytes", entry: { Resources: ["arn:a", "é", ""] }, size: 7 },
  { name: "no resources count nothing", entry: { Resources: [] }, size: 0 },
  { name: "null resources count nothing", entry: { Resources: [null, "ab"] }, size: 2, wireOnly: true },
  {
    name: "EventBusName and TraceHeader do not count",
    entry: { Source: "s", DetailType: "d", Detail: "{}", EventBusName: "a-long-bus-name", TraceHeader: "Root=1-abc" } as SizedPutEventsEntry,
    size: 4,
  },
  {
    name: "everything together",
    entry: { Time: new Date(0), Source: "nomad.é", DetailType: "Job€", Detail: '{"k":"😀"}', Resources: ["arn:x", "日本"] },
    size: 14 + 8 + 6 + 12 + 5 + 6,
  },
];

describe("putEventsEntrySize", () => {
  it.each(cases)("$name", ({ entry, size }) => {
    expect(putEventsEntrySize(entry)).toBe(size);
  });
});

describe("putEventsRequestSize", () => {
  it("sums the entries", () => {
    expect(putEventsRequestSize([{ Source: "ab" }, { Time: 1, Detail: "é" }, {}])).toBe(2 + 14 + 2);
  });

  it("is 0 for no entries", () => {
    expect(putEventsRequestSize([])).toBe(0);
  });
});

describe("PutEvents limits", () => {
  it("are AWS's 10 entries and 256 KB", () => {
    expect(PUT_EVENTS_MAX_ENTRIES).toBe(10);
    expect(PUT_EVENTS_DEFAULT_MAX_BYTES).toBe(262_144);
  });
});
