import {
  DescribeEventBusCommand,
  EventBridgeClient,
  InternalException,
  PutEventsCommand,
  ThrottlingException,
  type PutEventsRequestEntry,
} from "@aws-sdk/client-eventbridge";
import { afterEach, describe, expect, it } from "vitest";
import { toEventEnvelope, type AcceptedEvent } from "../../infra/local/eventbridge/accepted-event";
import { PUT_EVENTS_DEFAULT_MAX_BYTES } from "../../shared/eventbridge/entry-size";
import { startLocalEventBridge, type LocalEventBridge, type LocalEventBridgeOptions } from "../../infra/local/eventbridge/local-eventbridge";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "../../infra/local/local-aws";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

const buses: LocalEventBridge[] = [];
const clients: EventBridgeClient[] = [];

async function startBus(options: LocalEventBridgeOptions = {}): Promise<LocalEventBridge> {
  const bus = await startLocalEventBridge(options);
  buses.push(bus);
  return bus;
}

/** The real SDK client; one attempt, so an injected failure is not hidden by SDK retries. */
function clientFor(bus: LocalEventBridge): EventBridgeClient {
  const client = new EventBridgeClient({ endpoint: bus.endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, maxAttempts: 1 });
  clients.push(client);
  return client;
}

afterEach(async () => {
  for (const client of clients.splice(0)) client.destroy();
  await Promise.all(buses.splice(0).map((bus) => bus.close()));
});

function entry(n: number, extra: Partial<PutEventsRequestEntry> = {}): PutEventsRequestEntry {
  return { Source: "nomad.test", DetailType: "Job", Detail: JSON.stringify({ n }), ...extra };
}

function put(client: EventBridgeClient, entries: PutEventsRequestEntry[]) {
  return client.send(new PutEventsCommand({ Entries: entries }));
}

/** POSTs a raw body the way the SDK would, for what the SDK's types cannot send. */
async function rawCall(bus: LocalEventBridge, body: string, target: string | null = "AWSEvents.PutEvents", method = "POST") {
  const headers: Record<string, string> = { "content-type": "application/x-amz-json-1.1" };
  if (target !== null) headers["x-amz-target"] = target;
  const response = await fetch(`${bus.endpoint}/`, { method, headers, ...(method === "GET" ? {} : { body }) });
  return { status: response.status, contentType: response.headers.get("content-type"), body: (await response.json()) as Record<string, unknown> };
}

