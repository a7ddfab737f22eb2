import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { EventIdAssigner } from "../../shared/streamer/event-id";

const ev = (Topic: string, Key: string, Type = "JobRegistered", Namespace = "default") => ({ Topic, Type, Key, Namespace });

describe("EventIdAssigner", () => {
  it("gives the same IDs when the same frames are sent again", () => {
    const frames: Array<[number, ReturnType<typeof ev>[]]> = [
      [10, [ev("Job", "web")]],
      [10, [ev("Evaluation", "e1")]],
      [11, [ev("Allocation", "a1", "PlanResult"), ev("Allocation", "a2", "PlanResult")]],
    ];
    const first = new EventIdAssigner("prod");
    const second = new EventIdAssigner("prod");
    const a = frames.map(([i, events]) => first.assign(i, events));
    const b = frames.map(([i, events]) => second.assign(i, events));
    expect(b).toEqual(a);
    expect(new Set(a.flat()).size).toBe(4);
    expect(a[0]![0]).toMatch(/^10-[0-9a-f]{20}$/);
  });

  it("distinguishes a repeated event inside an index, stably", () => {
    const ids = new EventIdAssigner("c").assign(5, [ev("Job", "web"), ev("Job", "web")]);
    expect(ids[0]).not.toBe(ids[1]);
    expect(new EventIdAssigner("c").assign(5, [ev("Job", "web"), ev("Job", "web")])).toEqual(ids);
  });

  it("differs by cluster, index, topic, type, namespace and key", () => {
    const base = new EventIdAssigner("c").assign(5, [ev("Job", "web")])[0];
    const variants = [
      new EventIdAssigner("other").assign(5, [ev("Job", "web")])[0],
      new EventIdAssigner("c").assign(6, [ev("Job", "web")])[0],
      new EventIdAssigner("c").assign(5, [ev("Node", "web")])[0],
      new EventIdAssigner("c").assign(5, [ev("Job", "web", "JobDeregistered")])[0],
      new EventIdAssigner("c").assign(5, [ev("Job", "web", "JobRegistered", "prod")])[0],
      new EventIdAssigner("c").assign(5, [ev("Job", "api")])[0],
    ];
    for (const v of variants) expect(v).not.toBe(base);
  });

  it("resets occurrence counts at a new index", () => {
    const a = new EventIdAssigner("c");
    a.assign(5, [ev("Job", "web")]);
    const at6 = a.assign(6, [ev("Job", "web")]);
    expect(at6).toEqual(new EventIdAssigner("c").assign(6, [ev("Job", "web")]));
  });

  it("keeps the IDs earlier versions gave (checkpoints hold them across deploys): SHA-256 of cluster, index, identity, occurrence", () => {
    const expected = (occurrence: number) => `7-${createHash("sha256").update(`prod\u00007\u0000Job\u0000JobRegistered\u0000default\u0000web\u0000${occurrence}`).digest("hex").slice(0, 20)}`;
    expect(new EventIdAssigner("prod").assign(7, [ev("Job", "web"), ev("Job", "web")])).toEqual([expected(0), expected(1)]);
  });
});
