import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DeleteMessageBatchCommand, ReceiveMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { afterEach, describe, expect, it } from "vitest";
import { Deliverer, type QueuedMessage } from "../../shared/delivery/deliverer";
import { DynamoDeliveryLog, ensureDeliveriesTable } from "../../shared/delivery/delivery-log";
import { deliveryMessage, type DeliveryMessage } from "../../shared/delivery/delivery-message";
import { DEFAULT_RETRY_POLICY } from "../../shared/delivery/retry-policy";
import { SinkCache } from "../../shared/delivery/sink-cache";
import { DLQ_REASON_ATTRIBUTE, SqsDeliveryQueue } from "../../shared/delivery/sqs-delivery-queue";
import { AddressGuard } from "../../shared/delivery/ssrf-guard";
import { WebhookClient } from "../../shared/delivery/webhook-client";
import { sqsClient } from "../../shared/aws/sqs-client";
import { createLogger } from "../../shared/observability/logger";
import { CountingMetrics } from "../../shared/observability/metrics";
import { ensureSinksTable } from "../../shared/sinks/create-sinks-table";
import { DynamoSinkStore } from "../../shared/sinks/dynamo-sink-store";
import type { NomadBusDetail } from "../../shared/streamer/event-contract";
import { drainQueue, newDeliveryQueues } from "../support/delivery";
import { uniqueName } from "../support/names";
import { startWebhookReceiver, type WebhookReceiver } from "../support/webhook-receiver";

// The deliverer on real parts: DynamoDB Local (sinks, attempt log), fauxqs (FIFO queue and
// its dead-letter queue), a webhook server on 127.0.0.1. What it writes per batch is seen
// by counting the DynamoDB commands its client sends.

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function detail(index: number): NomadBusDetail {
  return { id: `${index}-job-${index}`, cluster: "test", frameIndex: index, event: { Topic: "Job", Type: "JobRegistered", Key: `job-${index}`, Namespace: "default", FilterKeys: null, Index: index, Payload: { Job: { ID: `job-${index}` } } } };
}

async function setup() {
  const dynamo = new DynamoDBClient({});
  const sent: string[] = [];
  dynamo.middlewareStack.add((next, context) => (args) => (sent.push(context.commandName ?? "?"), next(args)), { step: "initialize", name: "countCommands" });
  const sinksTable = uniqueName("sinks");
  const deliveriesTable = uniqueName("deliveries");
  await Promise.all([ensureSinksTable(dynamo, sinksTable), ensureDeliveriesTable(dynamo, deliveriesTable)]);
  const sqs: SQSClient = sqsClient();
  const queues = await newDeliveryQueues(sqs);
  const receiver = await startWebhookReceiver();
  const dispatcher = new AddressGuard({ allowedCidrs: ["127.0.0.0/8"] }).dispatcher({ connectTimeout: 2_000 });
  cleanups.push(async () => {
    await receiver.close();
    await dispatcher.destroy();
    sqs.destroy();
    dynamo.destroy();
  });
  const sinks = new DynamoSinkStore({ tableName: sinksTable, client: dynamo });
  const log = new DynamoDeliveryLog({ tableName: deliveriesTable, client: dynamo });
  const queue = new SqsDeliveryQueue({ queueUrl: queues.queueUrl, deadLetterQueueUrl: queues.dlqUrl, client: sqs });
  const logger = createLogger("deliverer-test");
  logger.setLogLevel("SILENT");
  const metrics = new CountingMetrics();
  const webhooks = new WebhookClient({ dispatcher, timeoutMs: 5_000, userAgent: "test" });
  const deliverer = (overrides: Partial<ConstructorParameters<typeof Deliverer>[0]> = {}) =>
    new Deliverer({ sinks, log, webhooks, queue, policy: DEFAULT_RETRY_POLICY, maxEventsPerRequest: 1, logger, metrics, ...overrides });

  async function register(id: string, path = "") {
    return (await sinks.put({ ID: id, Type: "webhook", Topics: { "*": ["*"] }, Address: `${receiver.url}${path}` })).value;
  }

  /** Queues one message per index for each sink, then receives them as one batch (as the event source hands it over). */
  async function batch(perSink: Record<string, number[]>, sinkIndexes: Record<string, number> = {}, redriven: readonly number[] = []): Promise<QueuedMessage[]> {
    const messages: DeliveryMessage[] = Object.entries(perSink).flatMap(([sinkId, indexes]) =>
      indexes.map((i) => ({ ...deliveryMessage(sinkId, detail(i)), ...(sinkIndexes[sinkId] !== undefined ? { sinkIndex: sinkIndexes[sinkId] } : {}), ...(redriven.includes(i) ? { redriven: true } : {}) })),
    );
    expect(messages.length).toBeLessThanOrEqual(10);
    const failed = await queue.sendBatch(messages.map((m, i) => ({ id: `m${i}`, body: JSON.stringify(m), groupId: m.sinkId, deduplicationId: m.deliveryId })));
    expect(failed).toEqual([]);
    const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queues.queueUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 60, MessageSystemAttributeNames: ["All"] }));
    expect(Messages).toHaveLength(messages.length);
    return Messages.map((m) => ({
      messageId: m.MessageId!,
      receiptHandle: m.ReceiptHandle!,
      groupId: m.Attributes!.MessageGroupId!,
      body: m.Body!,
      sentAt: Number(m.Attributes!.SentTimestamp),
      receiveCount: Number(m.Attributes!.ApproximateReceiveCount),
    }));
  }

  const idsOf = (messages: readonly QueuedMessage[], sinkId: string, indexes?: number[]) =>
    messages.filter((m) => m.groupId === sinkId && (indexes === undefined || indexes.includes((JSON.parse(m.body) as DeliveryMessage).detail.event.Index))).map((m) => m.messageId);

  return { dynamo, sent, sinksTable, deliveriesTable, sinks, log, queue, queues, sqs, receiver, metrics, webhooks, deliverer, register, batch, idsOf };
}

