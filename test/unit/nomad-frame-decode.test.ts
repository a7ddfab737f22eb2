import { describe, expect, it } from "vitest";
import { decodeNomadFrame, NomadFrameSchema } from "../../shared/nomad/event";

const event = { Topic: "Job", Type: "JobRegistered", Key: "web", Namespace: "default", FilterKeys: ["web"], Index: 7, Payload: { Job: { ID: "web" } } };

/** The documented contract (the zod schema) and the hot-path decoder must agree on every input. */
function both(value: unknown) {
  const zod = NomadFrameSchema.safeParse(value);
  const decoded = decodeNomadFrame(value);
  return { zod, decoded };
}

describe("decodeNomadFrame", () => {
  it.each([
    ["a frame", { Index: 7, Events: [event] }],
    ["a heartbeat", {}],
    ["null events", { Index: 3, Events: null }],
    ["defaults: Namespace, FilterKeys, Payload missing", { Index: 7, Events: [{ Topic: "Node", Type: "NodeRegistration", Key: "n1", Index: 7 }] }],
    ["unknown fields are dropped, as zod strips them", { Index: 7, Extra: 1, Events: [{ ...event, NewField: "x" }] }],
    ["an unknown topic passes", { Index: 8, Events: [{ ...event, Topic: "FutureTopic" }] }],
  ])("matches the zod schema's output for %s", (_name, value) => {
    const { zod, decoded } = both(value);
    expect(zod.success).toBe(true);
    expect("frame" in decoded ? decoded.frame : decoded).toEqual(zod.data);
    // Same JSON, field order included: the bus Detail is built from it.
    if ("frame" in decoded) expect(JSON.stringify(decoded.frame)).toBe(JSON.stringify(zod.data));
  });

  it("keeps payloads as parsed instead of copying them", () => {
    const value = { Index: 7, Events: [event] };
    const decoded = decodeNomadFrame(value);
    expect("frame" in decoded && decoded.frame.Events![0]!.Payload).toBe(event.Payload);
  });

  it.each([
    ["not an object", [], "", "expected an object, received array"],
    ["a negative frame Index", { Index: -1 }, "Index", "expected a non-negative integer, received -1"],
    ["a null frame Index", { Index: null }, "Index", "expected a non-negative integer, received null"],
    ["Events not a list", { Index: 1, Events: {} }, "Events", "expected an array or null, received object"],
    ["an event that is not an object", { Index: 1, Events: [event, "x"] }, "Events.1", "expected an object, received string"],
    ["a missing Topic", { Index: 1, Events: [{ ...event, Topic: undefined }] }, "Events.0.Topic", "expected a string, received undefined"],
    ["a null Namespace", { Index: 1, Events: [{ ...event, Namespace: null }] }, "Events.0.Namespace", "expected a string, received null"],
    ["a FilterKeys item not a string", { Index: 1, Events: [{ ...event, FilterKeys: ["a", 2] }] }, "Events.0.FilterKeys.1", "expected a string, received number"],
    ["a fractional event Index", { Index: 1, Events: [{ ...event, Index: 1.5 }] }, "Events.0.Index", "expected a non-negative integer, received 1.5"],
    ["a Payload that is a list", { Index: 1, Events: [{ ...event, Payload: [] }] }, "Events.0.Payload", "expected an object or null, received array"],
  ])("rejects %s where the zod schema does, saying where and what", (_name, value, path, message) => {
    const { zod, decoded } = both(value);
    expect(zod.success).toBe(false);
    expect(decoded).toEqual({ issue: { path, message } });
    expect(zod.error?.issues[0]?.path.join(".")).toBe(path);
  });
});
