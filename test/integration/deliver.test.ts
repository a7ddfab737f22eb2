import { afterEach, describe, expect, it } from "vitest";
import { Webhook } from "standardwebhooks";
import { deliveryMessage, type DeliveryMessage } from "../../shared/delivery/delivery-message";
import { DynamoDeliveryLog } from "../../shared/delivery/delivery-log";
import { onLanded } from "../../shared/dynamo/index-counter";
import { DLQ_REASON_ATTRIBUTE, SqsDeliveryQueue } from "../../shared/delivery/sqs-delivery-queue";
import type { NomadBusDetail } from "../../shared/streamer/event-contract";
import { USER_AGENT } from "../../shared/version";
import { newDeliveryPipeline, drainQueue } from "../support/delivery";
import { until } from "../support/until";
import { startWebhookReceiver, type ReceivedRequest, type WebhookReceiver } from "../support/webhook-receiver";

function detail(index: number, key = `job-${index}`, topic = "Job"): NomadBusDetail {
  return {
    id: `${index}-${key}`,
    cluster: "test",
    frameIndex: index,
    event: { Topic: topic, Type: "JobRegistered", Key: key, Namespace: "default", FilterKeys: null, Index: index, Payload: { Job: { ID: key } } },
  };
}

type Pipeline = Awaited<ReturnType<typeof newDeliveryPipeline>>;
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(env: Record<string, string> = {}, options: { concurrency?: number } = {}) {
  const pipeline = await newDeliveryPipeline(env, options);
  cleanups.push(() => pipeline.close());
  const receiver = await startWebhookReceiver();
  cleanups.push(() => receiver.close());
  return { pipeline, receiver };
}

async function register(pipeline: Pipeline, receiver: WebhookReceiver, id = "team-a") {
  const { value } = await pipeline.sinks.put({ ID: id, Type: "webhook", Topics: { "*": ["*"] }, Address: receiver.url });
  return value;
}

async function enqueue(pipeline: Pipeline, messages: DeliveryMessage[]) {
  const queue = new SqsDeliveryQueue({ queueUrl: pipeline.queues.queueUrl, client: pipeline.sqs });
  for (let start = 0; start < messages.length; start += 10) {
    const failed = await queue.sendBatch(messages.slice(start, start + 10).map((m, i) => ({ id: `m${i}`, body: JSON.stringify(m), groupId: m.sinkId, deduplicationId: m.deliveryId })));
    expect(failed).toEqual([]);
  }
}

/** Indexes a receiver accepted, in arrival order. */
function acceptedIndexes(receiver: WebhookReceiver): number[] {
  return receiver.accepted.flatMap((r) => (JSON.parse(r.body) as { Events: Array<{ Index: number }> }).Events.map((e) => e.Index));
}

function eventsOf(request: ReceivedRequest): Array<{ Index: number; Key: string }> {
  return (JSON.parse(request.body) as { Events: Array<{ Index: number; Key: string }> }).Events;
}

function verify(secret: string, request: ReceivedRequest) {
  return new Webhook(secret).verify(request.body, {
    "webhook-id": String(request.headers["webhook-id"]),
    "webhook-timestamp": String(request.headers["webhook-timestamp"]),
    "webhook-signature": String(request.headers["webhook-signature"]),
  });
}

