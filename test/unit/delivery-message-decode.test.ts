import { describe, expect, it } from "vitest";
import { decodeDeliveryMessage, deliveryMessage, deliveryMessageJson, DeliveryMessageSchema } from "../../shared/delivery/delivery-message";

const detail = { id: "7-abc", cluster: "prod", frameIndex: 7, event: { Topic: "Job", Type: "JobRegistered", Key: "web", Namespace: "default", FilterKeys: null, Index: 7, Payload: { Job: { ID: "web" } } } };

describe("deliveryMessageJson", () => {
  it("is byte for byte JSON.stringify of the message", () => {
    for (const sinkId of ["s", 'quote"d', "ünï"]) {
      expect(deliveryMessageJson(sinkId, detail.id, JSON.stringify(detail))).toBe(JSON.stringify(deliveryMessage(sinkId, detail)));
    }
  });
});

describe("decodeDeliveryMessage: the deliver path's check, equal to the schema", () => {
  it.each([
    ["a plain message", deliveryMessage("s", detail)],
    ["a redriven one", { ...deliveryMessage("s", detail), redriven: true }],
    ["one stored by reference", deliveryMessage("s", { ...detail, event: { ...detail.event, Payload: null }, payloadRef: { bucket: "b", key: "k", sha256: "00", bytes: 3 } })],
    ["an event with defaults left out", { sinkId: "s", deliveryId: "d", detail: { ...detail, event: { Topic: "Node", Type: "NodeRegistration", Key: "n1", Index: 7 } } }],
  ])("accepts %s exactly as zod parses it", (_name, value) => {
    const decoded = decodeDeliveryMessage(JSON.parse(JSON.stringify(value)));
    expect(decoded).toEqual({ message: DeliveryMessageSchema.parse(JSON.parse(JSON.stringify(value))) });
  });

  it.each([
    [null, "body is not a JSON object"],
    [{ ...deliveryMessage("s", detail), sinkId: "" }, "sinkId must be a non-empty string"],
    [{ sinkId: "s", deliveryId: 5, detail }, "deliveryId must be a non-empty string"],
    [{ sinkId: "s", deliveryId: "d", detail: { ...detail, frameIndex: -1 } }, "detail.frameIndex must be a non-negative integer"],
    [{ sinkId: "s", deliveryId: "d", detail: { ...detail, event: { ...detail.event, Key: null } } }, "detail.event.Key expected a string, received null"],
    [{ sinkId: "s", deliveryId: "d", detail: { ...detail, payloadRef: { bucket: "b" } } }, "detail.payloadRef.key"],
    [{ sinkId: "s", deliveryId: "d", detail, redriven: "yes" }, "redriven must be a boolean"],
  ])("rejects %j: %s", (value, problem) => {
    const decoded = decodeDeliveryMessage(value);
    expect("problem" in decoded && decoded.problem).toContain(problem);
    expect(DeliveryMessageSchema.safeParse(value).success).toBe(false);
  });
});