const indexesOf = (receiver: WebhookReceiver) => receiver.received.flatMap((r) => (JSON.parse(r.body) as { Events: Array<{ Index: number }> }).Events.map((e) => e.Index));

/**
 * The store as a copy in another process sees it: through the change version only (SinkStore's
 * onChange tells only this process's caches), so the writes a test makes leave the copy behind.
 */
function elsewhere(store: DynamoSinkStore): Pick<DynamoSinkStore, "list" | "changeVersion"> {
  return { list: () => store.list(), changeVersion: () => store.changeVersion() };
}

describe("Deliverer: one batch's writes", () => {
  it("records every POST with one BatchWriteItem and advances each sink's LatestIndex once, before handle() returns", async () => {
    const t = await setup();
    await Promise.all([t.register("a"), t.register("b")]);
    const messages = await t.batch({ a: [1, 2, 3, 4, 5, 6], b: [11, 12, 13, 14] });
    t.sent.length = 0;
    expect(await t.deliverer().handle(messages)).toEqual([]);
    // One POST per event, in each sink's order.
    expect(t.receiver.received).toHaveLength(10);
    expect(indexesOf(t.receiver).filter((i) => i < 10)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(indexesOf(t.receiver).filter((i) => i > 10)).toEqual([11, 12, 13, 14]);
    // Per batch: a sink lookup each, one batch write of the 10 records, one advance per sink; nothing per POST.
    expect([...t.sent].sort()).toEqual(["BatchWriteItemCommand", "GetItemCommand", "GetItemCommand", "UpdateItemCommand", "UpdateItemCommand"]);
    // Already written when handle() returned: no waiting.
    const a = (await t.log.list("a", { limit: 50 })).attempts;
    const b = (await t.log.list("b", { limit: 50 })).attempts;
    expect(a.map((x) => x.LastIndex).sort((x, y) => x - y)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(b.map((x) => x.LastIndex).sort((x, y) => x - y)).toEqual([11, 12, 13, 14]);
    for (const x of [...a, ...b]) expect(x).toMatchObject({ Outcome: "delivered", StatusCode: 200, Attempt: 1, Events: 1, Error: "", DeliveryID: expect.stringMatching(/^msg_[0-9a-f]{32}$/) });
    expect(new Set([...a, ...b].map((x) => x.DeliveryID)).size).toBe(10);
    expect((await t.sinks.get("a")).value?.LatestIndex).toBe(6);
    expect((await t.sinks.get("b")).value?.LatestIndex).toBe(14);
    expect(t.metrics.total("Delivered")).toBe(10);
  });

  it("coalesced POSTs get one record each, written together", async () => {
    const t = await setup();
    await t.register("a");
    const messages = await t.batch({ a: [1, 2, 3, 4, 5, 6, 7] });
    t.sent.length = 0;
    expect(await t.deliverer({ maxEventsPerRequest: 3 }).handle(messages)).toEqual([]);
    expect(t.receiver.received).toHaveLength(3);
    expect(t.sent.filter((c) => c !== "GetItemCommand").sort()).toEqual(["BatchWriteItemCommand", "UpdateItemCommand"]);
    const { attempts } = await t.log.list("a", { limit: 50 });
    expect(attempts.map((x) => [x.FirstIndex, x.LastIndex, x.Events]).sort((x, y) => x[0]! - y[0]!)).toEqual([
      [1, 3, 3],
      [4, 6, 3],
      [7, 7, 1],
    ]);
    expect((await t.sinks.get("a")).value?.LatestIndex).toBe(7);
  });

  it("never coalesces redriven deliveries with others: each POST is all redriven or none", async () => {
    // A redrive queues a sink's dead letters behind what is already waiting: older events
    // after newer ones. Each such run goes out on its own.
    const t = await setup();
    await t.register("a");
    const messages = await t.batch({ a: [20, 21, 5, 6, 22, 7] }, {}, [5, 6, 7]);
    expect(await t.deliverer({ maxEventsPerRequest: 10 }).handle(messages)).toEqual([]);
    expect(t.receiver.received.map((r) => (JSON.parse(r.body) as { Events: Array<{ Index: number }> }).Events.map((e) => e.Index))).toEqual([[20, 21], [5, 6], [22], [7]]);
    expect((await t.sinks.get("a")).value?.LatestIndex).toBe(22);
  });

  it("never moves LatestIndex back", async () => {
    const t = await setup();
    await t.register("a");
    await t.sinks.advanceLatestIndex("a", 100);
    const messages = await t.batch({ a: [7, 8, 9] });
    expect(await t.deliverer().handle(messages)).toEqual([]);
    expect(t.receiver.received).toHaveLength(3);
    expect((await t.sinks.get("a")).value?.LatestIndex).toBe(100);
    expect((await t.log.list("a", { limit: 10 })).attempts).toHaveLength(3);
  });

  it("writes a failed POST's pending request at once and its record with the batch's; the sink's later messages wait", async () => {
    const t = await setup();
    await t.register("a");
    t.receiver.setReply((r) => (r.body.includes('"Index":3,') ? { status: 500, body: "not now" } : { status: 204 }));
    const messages = await t.batch({ a: [1, 2, 3, 4, 5] });
    t.sent.length = 0;
    const failed = await t.deliverer().handle(messages);
    expect(failed).toEqual(t.idsOf(messages, "a", [3, 4, 5]));
    expect(indexesOf(t.receiver)).toEqual([1, 2, 3]);
    expect(t.sent.filter((c) => c !== "GetItemCommand").sort()).toEqual(["BatchWriteItemCommand", "PutItemCommand", "UpdateItemCommand"]);
    const { attempts } = await t.log.list("a", { limit: 10 });
    const byIndex = new Map(attempts.map((x) => [x.LastIndex, x]));
    expect([...byIndex.keys()].sort()).toEqual([1, 2, 3]);
    expect(byIndex.get(1)).toMatchObject({ Outcome: "delivered" });
    expect(byIndex.get(2)).toMatchObject({ Outcome: "delivered" });
    const retry = byIndex.get(3)!;
    expect(retry).toMatchObject({ Outcome: "retrying", StatusCode: 500, Error: "HTTP 500: not now", Attempt: 1 });
    expect(retry.NextAttemptAt).toBeGreaterThanOrEqual(retry.At + 1_000);
    const third = JSON.parse(messages.find((m) => m.messageId === failed[0])!.body) as DeliveryMessage;
    expect(await t.log.pending("a", third.deliveryId)).toMatchObject({ Members: [third.deliveryId], Attempts: 1, LastError: "HTTP 500: not now" });
    expect((await t.sinks.get("a")).value?.LatestIndex).toBe(2);
  });

  it("dead-letters a disabled sink's messages and those after a 410, recording each with the batch", async () => {
    const t = await setup();
    await Promise.all([t.register("off"), t.register("gone")]);
    await t.sinks.disable("off", "turned off by hand");
    t.receiver.setReply(() => ({ status: 410, body: "unsubscribed" }));
    const messages = await t.batch({ off: [1, 2], gone: [5, 6, 7] });
    expect(await t.deliverer().handle(messages)).toEqual([]);
    expect(indexesOf(t.receiver)).toEqual([5]);
    const off = (await t.log.list("off", { limit: 10 })).attempts;
    expect(off.map((x) => [x.LastIndex, x.Outcome, x.Attempt]).sort()).toEqual([
      [1, "dead-lettered", 0],
      [2, "dead-lettered", 0],
    ]);
    expect(off.every((x) => x.Error === "the sink is disabled: turned off by hand")).toBe(true);
    const gone = (await t.log.list("gone", { limit: 10 })).attempts;
    expect(gone.map((x) => [x.LastIndex, x.Outcome, x.Attempt, x.StatusCode]).sort()).toEqual([
      [5, "disabled", 1, 410],
      [6, "dead-lettered", 0, 0],
      [7, "dead-lettered", 0, 0],
    ]);
    expect((await t.sinks.get("gone")).value?.Disabled?.Reason).toMatch(/410 Gone.*unsubscribed/);
    expect((await t.sinks.get("gone")).value?.LatestIndex).toBe(0);
    const dead = await drainQueue(t.sqs, t.queues.dlqUrl);
    expect(dead.map((d) => `${d.groupId}:${(JSON.parse(d.body) as DeliveryMessage).detail.frameIndex}`).sort()).toEqual(["gone:5", "gone:6", "gone:7", "off:1", "off:2"]);
    expect(dead.every((d) => (d.attributes[DLQ_REASON_ATTRIBUTE] ?? "") !== "")).toBe(true);
  });

  it("reports a sink's messages as not done when its LatestIndex cannot be advanced, and only that sink's", async () => {
    const t = await setup();
    await Promise.all([t.register("a"), t.register("b")]);
    // b's advance goes to a table that does not exist: a real DynamoDB failure.
    const missing = new DynamoSinkStore({ tableName: uniqueName("missing"), client: t.dynamo });
    const sinks = { find: (id: string) => t.sinks.find(id), disable: t.sinks.disable.bind(t.sinks), advanceLatestIndex: (id: string, index: number) => (id === "b" ? missing : t.sinks).advanceLatestIndex(id, index) };
    const messages = await t.batch({ a: [1, 2], b: [3, 4] });
    const failed = await t.deliverer({ sinks }).handle(messages);
    expect(failed).toEqual(t.idsOf(messages, "b"));
    expect((await t.sinks.get("a")).value?.LatestIndex).toBe(2);
    expect((await t.sinks.get("b")).value?.LatestIndex).toBe(0);
    // Its records were written all the same.
    expect((await t.log.list("b", { limit: 10 })).attempts).toHaveLength(2);
  });

  it("reports every message of the batch's sinks as not done when the records cannot be written; delivered again, they are", async () => {
    const t = await setup();
    await Promise.all([t.register("a"), t.register("b")]);
    const broken = new DynamoDeliveryLog({ tableName: uniqueName("missing"), client: t.dynamo });
    const messages = await t.batch({ a: [1, 2, 3], b: [4] });
    const failed = await t.deliverer({ log: broken }).handle(messages);
    expect([...failed].sort()).toEqual(messages.map((m) => m.messageId).sort());
    // Their POSTs were made; the messages stay on the queue and are delivered again (same bodies, same webhook-ids).
    expect(t.receiver.received).toHaveLength(4);
    expect(await t.deliverer().handle(messages)).toEqual([]);
    expect(t.receiver.received).toHaveLength(8);
    const ids = (from: number) => t.receiver.received.slice(from, from + 4).map((r) => `${String(r.headers["webhook-id"])} ${r.body}`).sort();
    expect(ids(4)).toEqual(ids(0));
    expect((await t.log.list("a", { limit: 10 })).attempts).toHaveLength(3);
    expect((await t.log.list("b", { limit: 10 })).attempts).toHaveLength(1);
  });

  it("with a sink directory, finds every sink of a batch without a read of its own, and applies changes once the check interval has passed", async () => {
    const t = await setup();
    await Promise.all([t.register("a"), t.register("b"), t.register("c")]);
    let clock = Date.now();
    const directory = t.deliverer({ directory: new SinkCache(elsewhere(t.sinks), { ttlMs: 600_000, checkEveryMs: 1_000, now: () => clock }) });
    // As the event source does: the batch's messages are deleted once handled, so the groups move on.
    const deliverer = {
      handle: async (messages: QueuedMessage[]) => {
        const failed = await directory.handle(messages);
        await t.sqs.send(new DeleteMessageBatchCommand({ QueueUrl: t.queues.queueUrl, Entries: messages.map((m, i) => ({ Id: `d${i}`, ReceiptHandle: m.receiptHandle })) }));
        return failed;
      },
    };
    // The first batch loads the directory (version, then a Scan); the next ones within the check interval read nothing.
    expect(await deliverer.handle(await t.batch({ a: [1], b: [2], c: [3] }))).toEqual([]);
    t.sent.length = 0;
    clock += 999;
    expect(await deliverer.handle(await t.batch({ a: [4, 5], b: [6], c: [7] }))).toEqual([]);
    expect([...t.sent].sort()).toEqual(["BatchWriteItemCommand", "UpdateItemCommand", "UpdateItemCommand", "UpdateItemCommand"]);
    expect(indexesOf(t.receiver).sort((x, y) => x - y)).toEqual([1, 2, 3, 4, 5, 6, 7]);

    // A rotated secret and a disabled sink apply once the interval has passed: one version read sees them, and a Scan reloads.
    const rotated = (await t.sinks.rotateSecret("a")).value;
    await t.sinks.disable("b", "turned off by hand");
    t.sent.length = 0;
    clock += 1;
    expect(await deliverer.handle(await t.batch({ a: [8], b: [9] }))).toEqual([]);
    expect(t.sent).toContain("GetItemCommand");
    expect(t.sent).toContain("ScanCommand");
    const last = t.receiver.received.at(-1)!;
    expect(indexesOf(t.receiver).at(-1)).toBe(8);
    expect(String(last.headers["webhook-signature"]).split(" ")).toHaveLength(2);
    expect(rotated.PreviousSecrets?.length ?? 0).toBeGreaterThan(0);
    const b = (await t.log.list("b", { limit: 10 })).attempts.find((x) => x.LastIndex === 9);
    expect(b).toMatchObject({ Outcome: "dead-lettered", Error: "the sink is disabled: turned off by hand" });
  });

  it("after a 410, treats the sink as disabled from the next batch however long the check interval; a deleted sink's 410 never disables its successor", async () => {
    const t = await setup();
    t.receiver.setReply((request) => (request.url.includes("/gone") ? { status: 410 } : { status: 200 }));
    await Promise.all([t.register("a", "/gone"), t.register("x", "/gone-old")]);
    // As the event source does: the batch's messages are deleted once handled, so the groups move on.
    const handling = (inner: Deliverer) => ({
      handle: async (messages: QueuedMessage[]) => {
        const failed = await inner.handle(messages);
        await t.sqs.send(new DeleteMessageBatchCommand({ QueueUrl: t.queues.queueUrl, Entries: messages.map((m, i) => ({ Id: `d${i}`, ReceiptHandle: m.receiptHandle })) }));
        return failed;
      },
    });
    // The deliverer's own disable reaches its copy of the sinks (the store tells this process's caches).
    const directory = handling(t.deliverer({ directory: new SinkCache(t.sinks, { ttlMs: 600_000, checkEveryMs: 600_000 }) }));
    expect(await directory.handle(await t.batch({ a: [1] }))).toEqual([]);
    expect((await t.sinks.get("a")).value?.Disabled?.Reason).toMatch(/410 Gone/);
    // The next batch, well within the check interval: no request, dead-lettered as disabled.
    const sentBefore = t.receiver.received.length;
    expect(await directory.handle(await t.batch({ a: [2] }))).toEqual([]);
    expect(t.receiver.received.length).toBe(sentBefore);
    expect((await t.log.list("a", { limit: 10 })).attempts.find((x) => x.LastIndex === 2)).toMatchObject({ Outcome: "dead-lettered", Error: expect.stringMatching(/^the sink is disabled: the webhook answered 410 Gone/) });

    // x is deleted and registered again, by someone else (another process: this copy hears of it only through the
    // change version), at another address; the directory still holds the old x, whose queued message is posted to
    // the old address, which answers 410.
    const behind = new SinkCache(elsewhere(t.sinks), { ttlMs: 600_000, checkEveryMs: 600_000 });
    await behind.sinksById();
    const stale = handling(t.deliverer({ directory: behind }));
    const old = (await t.sinks.get("x")).value!;
    await t.sinks.delete("x");
    const successor = await t.register("x", "/new");
    expect(await stale.handle(await t.batch({ x: [3] }, { x: old.CreateIndex }))).toEqual([]);
    expect(t.receiver.received.at(-1)?.url).toMatch(/\/gone-old$/);
    expect((await t.sinks.get("x")).value).toMatchObject({ CreateIndex: successor.CreateIndex, Address: `${t.receiver.url}/new` });
    expect((await t.sinks.get("x")).value?.Disabled).toBeUndefined();
  });

  it("never loses a delivery to a directory that is behind: a sink registered, enabled again or registered again since it loaded is read on its own", async () => {
    const t = await setup();
    await Promise.all([t.register("a"), t.register("b"), t.register("c")]);
    await t.sinks.disable("b", "turned off by hand");
    const directory = t.deliverer({ directory: new SinkCache(elsewhere(t.sinks), { ttlMs: 600_000, checkEveryMs: 600_000 }) });
    expect(await directory.handle(await t.batch({ a: [1] }))).toEqual([]);

    // Since the directory loaded: d is new, b is enabled again (registering it again does that), c is deleted and registered again.
    await t.register("d");
    await t.register("b");
    await t.sinks.delete("c");
    const c = await t.register("c");
    expect(await directory.handle(await t.batch({ b: [2], c: [3], d: [4] }, { c: c.CreateIndex }))).toEqual([]);
    expect(indexesOf(t.receiver).sort((x, y) => x - y)).toEqual([1, 2, 3, 4]);
    expect(t.metrics.total("DeliveriesDiscarded")).toBe(0);
    expect((await t.sinks.get("c")).value?.LatestIndex).toBe(3);
    expect((await t.log.list("b", { limit: 10 })).attempts.map((x) => x.Outcome)).toEqual(["delivered"]);
  });

  it("with a sink directory that cannot answer, reads each sink of the batch itself and still delivers", async () => {
    const t = await setup();
    await Promise.all([t.register("a"), t.register("b")]);
    const broken = new SinkCache({ list: () => Promise.reject(new Error("table is gone")), changeVersion: () => Promise.reject(new Error("table is gone")) });
    t.sent.length = 0;
    expect(await t.deliverer({ directory: broken }).handle(await t.batch({ a: [1], b: [2] }))).toEqual([]);
    expect(indexesOf(t.receiver).sort()).toEqual([1, 2]);
    expect(t.sent.filter((c) => c === "GetItemCommand")).toHaveLength(2);
  });
});