describe("accepting events", () => {
  it("answers each entry with a fresh UUID EventId and records the events in order", async () => {
    const bus = await startBus({ busNames: ["nomad"] });
    const client = clientFor(bus);
    const time = new Date("2026-01-02T03:04:05.678Z");
    const before = Date.now();
    const result = await put(client, [
      entry(1),
      entry(2, { EventBusName: "nomad", Time: time, Resources: ["arn:aws:nomad:::job/web"], TraceHeader: "Root=1-abc" }),
      entry(3, { EventBusName: `arn:aws:events:${LOCAL_REGION}:000000000000:event-bus/nomad` }),
    ]);

    expect(result.FailedEntryCount).toBe(0);
    const ids = (result.Entries ?? []).map((answered) => answered.EventId);
    expect(ids).toHaveLength(3);
    for (const id of ids) expect(id).toMatch(UUID);
    expect(new Set(ids).size).toBe(3);
    expect(result.$metadata.requestId).toMatch(UUID);

    const accepted = bus.accepted();
    expect(accepted.map((event) => event.id)).toEqual(ids);
    expect(accepted.map((event) => [event.bus, event.detail, event.callNumber, event.indexInCall])).toEqual([
      ["default", '{"n":1}', 1, 0],
      ["nomad", '{"n":2}', 1, 1],
      ["nomad", '{"n":3}', 1, 2],
    ]);
    const [first, second] = accepted as [AcceptedEvent, AcceptedEvent];
    expect(second).toMatchObject({
      source: "nomad.test",
      detailType: "Job",
      resources: ["arn:aws:nomad:::job/web"],
      time: "2026-01-02T03:04:05Z",
      traceHeader: "Root=1-abc",
    });
    // Without a Time, the event's time is its receipt, at whole seconds.
    expect(first.resources).toEqual([]);
    expect(first.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(Date.parse(first.time)).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000);
    expect(Date.parse(first.receivedAt)).toBeGreaterThanOrEqual(before);
    expect(first).not.toHaveProperty("traceHeader");

    expect(bus.calls()).toEqual([
      expect.objectContaining({ number: 1, entryCount: 3, outcome: expect.objectContaining({ kind: "answered", failedEntryCount: 0, dropped: 0 }) }),
    ]);
  });

  it("is found through AWS_ENDPOINT_URL_EVENTBRIDGE, as production code will find it", async () => {
    const bus = await startBus();
    const saved = process.env.AWS_ENDPOINT_URL_EVENTBRIDGE;
    process.env.AWS_ENDPOINT_URL_EVENTBRIDGE = bus.endpoint;
    try {
      const client = new EventBridgeClient({ maxAttempts: 1 });
      clients.push(client);
      const result = await put(client, [entry(1)]);
      expect(result.Entries?.[0]?.EventId).toBe(bus.accepted()[0]?.id);
    } finally {
      if (saved === undefined) delete process.env.AWS_ENDPOINT_URL_EVENTBRIDGE;
      else process.env.AWS_ENDPOINT_URL_EVENTBRIDGE = saved;
    }
  });

  it("with record: false, hands every event to onAccepted and keeps none, and says so when asked for them", async () => {
    const seen: AcceptedEvent[] = [];
    const bus = await startBus({ record: false, onAccepted: (events) => void seen.push(...events) });
    const result = await put(clientFor(bus), [entry(1), entry(2)]);
    expect(result.FailedEntryCount).toBe(0);
    expect(seen.map((e) => e.id)).toEqual(result.Entries?.map((e) => e.EventId));
    expect(() => bus.accepted()).toThrow("this local EventBridge was started with record: false, so it keeps no accepted events; read events through onAccepted");
    expect(() => bus.calls()).toThrow(/record: false, so it keeps no calls/);
    // Call numbers still count, for failure pickers.
    bus.failEntries((_entry, _index, callNumber) => (callNumber === 2 ? { code: "InternalFailure" } : undefined));
    expect((await put(clientFor(bus), [entry(3)])).FailedEntryCount).toBe(1);
  });

  it("builds the envelope a rule target receives", async () => {
    const bus = await startBus();
    await put(clientFor(bus), [entry(7, { Time: new Date("2026-03-04T05:06:07Z"), Resources: ["r"] })]);
    const [event] = bus.accepted();
    expect(event).toBeDefined();
    const envelope = toEventEnvelope(event!);
    expect(Object.keys(envelope)).toEqual(["version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"]);
    expect(envelope).toEqual({
      version: "0",
      id: event!.id,
      "detail-type": "Job",
      source: "nomad.test",
      account: "000000000000",
      time: "2026-03-04T05:06:07Z",
      region: LOCAL_REGION,
      resources: ["r"],
      detail: { n: 7 },
    });
  });
});

