import { getEventListeners } from "node:events";
import { EventBridgeClient } from "@aws-sdk/client-eventbridge";
import { afterEach, describe, expect, it } from "vitest";
import { startLocalEventBridge, type LocalEventBridge } from "../../infra/local/eventbridge/local-eventbridge";
import { EventBridgePublisher } from "../../shared/streamer/eventbridge-publisher";
import { busEntry, type BusEntry } from "../../shared/streamer/event-contract";

const buses: LocalEventBridge[] = [];
afterEach(async () => {
  await Promise.all(buses.splice(0).map((b) => b.close()));
});

async function bus(): Promise<LocalEventBridge> {
  const b = await startLocalEventBridge({ busNames: ["nomad"] });
  buses.push(b);
  return b;
}

const entries = (n: number): BusEntry[] =>
  Array.from({ length: n }, (_, i) =>
    busEntry("nomad", { id: `e${i}`, cluster: "c", frameIndex: i + 1, event: { Topic: "Job", Type: "JobRegistered", Key: `j${i}`, Namespace: "default", FilterKeys: null, Index: i + 1, Payload: { Job: { ID: `j${i}` } } } }),
  );

// The local PutEvents endpoint speaks EventBridge's wire protocol; AWS itself cannot be reached from here.
const publisher = (endpoint: string, extra: Partial<ConstructorParameters<typeof EventBridgePublisher>[0]> = {}) =>
  new EventBridgePublisher({
    clientConfig: { endpoint, region: "us-east-1", credentials: { accessKeyId: "x", secretAccessKey: "y" }, maxAttempts: 1 },
    retryBaseMs: 1,
    retryCapMs: 5,
    ...extra,
  });

describe("EventBridgePublisher", () => {
  it("puts every entry on the bus, in order", async () => {
    const b = await bus();
    await publisher(b.endpoint).send(entries(10));
    expect(b.accepted().map((e) => JSON.parse(e.detail).id)).toEqual(entries(10).map((e) => JSON.parse(e.Detail).id));
    expect(b.accepted().every((e) => e.source === "nomad" && e.detailType === "Job" && e.bus === "nomad")).toBe(true);
  });

  it("retries only the entries the bus failed, until each is accepted exactly once", async () => {
    const b = await bus();
    b.failEntries((_entry, index, call) => (call <= 3 && index % 2 === 0 ? { code: "ThrottlingException" } : undefined));
    const retries: string[][] = [];
    await publisher(b.endpoint, { onRetry: (info) => retries.push(info.errorCodes) }).send(entries(10));
    const ids = b.accepted().map((e) => JSON.parse(e.detail).id as string);
    expect([...ids].sort()).toEqual(entries(10).map((e) => JSON.parse(e.Detail).id as string).sort());
    expect(new Set(ids).size).toBe(10);
    expect(retries.length).toBeGreaterThanOrEqual(3);
    expect(retries[0]).toEqual(["ThrottlingException"]);
  });

  it("rides out an outage of whole calls and then delivers", async () => {
    const b = await bus();
    b.failCalls({ count: 4, status: 500, type: "InternalException" });
    const failures: unknown[] = [];
    await publisher(b.endpoint, { onRetry: (info) => failures.push(info.callError) }).send(entries(3));
    expect(failures).toHaveLength(4);
    expect((failures[0] as Error).name).toBe("InternalException");
    expect(b.accepted()).toHaveLength(3);
  });

  it("stops retrying when aborted, having put nothing on the bus", async () => {
    const b = await bus();
    b.failCalls({});
    const abort = new AbortController();
    setTimeout(() => abort.abort(new Error("shutting down")), 50);
    await expect(publisher(b.endpoint, { signal: abort.signal }).send(entries(2))).rejects.toThrow("shutting down");
    expect(b.accepted()).toHaveLength(0);
  });

  it("rides out an endpoint that is down (connections refused) and delivers once it is back", async () => {
    const first = await startLocalEventBridge({ busNames: ["nomad"] });
    const port = Number(new URL(first.endpoint).port);
    await first.close();
    const failures: unknown[] = [];
    const sending = publisher(first.endpoint, { onRetry: (info) => failures.push(info.callError) }).send(entries(4));
    await new Promise((r) => setTimeout(r, 100));
    const back = await startLocalEventBridge({ busNames: ["nomad"], port });
    buses.push(back);
    await sending;
    expect(failures.length).toBeGreaterThanOrEqual(1);
    expect((failures[0] as { code?: string }).code).toBe("ECONNREFUSED");
    expect(back.accepted().map((e) => JSON.parse(e.detail).id)).toEqual(["e0", "e1", "e2", "e3"]);
  });

  it("sends through an injected SDK client the same way, retrying only what the bus failed", async () => {
    const b = await bus();
    const client = new EventBridgeClient({ endpoint: b.endpoint, region: "us-east-1", credentials: { accessKeyId: "x", secretAccessKey: "y" }, maxAttempts: 1 });
    b.failEntries((_entry, index, call) => (call === 1 && index < 2 ? { code: "InternalFailure" } : undefined));
    const retries: string[][] = [];
    try {
      await new EventBridgePublisher({ client, retryBaseMs: 1, retryCapMs: 5, onRetry: (info) => retries.push(info.errorCodes) }).send(entries(5));
    } finally {
      client.destroy();
    }
    expect(retries).toEqual([["InternalFailure"]]);
    expect(b.calls().map((c) => c.entryCount)).toEqual([5, 2]);
    expect(b.accepted().map((e) => JSON.parse(e.detail).id).sort()).toEqual(["e0", "e1", "e2", "e3", "e4"]);
  });

  it("adds one listener to the caller's signal however many calls are in flight, and aborting stops them all", async () => {
    const b = await bus();
    b.delay(2_000);
    const abort = new AbortController();
    const p = publisher(b.endpoint, { signal: abort.signal });
    const sends = Array.from({ length: 12 }, () => p.send(entries(1)).catch((error: unknown) => error));
    await new Promise((r) => setTimeout(r, 300));
    expect(b.inFlight()).toBe(12);
    expect(getEventListeners(abort.signal, "abort")).toHaveLength(1);
    abort.abort(new Error("stopping"));
    const outcomes = await Promise.all(sends);
    expect(outcomes.map((o) => (o as Error).message)).toEqual(Array.from({ length: 12 }, () => "stopping"));
    p.destroy();
    expect(getEventListeners(abort.signal, "abort")).toHaveLength(0);
  });
});
