import { describe, expect, it } from "vitest";
import { LineSplitter } from "../../shared/nomad/ndjson-lines";

const text = (lines: Buffer[]) => lines.map((l) => l.toString());

describe("LineSplitter", () => {
  it("splits at \\n, across chunk boundaries, and strips a trailing \\r", () => {
    const s = new LineSplitter();
    expect(text(s.push(Buffer.from('{"a":1}\n{"b"')))).toEqual(['{"a":1}']);
    expect(text(s.push(Buffer.from(":2}\r\n\n{}\n")))).toEqual(['{"b":2}', "", "{}"]);
    expect(s.rest().length).toBe(0);
  });

  it("keeps a tail without newline for rest()", () => {
    const s = new LineSplitter();
    expect(s.push(Buffer.from('{"Index":1}\nsubscription closed by server'))).toHaveLength(1);
    expect(s.bufferedBytes).toBe(29);
    expect(s.rest().toString()).toBe("subscription closed by server");
    expect(s.bufferedBytes).toBe(0);
  });

  it("reassembles a 10 MB line delivered in 16 KiB chunks", () => {
    const line = Buffer.alloc(10 * 1024 * 1024, 0x61);
    const s = new LineSplitter();
    const out: Buffer[] = [];
    const whole = Buffer.concat([line, Buffer.from("\n")]);
    for (let at = 0; at < whole.length; at += 16 * 1024) out.push(...s.push(whole.subarray(at, at + 16 * 1024)));
    expect(out).toHaveLength(1);
    expect(out[0]!.equals(line)).toBe(true);
  });
});
