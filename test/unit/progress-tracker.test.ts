import { describe, expect, it } from "vitest";
import { ProgressTracker } from "../../shared/streamer/progress-tracker";

describe("ProgressTracker", () => {
  it("does not count an index complete until a higher index arrives", () => {
    const t = new ProgressTracker();
    const a = t.add(10);
    expect(t.ack(a)).toBe(0); // 10 may have more frames coming
    const b = t.add(12);
    expect(t.checkpoint).toBe(0);
    const c = t.add(13);
    expect(t.ack(c)).toBe(10); // 10 is complete; 12 is still unacknowledged
    expect(t.ack(b)).toBe(12); // 13 may still have more frames
  });

  it("only ever takes an index that frames arrived with", () => {
    const t = new ProgressTracker(3);
    const a = t.add(7);
    const b = t.add(9);
    t.ack(b);
    expect(t.ack(a)).toBe(7);
    expect(t.endOfStream()).toBe(9);
  });

  it("holds an index with several frames until all are acknowledged", () => {
    const t = new ProgressTracker();
    const job = t.add(20);
    const evaluation = t.add(20);
    const next = t.add(21);
    expect(t.ack(evaluation)).toBe(0);
    expect(t.ack(next)).toBe(0);
    expect(t.ack(job)).toBe(20);
  });

  it("advances over out-of-order acknowledgements only when the gap closes", () => {
    const t = new ProgressTracker(4);
    const seqs = [5, 6, 7, 8].map((i) => t.add(i));
    expect(t.ack(seqs[2]!)).toBe(4);
    expect(t.ack(seqs[1]!)).toBe(4);
    expect(t.ack(seqs[0]!)).toBe(7);
    expect(t.ack(seqs[3]!)).toBe(7);
    expect(t.endOfStream()).toBe(8);
  });

  it("completes the newest index on a clean end", () => {
    const t = new ProgressTracker();
    t.ack(t.add(3));
    expect(t.checkpoint).toBe(0);
    expect(t.endOfStream()).toBe(3);
  });

  it("never moves backwards when a resumed stream re-sends older frames", () => {
    const t = new ProgressTracker(50);
    const old = t.add(48);
    expect(t.checkpoint).toBe(50);
    expect(t.ack(old)).toBe(50);
    expect(t.inFlight).toBe(0);
  });

  it("counts what is in flight", () => {
    const t = new ProgressTracker();
    const a = t.add(1);
    t.add(2);
    expect(t.inFlight).toBe(2);
    t.ack(a);
    expect(t.inFlight).toBe(1);
  });
});