describe("deliver: webhooks through the FIFO queue", () => {
  it("POSTs Nomad-shaped, signed bodies in order and advances LatestIndex", async () => {
    const { pipeline, receiver } = await setup();
    const sink = await register(pipeline, receiver);
    await enqueue(pipeline, [1, 2, 3, 5, 8].map((i) => deliveryMessage(sink.ID, detail(i))));
    pipeline.start();
    await until(() => acceptedIndexes(receiver).length === 5);
    expect(acceptedIndexes(receiver)).toEqual([1, 2, 3, 5, 8]);
    for (const request of receiver.received) {
      expect(request.method).toBe("POST");
      expect(request.headers["content-type"]).toBe("application/json");
      expect(request.headers["user-agent"]).toBe(USER_AGENT);
      expect(String(request.headers["webhook-id"])).toMatch(/^msg_[0-9a-f]{32}$/);
      // The official Standard Webhooks verifier accepts every request.
      const body = verify(sink.Secret, request) as { Index: number; Events: Array<{ Index: number }> };
      expect(body.Index).toBe(Math.max(...body.Events.map((e) => e.Index)));
    }
    // Each event keeps its own Index and shape.
    expect(eventsOf(receiver.accepted[0]!)[0]).toEqual(detail(1).event);
    await until(async () => (await pipeline.sinks.get(sink.ID)).value?.LatestIndex === 8);
    const log = new DynamoDeliveryLog({ tableName: pipeline.deliveriesTable, client: pipeline.dynamo });
    const { attempts } = await log.list(sink.ID, { limit: 50 });
    expect(attempts.every((a) => a.Outcome === "delivered" && a.StatusCode === 200)).toBe(true);
    expect(attempts.reduce((n, a) => n + a.Events, 0)).toBe(5);
    expect(pipeline.metrics.total("Delivered")).toBe(5);
  });

  it("keeps each sink's order through intermittent 5xx, resets and hangs, and repeats a failed body under the same webhook-id", async () => {
    // Three events per request at most, so the 30 events take enough requests to meet every fault.
    const { pipeline, receiver } = await setup({ WEBHOOK_TIMEOUT_MS: "400", DELIVERY_MAX_EVENTS_PER_REQUEST: "3" });
    const sink = await register(pipeline, receiver);
    // Fail every third request, cycling through a 500, a reset connection and a hang.
    const faults = [{ status: 500, body: "boom" }, "reset", "hang"] as const;
    receiver.setReply((r) => (r.n % 3 === 1 ? faults[Math.floor(r.n / 3) % 3]! : { status: 204 }));
    const indexes = Array.from({ length: 30 }, (_, i) => i + 1);
    await enqueue(pipeline, indexes.map((i) => deliveryMessage(sink.ID, detail(i))));
    pipeline.start();
    await until(() => new Set(acceptedIndexes(receiver)).size === 30, 60_000);
    // Order holds: never an index lower than one already accepted.
    expect(acceptedIndexes(receiver)).toEqual(indexes);
    // Each failed request came again with the same id and the same body.
    const failed = receiver.received.filter((r) => !receiver.accepted.includes(r));
    expect(failed.length).toBeGreaterThan(2);
    for (const f of failed) {
      const retry = receiver.received.find((r) => r.n > f.n && r.headers["webhook-id"] === f.headers["webhook-id"]);
      expect(retry, `retry of request ${f.n}`).toBeDefined();
      expect(retry!.body).toBe(f.body);
    }
    const log = new DynamoDeliveryLog({ tableName: pipeline.deliveriesTable, client: pipeline.dynamo });
    const { attempts } = await log.list(sink.ID, { limit: 100 });
    const errors = attempts.filter((a) => a.Outcome === "retrying").map((a) => a.Error);
    expect(errors.some((e) => e.includes("HTTP 500: boom"))).toBe(true);
    expect(errors.some((e) => /no complete answer within 400 ms/.test(e))).toBe(true);
    expect(errors.some((e) => /socket|ECONNRESET|closed/i.test(e))).toBe(true);
    expect(attempts.some((a) => a.Attempt >= 2 && a.Outcome === "delivered")).toBe(true);
  }, 90_000);

  it("waits at least as long as a 429's Retry-After", async () => {
    const { pipeline, receiver } = await setup();
    const sink = await register(pipeline, receiver);
    receiver.setReply((r) => (r.n === 1 ? { status: 429, headers: { "retry-after": "3" } } : { status: 200 }));
    await enqueue(pipeline, [deliveryMessage(sink.ID, detail(1))]);
    pipeline.start();
    await until(() => receiver.accepted.length === 1, 30_000);
    expect(receiver.received[1]!.at - receiver.received[0]!.at).toBeGreaterThanOrEqual(2_900);
    expect(receiver.received[1]!.headers["webhook-id"]).toBe(receiver.received[0]!.headers["webhook-id"]);
  }, 40_000);

  it("disables the sink on 410 Gone, dead-letters its messages with the reason, and follows no redirect", async () => {
    const { pipeline, receiver } = await setup();
    const other = await startWebhookReceiver();
    cleanups.push(() => other.close());
    const gone = await register(pipeline, receiver, "gone");
    const { value: redirected } = await pipeline.sinks.put({ ID: "redirected", Type: "webhook", Topics: { "*": ["*"] }, Address: `http://127.0.0.1:${other.port}/old` });
    receiver.setReply(() => ({ status: 410, body: "unsubscribed" }));
    other.setReply((r) => (r.url === "/old" ? { status: 302, headers: { location: receiver.url } } : { status: 200 }));
    await enqueue(pipeline, [1, 2, 3].map((i) => deliveryMessage(gone.ID, detail(i))));
    await enqueue(pipeline, [deliveryMessage(redirected.ID, detail(1))]);
    // This process's sink caches hear of the disable (the local runtime's fan-out among them).
    const landed: number[] = [];
    const stopListening = onLanded(pipeline.sinksTable, () => landed.push(Date.now()));
    cleanups.push(async () => stopListening());
    pipeline.start();
    await until(async () => (await pipeline.sinks.get(gone.ID)).value?.Disabled !== undefined);
    const disabled = (await pipeline.sinks.get(gone.ID)).value!;
    expect(disabled.Disabled?.Reason).toMatch(/410 Gone.*unsubscribed.*re-register/);
    await until(() => landed.length > 0);
    expect(receiver.received).toHaveLength(1); // one POST, then no more for a disabled sink
    const dead: Awaited<ReturnType<typeof drainQueue>> = [];
    await until(async () => dead.push(...(await drainQueue(pipeline.sqs, pipeline.queues.dlqUrl))) >= 3);
    expect(dead.map((d) => (JSON.parse(d.body) as DeliveryMessage).detail.frameIndex).sort()).toEqual([1, 2, 3]);
    expect(dead.every((d) => d.groupId === "gone" && /410 Gone/.test(d.attributes[DLQ_REASON_ATTRIBUTE] ?? ""))).toBe(true);
    // The redirect is a failure, retried; its target is never called by us.
    await until(() => other.received.length >= 2, 20_000);
    expect(other.received.every((r) => r.url === "/old")).toBe(true);
    expect(receiver.received).toHaveLength(1);
    expect(landed).toHaveLength(1);
    const log = new DynamoDeliveryLog({ tableName: pipeline.deliveriesTable, client: pipeline.dynamo });
    const { attempts } = await log.list(redirected.ID, { limit: 10 });
    expect(attempts[0]?.Error).toMatch(/302 redirect to ".*\/hook" not followed/);
  }, 40_000);

  it("dead-letters a delivery past the retry horizon with its last error, and the sink's next messages proceed", async () => {
    const { pipeline, receiver } = await setup({ DELIVERY_RETRY_HORIZON_SECONDS: "3" });
    const sink = await register(pipeline, receiver);
    // Event 1 is refused for ever; the others are fine.
    receiver.setReply((r) => (eventsOf(r).some((e) => e.Index === 1) ? { status: 500, body: "cannot take index 1" } : { status: 200 }));
    await enqueue(pipeline, [deliveryMessage(sink.ID, detail(1))]);
    pipeline.start();
    // 2 and 3 are queued once 1 has failed, so they wait behind its retries (a retry carries exactly the failed request's events).
    await until(() => receiver.received.length > 0, 30_000);
    await enqueue(pipeline, [2, 3].map((i) => deliveryMessage(sink.ID, detail(i))));
    await until(() => acceptedIndexes(receiver).includes(3), 30_000);
    const dead = await drainQueue(pipeline.sqs, pipeline.queues.dlqUrl);
    const deadIndexes = dead.map((d) => (JSON.parse(d.body) as DeliveryMessage).detail.frameIndex);
    expect(deadIndexes).toEqual([1]);
    expect(acceptedIndexes(receiver)).toEqual([2, 3]);
    expect(dead[0]!.attributes[DLQ_REASON_ATTRIBUTE]).toMatch(/still failing after the 3 s retry horizon \(\d+ attempts\); last error: HTTP 500: cannot take index 1/);
    // Retried more than once before giving up, and never after.
    expect(receiver.received.filter((r) => eventsOf(r).some((e) => e.Index === 1)).length).toBeGreaterThanOrEqual(2);
  }, 40_000);

  it("signs with every valid secret during a rotation, so old and new secrets both verify", async () => {
    const { pipeline, receiver } = await setup();
    const sink = await register(pipeline, receiver);
    const rotated = (await pipeline.sinks.rotateSecret(sink.ID)).value;
    await enqueue(pipeline, [deliveryMessage(sink.ID, detail(1))]);
    pipeline.start();
    await until(() => receiver.accepted.length === 1);
    const request = receiver.accepted[0]!;
    expect(String(request.headers["webhook-signature"]).split(" ")).toHaveLength(2);
    expect(verify(rotated.Secret, request)).toBeTruthy();
    expect(verify(sink.Secret, request)).toBeTruthy();
    expect(() => verify("whsec_" + Buffer.alloc(32, 7).toString("base64"), request)).toThrow();
  });

  it("never delivers to a sink registered again under a deleted sink's ID what was queued for the old one, nor lists its attempts", async () => {
    const { pipeline, receiver } = await setup();
    const old = await register(pipeline, receiver, "alerts");
    const log = new DynamoDeliveryLog({ tableName: pipeline.deliveriesTable, client: pipeline.dynamo });
    await log.recordAll([{ SinkID: "alerts", SinkIndex: old.CreateIndex, DeliveryID: "msg_old", Attempt: 1, Outcome: "delivered", StatusCode: 204, LatencyMs: 1, Error: "", Events: 1, FirstIndex: 1, LastIndex: 1, At: Date.now() }]);
    await pipeline.sinks.delete("alerts");
    const reborn = await register(pipeline, receiver, "alerts");
    expect(reborn.CreateIndex).toBeGreaterThan(old.CreateIndex);
    // Two messages still queued for the old sink, then one for the new.
    await enqueue(pipeline, [
      { ...deliveryMessage("alerts", detail(1)), sinkIndex: old.CreateIndex },
      { ...deliveryMessage("alerts", detail(2)), sinkIndex: old.CreateIndex },
      { ...deliveryMessage("alerts", detail(3)), sinkIndex: reborn.CreateIndex },
    ]);
    pipeline.start();
    await until(() => acceptedIndexes(receiver).length >= 1);
    await until(() => pipeline.metrics.total("DeliveriesDiscarded") === 2);
    expect(acceptedIndexes(receiver)).toEqual([3]);
    // The batch's attempt records are written once its POSTs are answered: wait for them.
    await until(async () => (await log.list("alerts", { limit: 10, sinkIndex: reborn.CreateIndex })).attempts.length > 0);
    const { attempts } = await log.list("alerts", { limit: 10, sinkIndex: reborn.CreateIndex });
    expect(attempts.map((a) => a.DeliveryID)).not.toContain("msg_old");
    expect(attempts.map((a) => a.LastIndex)).toEqual([3]);
  });

  it("discards deliveries of a deleted sink and refuses internal addresses at connection time", async () => {
    const { pipeline, receiver } = await setup({ WEBHOOK_ALLOWED_CIDRS: "" });
    const sink = await register(pipeline, receiver, "internal");
    const { value: deleted } = await pipeline.sinks.put({ ID: "deleted", Type: "webhook", Topics: { "*": ["*"] }, Address: receiver.url });
    await pipeline.sinks.delete(deleted.ID);
    await enqueue(pipeline, [deliveryMessage(sink.ID, detail(1)), deliveryMessage(deleted.ID, detail(1))]);
    pipeline.start();
    const log = new DynamoDeliveryLog({ tableName: pipeline.deliveriesTable, client: pipeline.dynamo });
    await until(async () => (await log.list(sink.ID, { limit: 5 })).attempts.length > 0);
    const { attempts } = await log.list(sink.ID, { limit: 5 });
    expect(attempts[0]!.Outcome).toBe("retrying");
    expect(attempts[0]!.Error).toMatch(/127\.0\.0\.1.*loopback/);
    expect(receiver.connections).toBe(0);
    await until(() => pipeline.metrics.total("DeliveriesDiscarded") === 1);
  });
});