describe("whole-call limits", () => {
  it("takes 10 entries and refuses 11 whole, with ValidationException", async () => {
    const bus = await startBus();
    const client = clientFor(bus);
    const ten = await put(client, Array.from({ length: 10 }, (_, n) => entry(n)));
    expect(ten.Entries).toHaveLength(10);
    expect(ten.FailedEntryCount).toBe(0);

    await expect(put(client, Array.from({ length: 11 }, (_, n) => entry(100 + n)))).rejects.toMatchObject({
      name: "ValidationException",
      $fault: "client",
      $metadata: { httpStatusCode: 400 },
      message: expect.stringContaining("Member must have length less than or equal to 10"),
    });
    expect(bus.accepted()).toHaveLength(10);
    expect(bus.calls()[1]).toMatchObject({ number: 2, entryCount: 11, outcome: { kind: "failed", status: 400, type: "ValidationException" } });
  });

  it("refuses an empty Entries list with ValidationException", async () => {
    const bus = await startBus();
    await expect(put(clientFor(bus), [])).rejects.toMatchObject({ name: "ValidationException", $metadata: { httpStatusCode: 400 } });
  });

  /**
   * Two entries whose sizes, counted independently of the code under test, sum to `total`:
   * multibyte Detail, a Time, multibyte Resources, quotes that JSON escapes (counted once)
   * and an EventBusName and TraceHeader (not counted at all).
   */
  function entriesOfSize(total: number): PutEventsRequestEntry[] {
    const first: PutEventsRequestEntry = {
      Time: new Date("2026-01-01T00:00:00Z"),
      Source: "nomad.é",
      DetailType: "Allocation€",
      Detail: JSON.stringify({ quote: '"', emoji: "😀", cjk: "日本" }),
      Resources: ["arn:aws:nomad:::alloc/é", "ü"],
      EventBusName: "default",
      TraceHeader: "Root=1-5759e988-bd862e3fe1be46a994272793",
    };
    const firstSize =
      14 +
      Buffer.byteLength(first.Source!) +
      Buffer.byteLength(first.DetailType!) +
      Buffer.byteLength(first.Detail!) +
      first.Resources!.reduce((sum, resource) => sum + Buffer.byteLength(resource), 0);
    const skeleton = { Source: "nomad.test", DetailType: "Job", wrapper: '{"pad":""}' };
    const fixed = Buffer.byteLength(skeleton.Source) + Buffer.byteLength(skeleton.DetailType) + Buffer.byteLength(skeleton.wrapper);
    let remaining = total - firstSize - fixed;
    // Fill with 3-byte characters, then ASCII for what 3 does not divide.
    const pad = "€".repeat(Math.floor(remaining / 3)) + "a".repeat(remaining % 3);
    remaining -= Buffer.byteLength(pad);
    expect(remaining).toBe(0);
    return [first, { Source: skeleton.Source, DetailType: skeleton.DetailType, Detail: JSON.stringify({ pad }) }];
  }

  it("accepts a call at exactly 256 KB by AWS's rule and refuses one byte more", async () => {
    const bus = await startBus();
    const client = clientFor(bus);
    const atLimit = await put(client, entriesOfSize(PUT_EVENTS_DEFAULT_MAX_BYTES));
    expect(atLimit.FailedEntryCount).toBe(0);
    expect(bus.calls()[0]).toMatchObject({ entryCount: 2, size: 262_144 });

    await expect(put(client, entriesOfSize(PUT_EVENTS_DEFAULT_MAX_BYTES + 1))).rejects.toMatchObject({
      name: "ValidationException",
      message: "Total size of the entries in the request is over the limit.",
      $metadata: { httpStatusCode: 400 },
    });
    expect(bus.calls()[1]).toMatchObject({ size: 262_145, outcome: { kind: "failed", type: "ValidationException" } });
    expect(bus.accepted()).toHaveLength(2);
  });

  it("enforces a configured limit the same way", async () => {
    const bus = await startBus({ maxRequestBytes: 1_000 });
    const client = clientFor(bus);
    expect((await put(client, entriesOfSize(1_000))).FailedEntryCount).toBe(0);
    await expect(put(client, entriesOfSize(1_001))).rejects.toMatchObject({ name: "ValidationException" });
  });
});

