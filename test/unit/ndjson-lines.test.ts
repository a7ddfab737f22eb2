import { describe, expect, it } from "vitest";
import { LineSplitter, LineTooLongError } from "../../shared/nomad/ndjson-lines";

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

  it("takes a line of exactly maxLineBytes, and refuses one byte more, whole or in pieces, before its newline comes", () => {
    const at = new LineSplitter(8);
    expect(text(at.push(Buffer.from("12345678\n")))).toEqual(["12345678"]);
    expect(() => new LineSplitter(8).push(Buffer.from("123456789\n"))).toThrow(LineTooLongError);
    // Across chunks, the newline in the chunk that makes it too long.
    const pieces = new LineSplitter(8);
    expect(pieces.push(Buffer.from("12345"))).toEqual([]);
    expect(() => pieces.push(Buffer.from("6789\n"))).toThrow("a line of 9 bytes or more, over the limit of 8 bytes per line");
    // No newline at all: refused as soon as what is held passes the limit, not held on.
    const endless = new LineSplitter(8);
    expect(endless.push(Buffer.from("1234"))).toEqual([]);
    expect(endless.push(Buffer.from("5678"))).toEqual([]);
    let error: unknown;
    try {
      endless.push(Buffer.from("9abc"));
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(LineTooLongError);
    expect(error).toMatchObject({ bytes: 12, maxLineBytes: 8 });
    // A \r before the newline counts: 8 bytes of text and a \r are 9.
    expect(() => new LineSplitter(8).push(Buffer.from("12345678\r\n"))).toThrow(LineTooLongError);
    // Lines within the limit around a long one that is not too long still split as before.
    expect(text(new LineSplitter(8).push(Buffer.from("a\n12345678\nb\n")))).toEqual(["a", "12345678", "b"]);
  });
});
