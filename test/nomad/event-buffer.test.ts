import { describe, expect, it } from "vitest";
import { type BufferCursor, EventBuffer } from "../../infra/local/nomad/event-buffer";

function drain(cursor: BufferCursor<string>): string[] {
  const out: string[] = [];
  for (;;) {
    const step = cursor.next();
    if (step.kind === "wait") return out;
    if (step.kind === "dropped") return [...out, "DROPPED"];
    out.push(step.item.value);
  }
}

function filled(maxItems: number, items: Array<[number, string]>): EventBuffer<string> {
  const buffer = new EventBuffer<string>(maxItems);
  for (const [index, value] of items) buffer.append(index, value);
  return buffer;
}

describe("EventBuffer (nomad/stream/event_buffer.go)", () => {
  it("keeps everything until the size is exceeded, then maxItems + 1 items because the first eviction drops only the sentinel", () => {
    const buffer = new EventBuffer<string>(3);
    for (let i = 1; i <= 3; i++) buffer.append(i, `i${i}`);
    expect(buffer.retained().map((item) => item.value)).toEqual(["i1", "i2", "i3"]);
    buffer.append(4, "i4");
    expect(buffer.retained().map((item) => item.value)).toEqual(["i1", "i2", "i3", "i4"]);
    expect(buffer.size).toBe(3);
    buffer.append(5, "i5");
    expect(buffer.retained().map((item) => item.value)).toEqual(["i2", "i3", "i4", "i5"]);
    expect(buffer.size).toBe(3);
  });

  it("reproduces Nomad's TestEventBuffer_Slow_Reader: size 10, indexes 1..10 then 10..14, head at index 5", () => {
    const buffer = new EventBuffer<number>(10);
    for (let i = 1; i < 11; i++) buffer.append(i, i);
    expect(buffer.size).toBe(10);
    const reader = buffer.subscribe(0);
    for (let i = 10; i < 15; i++) buffer.append(i, i);
    expect(buffer.retained()[0]?.index).toBe(5);
    // The reader stood on the sentinel head, which was dropped: Nomad's head.Next errors.
    expect(reader.next()).toEqual({ kind: "dropped" });
  });

  it("counts every append as one item, so two frames of one index can be split by eviction", () => {
    const buffer = filled(2, [
      [1, "1"],
      [2, "2-job"],
      [2, "2-eval"],
      [3, "3"],
    ]);
    expect(buffer.retained().map((item) => item.value)).toEqual(["2-job", "2-eval", "3"]);
    buffer.append(4, "4");
    expect(buffer.retained().map((item) => item.value)).toEqual(["2-eval", "3", "4"]);
  });

  it("turns size 0 into 100, as event_broker.go does", () => {
    expect(new EventBuffer(0).maxItems).toBe(100);
    expect(() => new EventBuffer(-1)).toThrow(RangeError);
  });

  it("starts at the closest item: inclusive, oldest when older, newest when newer", () => {
    const buffer = filled(100, [
      [10, "10-job"],
      [10, "10-eval"],
      [20, "20"],
      [30, "30"],
    ]);
    expect(drain(buffer.subscribe(0))).toEqual(["10-job", "10-eval", "20", "30"]);
    expect(drain(buffer.subscribe(1))).toEqual(["10-job", "10-eval", "20", "30"]);
    expect(drain(buffer.subscribe(10))).toEqual(["10-job", "10-eval", "20", "30"]);
    expect(drain(buffer.subscribe(11))).toEqual(["20", "30"]);
    expect(drain(buffer.subscribe(30))).toEqual(["30"]);
    expect(drain(buffer.subscribe(31))).toEqual(["30"]);
    expect(drain(buffer.subscribe(10_000))).toEqual(["30"]);
  });

  it("a subscription on an empty buffer waits, then follows appends", () => {
    const buffer = new EventBuffer<string>(5);
    const cursor = buffer.subscribe(0);
    expect(cursor.next()).toEqual({ kind: "wait" });
    buffer.append(1, "a");
    expect(drain(cursor)).toEqual(["a"]);
    buffer.append(2, "b");
    buffer.append(2, "c");
    expect(drain(cursor)).toEqual(["b", "c"]);
    const late = buffer.subscribe(7);
    expect(drain(late)).toEqual(["c"]);
  });

  it("tells a reader its item was dropped only once it asks for the next one", () => {
    const buffer = filled(1, [[1, "1"]]);
    const cursor = buffer.subscribe(0);
    expect(drain(cursor)).toEqual(["1"]);
    buffer.append(2, "2"); // drops the sentinel: the reader on item 1 is fine
    expect(drain(cursor)).toEqual(["2"]);
    buffer.append(3, "3");
    buffer.append(4, "4"); // drops item 2 while the reader stands on it
    expect(cursor.next()).toEqual({ kind: "dropped" });
  });

  it("rejects indexes that go backwards or are not positive", () => {
    const buffer = filled(5, [[5, "5"]]);
    expect(() => buffer.append(4, "4")).toThrow(RangeError);
    expect(() => buffer.append(0, "0")).toThrow(RangeError);
    expect(() => buffer.append(1.5, "x")).toThrow(RangeError);
    buffer.append(5, "5b");
    expect(buffer.lastIndex).toBe(5);
  });
});