describe("per-entry errors", () => {
  it("fails missing fields and non-object Details entry by entry, and takes the rest", async () => {
    const bus = await startBus();
    const result = await put(clientFor(bus), [
      entry(1),
      { DetailType: "Job", Detail: "{}" },
      { Source: "nomad.test", DetailType: "", Detail: "{}" },
      { Source: "nomad.test", DetailType: "Job" },
      entry(0, { Detail: "[]" }),
      entry(0, { Detail: JSON.stringify("a string") }),
      entry(0, { Detail: "{not json" }),
      entry(0, { Detail: "null" }),
      entry(2, { Detail: "{}" }),
    ]);

    expect(result.FailedEntryCount).toBe(7);
    const answered = result.Entries ?? [];
    expect(answered.map((item) => item.ErrorCode ?? "ok")).toEqual([
      "ok",
      "InvalidArgument",
      "InvalidArgument",
      "InvalidArgument",
      "MalformedDetail",
      "MalformedDetail",
      "MalformedDetail",
      "MalformedDetail",
      "ok",
    ]);
    expect(answered.slice(1, 4).map((item) => item.ErrorMessage)).toEqual([
      "Parameter Source is not valid. Reason: Source is a required argument.",
      "Parameter DetailType is not valid. Reason: DetailType is a required argument.",
      "Parameter Detail is not valid. Reason: Detail is a required argument.",
    ]);
    expect(answered[4]?.ErrorMessage).toBe("Detail is malformed.");
    for (const failed of answered.slice(1, 8)) expect(failed.EventId).toBeUndefined();
    expect(bus.accepted().map((event) => event.id)).toEqual([answered[0]?.EventId, answered[8]?.EventId]);
  });

  it("takes a Detail nested 1100 deep and refuses 1101", async () => {
    const bus = await startBus();
    const nested = (depth: number) => `${'{"a":'.repeat(depth - 1)}{}${"}".repeat(depth - 1)}`;
    expect(() => JSON.parse(nested(1101))).not.toThrow();
    const result = await put(clientFor(bus), [entry(0, { Detail: nested(1100) }), entry(0, { Detail: nested(1101) })]);
    expect(result.Entries?.map((item) => item.ErrorCode ?? "ok")).toEqual(["ok", "MalformedDetail"]);
    expect(result.FailedEntryCount).toBe(1);
  });

  it("fails an entry for a bus that does not exist, by name or ARN", async () => {
    const bus = await startBus({ busNames: ["nomad"] });
    const result = await put(clientFor(bus), [
      entry(1, { EventBusName: "nomad" }),
      entry(2, { EventBusName: "typo" }),
      entry(3, { EventBusName: `arn:aws:events:${LOCAL_REGION}:000000000000:event-bus/other` }),
    ]);
    expect(result.FailedEntryCount).toBe(2);
    expect(result.Entries?.slice(1)).toEqual([
      { ErrorCode: "ResourceNotFoundException", ErrorMessage: "Event bus typo does not exist." },
      { ErrorCode: "ResourceNotFoundException", ErrorMessage: "Event bus other does not exist." },
    ]);
    expect(bus.accepted().map((event) => event.bus)).toEqual(["nomad"]);
  });

  it("with unknownBus: drop, answers an EventId and keeps nothing, as AWS does", async () => {
    const bus = await startBus({ unknownBus: "drop" });
    const result = await put(clientFor(bus), [entry(1, { EventBusName: "typo" }), entry(2)]);
    expect(result.FailedEntryCount).toBe(0);
    expect(result.Entries?.[0]?.EventId).toMatch(UUID);
    expect(bus.accepted().map((event) => event.detail)).toEqual(['{"n":2}']);
    expect(bus.calls()[0]?.outcome).toMatchObject({ kind: "answered", dropped: 1, failedEntryCount: 0 });
  });
});

describe("failEntries", () => {
  it("fails the picked entries with their code, sets FailedEntryCount, and clears", async () => {
    const bus = await startBus();
    const client = clientFor(bus);
    const seen: Array<[string | undefined, number, number]> = [];
    bus.failEntries((picked, index, callNumber) => {
      seen.push([picked.Detail, index, callNumber]);
      if (index === 1) return { code: "ThrottlingException" };
      if (index === 2) return { code: "InternalFailure", message: "try again" };
      return undefined;
    });
    const first = await put(client, [entry(0), entry(1), entry(2), entry(3)]);
    expect(first.FailedEntryCount).toBe(2);
    expect(first.Entries?.map((item) => item.ErrorCode ?? "ok")).toEqual(["ok", "ThrottlingException", "InternalFailure", "ok"]);
    expect(first.Entries?.[2]?.ErrorMessage).toBe("try again");
    expect(first.Entries?.[1]?.ErrorMessage).toEqual(expect.any(String));
    expect(bus.accepted().map((event) => event.detail)).toEqual(['{"n":0}', '{"n":3}']);

    // Only entries that passed the service's own checks reach the picker.
    await put(client, [{ Source: "s", DetailType: "d" }, entry(9)]);
    expect(seen).toEqual([
      ['{"n":0}', 0, 1],
      ['{"n":1}', 1, 1],
      ['{"n":2}', 2, 1],
      ['{"n":3}', 3, 1],
      ['{"n":9}', 1, 2],
    ]);

    bus.failEntries(undefined);
    const healed = await put(client, [entry(4), entry(5)]);
    expect(healed.FailedEntryCount).toBe(0);
  });

  it("can fail by call number, for a failure that clears on retry", async () => {
    const bus = await startBus();
    const client = clientFor(bus);
    bus.failEntries((_entry, _index, callNumber) => (callNumber === 1 ? { code: "ThrottlingException" } : undefined));
    expect((await put(client, [entry(1), entry(2)])).FailedEntryCount).toBe(2);
    expect((await put(client, [entry(1), entry(2)])).FailedEntryCount).toBe(0);
    expect(bus.accepted()).toHaveLength(2);
  });
});

describe("failCalls", () => {
  it("fails whole calls with InternalException (500) by default until healed", async () => {
    const bus = await startBus();
    const client = clientFor(bus);
    bus.failCalls();
    for (let attempt = 0; attempt < 3; attempt++) {
      const failure = await put(client, [entry(attempt)]).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(failure).toBeInstanceOf(InternalException);
      expect(failure).toMatchObject({ name: "InternalException", $fault: "server", $metadata: { httpStatusCode: 500 } });
    }
    expect(bus.accepted()).toEqual([]);
    bus.heal();
    expect((await put(client, [entry(9)])).FailedEntryCount).toBe(0);
    expect(bus.calls().map((call) => call.outcome.kind)).toEqual(["failed", "failed", "failed", "answered"]);
    expect(bus.calls()[0]).toMatchObject({ entryCount: 1, size: "nomad.test".length + "Job".length + '{"n":0}'.length });
  });

  it("counts down and heals by itself", async () => {
    const bus = await startBus();
    const client = clientFor(bus);
    bus.failCalls({ count: 2, type: "ThrottlingException" });
    for (let attempt = 0; attempt < 2; attempt++) {
      const failure = await put(client, [entry(attempt)]).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(failure).toBeInstanceOf(ThrottlingException);
      expect(failure).toMatchObject({ name: "ThrottlingException", message: "Rate exceeded", $metadata: { httpStatusCode: 400 } });
    }
    const third = await put(client, [entry(2)]);
    expect(third.FailedEntryCount).toBe(0);
    expect(bus.accepted().map((event) => event.detail)).toEqual(['{"n":2}']);
  });

  it.each([
    [{ status: 503 }, "ServiceUnavailable", 503],
    [{ status: 400 }, "ThrottlingException", 400],
    [{ type: "ServiceUnavailable" }, "ServiceUnavailable", 503],
    [{ status: 500, type: "ThrottlingException" }, "ThrottlingException", 500],
  ] as const)("%o makes the SDK throw %s with status %i", async (failure, name, status) => {
    const bus = await startBus();
    bus.failCalls({ ...failure, count: 1 });
    await expect(put(clientFor(bus), [entry(1)])).rejects.toMatchObject({ name, $metadata: { httpStatusCode: status } });
    expect(bus.calls()[0]?.outcome).toEqual({ kind: "failed", status, type: name, message: expect.any(String) });
  });

  it("takes precedence over everything else, even an invalid call", async () => {
    const bus = await startBus();
    bus.failCalls({ count: 1, type: "ServiceUnavailable" });
    await expect(put(clientFor(bus), Array.from({ length: 11 }, (_, n) => entry(n)))).rejects.toMatchObject({ name: "ServiceUnavailable" });
    await expect(put(clientFor(bus), Array.from({ length: 11 }, (_, n) => entry(n)))).rejects.toMatchObject({ name: "ValidationException" });
  });

  it("heal also ends failEntries", async () => {
    const bus = await startBus();
    bus.failEntries(() => ({ code: "InternalFailure" }));
    bus.heal();
    expect((await put(clientFor(bus), [entry(1)])).FailedEntryCount).toBe(0);
  });

  it("refuses a count that is not a positive integer", async () => {
    const bus = await startBus();
    expect(() => bus.failCalls({ count: 0 })).toThrow(RangeError);
    expect(() => bus.failCalls({ count: 1.5 })).toThrow(RangeError);
  });
});

describe("onAccepted", () => {
  it("sees the call's accepted events before the answer, and they are recorded after", async () => {
    const handed: Array<{ ids: string[]; recordedAtTheTime: number }> = [];
    let bus: LocalEventBridge | undefined;
    bus = await startBus({
      onAccepted: (events) => {
        handed.push({ ids: events.map((event) => event.id), recordedAtTheTime: bus?.accepted().length ?? -1 });
      },
    });
    const result = await put(clientFor(bus), [entry(1), { Source: "s" }, entry(2)]);
    expect(handed).toEqual([{ ids: [result.Entries?.[0]?.EventId, result.Entries?.[2]?.EventId], recordedAtTheTime: 0 }]);
    expect(bus.accepted()).toHaveLength(2);
  });

  it("throwing fails the entries with InternalFailure and records nothing", async () => {
    let fail = true;
    const bus = await startBus({
      onAccepted: async () => {
        await Promise.resolve();
        if (fail) throw new Error("queue unreachable");
      },
    });
    const client = clientFor(bus);
    const result = await put(client, [entry(1), { Source: "s" }, entry(2)]);
    expect(result.FailedEntryCount).toBe(3);
    expect(result.Entries?.map((item) => item.ErrorCode)).toEqual(["InternalFailure", "InvalidArgument", "InternalFailure"]);
    expect(result.Entries?.[0]?.ErrorMessage).toContain("queue unreachable");
    expect(bus.accepted()).toEqual([]);
    expect(bus.calls()[0]?.outcome).toMatchObject({ kind: "answered", failedEntryCount: 3, onAcceptedError: expect.any(Error) });

    fail = false;
    expect((await put(client, [entry(3)])).FailedEntryCount).toBe(0);
    expect(bus.accepted()).toHaveLength(1);
  });

  it("a synchronous throw is handled the same way", async () => {
    const bus = await startBus({
      onAccepted: () => {
        throw new Error("boom");
      },
    });
    const result = await put(clientFor(bus), [entry(1)]);
    expect(result.Entries?.[0]?.ErrorCode).toBe("InternalFailure");
    expect(bus.accepted()).toEqual([]);
  });

  it("runs one call at a time, so events are recorded in arrival order", async () => {
    const order: string[] = [];
    const bus = await startBus({
      onAccepted: async (events) => {
        const detail = events[0]?.detail ?? "";
        order.push(`start ${detail}`);
        // The first call's hook is the slow one; the second must wait for it.
        if (detail === '{"n":1}') await new Promise((resolve) => setTimeout(resolve, 80));
        order.push(`end ${detail}`);
      },
    });
    const client = clientFor(bus);
    const first = put(client, [entry(1)]);
    // Let the first request arrive before the second is sent.
    await expect.poll(() => order.length).toBe(1);
    await Promise.all([first, put(client, [entry(2)])]);
    expect(order).toEqual(['start {"n":1}', 'end {"n":1}', 'start {"n":2}', 'end {"n":2}']);
    expect(bus.accepted().map((event) => event.detail)).toEqual(['{"n":1}', '{"n":2}']);
  });
});

describe("delay", () => {
  it("holds each answer, which shows calls in flight, and 0 removes it", async () => {
    const bus = await startBus();
    const client = clientFor(bus);
    bus.delay(200);
    const started = performance.now();
    const calls = [put(client, [entry(1)]), put(client, [entry(2)]), put(client, [entry(3)])];
    await expect.poll(() => bus.inFlight()).toBe(3);
    // Processed already; only the answer waits, as when a reply is slow.
    expect(bus.accepted()).toHaveLength(3);
    await Promise.all(calls);
    expect(performance.now() - started).toBeGreaterThanOrEqual(190);
    expect(bus.inFlight()).toBe(0);
    expect(bus.peakInFlight()).toBe(3);

    bus.delay(0);
    const quick = performance.now();
    await put(client, [entry(4)]);
    expect(performance.now() - quick).toBeLessThan(150);
  });

  it("does not keep close() waiting on a held answer", async () => {
    const bus = await startLocalEventBridge();
    const client = clientFor(bus);
    bus.delay(60_000);
    const pending = put(client, [entry(1)]).then(
      () => "answered",
      () => "failed",
    );
    await expect.poll(() => bus.inFlight()).toBe(1);
    const closing = performance.now();
    await bus.close();
    expect(performance.now() - closing).toBeLessThan(1_000);
    expect(await pending).toBe("failed");
    // The held answer's timer is cancelled, not left to keep the process alive.
    await expect.poll(() => bus.inFlight()).toBe(0);
  });
});

describe("protocol", () => {
  it("answers an unknown X-Amz-Target with 400 UnknownOperationException", async () => {
    const bus = await startBus();
    const answer = await rawCall(bus, "{}", "AWSEvents.PutRule");
    expect(answer).toEqual({ status: 400, contentType: "application/x-amz-json-1.1", body: { __type: "UnknownOperationException", message: expect.any(String) } });
    expect((await rawCall(bus, "{}", null)).body.__type).toBe("UnknownOperationException");
    expect((await rawCall(bus, "", "AWSEvents.PutEvents", "GET")).body.__type).toBe("UnknownOperationException");
    expect(bus.calls()).toEqual([]);
  });

  it("answers a body that is not JSON with 400 SerializationException", async () => {
    const bus = await startBus();
    const answer = await rawCall(bus, '{"Entries": [');
    expect(answer.status).toBe(400);
    expect(answer.body.__type).toBe("SerializationException");
    expect(bus.calls()[0]).toMatchObject({ entryCount: 0, size: 0, outcome: { kind: "failed", type: "SerializationException" } });
  });

  it.each([
    ["Entries of the wrong type", "SerializationException", '{"Entries": {}}'],
    ["an entry field of the wrong type", "SerializationException", '{"Entries": [{"Source": 1, "DetailType": "d", "Detail": "{}"}]}'],
    ["a Time that is not epoch seconds", "SerializationException", '{"Entries": [{"Source": "s", "DetailType": "d", "Detail": "{}", "Time": "2026-01-01"}]}'],
    ["no Entries", "ValidationException", "{}"],
    ["a body that is not an object", "SerializationException", "[]"],
  ])("answers %s with 400 %s", async (_what, type, body) => {
    const bus = await startBus();
    const answer = await rawCall(bus, body);
    expect(answer.status).toBe(400);
    expect(answer.body.__type).toBe(type);
  });

  it("takes JSON nulls as absent fields", async () => {
    const bus = await startBus();
    const answer = await rawCall(bus, '{"Entries": [{"Source": "s", "DetailType": "d", "Detail": "{}", "Time": null, "Resources": null, "EventBusName": null}]}');
    expect(answer).toMatchObject({ status: 200, body: { FailedEntryCount: 0 } });
    expect(bus.accepted()[0]).toMatchObject({ bus: "default", resources: [] });
  });

  it("answers DescribeEventBus for buses that exist, and ResourceNotFoundException otherwise", async () => {
    const bus = await startBus({ busNames: ["nomad"] });
    const client = clientFor(bus);
    const described = await client.send(new DescribeEventBusCommand({}));
    expect(described).toMatchObject({ Name: "default", Arn: `arn:aws:events:${LOCAL_REGION}:000000000000:event-bus/default` });
    expect(await client.send(new DescribeEventBusCommand({ Name: "nomad" }))).toMatchObject({ Name: "nomad" });
    await expect(client.send(new DescribeEventBusCommand({ Name: "typo" }))).rejects.toMatchObject({
      name: "ResourceNotFoundException",
      message: "Event bus typo does not exist.",
      $metadata: { httpStatusCode: 400 },
    });
    expect(bus.busNames).toEqual(["default", "nomad"]);
  });
});
