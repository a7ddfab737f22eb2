import { withReplayName } from "../../infra/local/eventbridge/accepted-event";
import { randomUUID } from "node:crypto";
import { sqsClient } from "../../shared/aws/sqs-client";
import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { DeleteMessageCommand, ReceiveMessageCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import type { Logger } from "@aws-lambda-powertools/logger";
import type { SQSEvent, SQSRecord } from "aws-lambda";
import { afterEach, describe, expect, it, vi } from "vitest";
import { fanoutFromEnv } from "../../functions/fanout/app";
import { deliveryId, DeliveryMessageSchema, type DeliveryMessage } from "../../shared/delivery/delivery-message";
import { Fanout, type DeliveryQueueWriter, type OutgoingMessage } from "../../shared/delivery/fanout";
import { SinkCache } from "../../shared/delivery/sink-cache";
import { SqsDeliveryQueue } from "../../shared/delivery/sqs-delivery-queue";
import { createLogger } from "../../shared/observability/logger";
import { CountingMetrics } from "../../shared/observability/metrics";
import { ensureSinksTable } from "../../shared/sinks/create-sinks-table";
import { DynamoSinkStore } from "../../shared/sinks/dynamo-sink-store";
import { DynamoTokenStore } from "../../shared/tokens/dynamo-token-store";
import { DynamoReplayStore } from "../../shared/replay/dynamo-replay-store";
import { newTokenIds } from "../../shared/tokens/token";
import { gapMarker, type NomadBusDetail } from "../../shared/streamer/event-contract";
import { S3PayloadStore } from "../../shared/streamer/payload-store";
import { newDeliveryQueues } from "../support/delivery";
import { uniqueName } from "../support/names";

const ACCOUNT = "123456789012";
const REGION = "us-east-1";

function busDetail(index: number, key: string, options: { topic?: string; filterKeys?: string[]; payload?: Record<string, unknown>; cluster?: string } = {}): NomadBusDetail {
  const topic = options.topic ?? "Job";
  return {
    id: `${index}-${topic}-${key}`,
    cluster: options.cluster ?? "test",
    frameIndex: index,
    event: {
      Topic: topic,
      Type: topic === "Job" ? "JobRegistered" : `${topic}Updated`,
      Key: key,
      Namespace: "default",
      FilterKeys: options.filterKeys ?? null,
      Index: index,
      Payload: options.payload ?? { [topic]: { ID: key } },
    },
  };
}

/** The body an EventBridge rule's SQS target writes: the whole event, `detail` as an object. */
function eventBridgeBody(detail: NomadBusDetail): string {
  return JSON.stringify({
    version: "0",
    id: randomUUID(),
    "detail-type": detail.event.Topic,
    source: "nomad",
    account: ACCOUNT,
    time: new Date().toISOString().replace(/\.\d{3}Z$/, "Z"),
    region: REGION,
    resources: [],
    detail,
  });
}

/** One SQS record of the ingest queue, as Lambda's event source mapping hands it over. */
function ingestRecord(body: string, messageId: string = randomUUID()): SQSRecord {
  const now = String(Date.now());
  return {
    messageId,
    receiptHandle: `rh-${messageId}`,
    body,
    attributes: { ApproximateReceiveCount: "1", SentTimestamp: now, SenderId: "AIDAEVENTBRIDGE", ApproximateFirstReceiveTimestamp: now },
    messageAttributes: {},
    md5OfBody: "",
    eventSource: "aws:sqs",
    eventSourceARN: `arn:aws:sqs:${REGION}:${ACCOUNT}:ingest`,
    awsRegion: REGION,
  };
}

const recordOf = (detail: NomadBusDetail, messageId?: string) => ingestRecord(eventBridgeBody(detail), messageId);
const sqsEvent = (...records: SQSRecord[]): SQSEvent => ({ Records: records });

interface Queued {
  readonly message: DeliveryMessage;
  readonly groupId: string | undefined;
  readonly deduplicationId: string | undefined;
  readonly sequence: bigint;
}

/** Takes every message out of the FIFO queue (received and deleted), each sink's in queue order. */
async function drain(sqs: SQSClient, queueUrl: string): Promise<Queued[]> {
  const seen: Queued[] = [];
  for (;;) {
    const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, VisibilityTimeout: 30, MessageSystemAttributeNames: ["All"] }));
    if (Messages.length === 0) return seen.sort((a, b) => (a.sequence < b.sequence ? -1 : a.sequence > b.sequence ? 1 : 0));
    for (const m of Messages) {
      seen.push({
        // Every queued body is a valid DeliveryMessage.
        message: DeliveryMessageSchema.parse(JSON.parse(m.Body ?? "")),
        groupId: m.Attributes?.MessageGroupId,
        deduplicationId: m.Attributes?.MessageDeduplicationId,
        sequence: BigInt(m.Attributes?.SequenceNumber ?? "0"),
      });
      await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle }));
    }
  }
}

/** Frame indexes queued for one sink, in queue order. */
function indexesFor(queued: readonly Queued[], sinkId: string): number[] {
  return queued.filter((q) => q.groupId === sinkId).map((q) => q.message.detail.frameIndex);
}

const cleanups: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function silentLogger(): { logger: Logger; errors: ReturnType<typeof vi.fn> } {
  const logger = createLogger("fanout-test");
  logger.setLogLevel("SILENT");
  const errors = vi.fn();
  vi.spyOn(logger, "error").mockImplementation((...args: unknown[]) => {
    errors(...args);
  });
  return { logger, errors };
}

/** Every error the logger was given, flattened to one string each (message and fields). */
function loggedErrors(errors: ReturnType<typeof vi.fn>): string[] {
  return errors.mock.calls.map((args) => args.map((a) => (typeof a === "string" ? a : JSON.stringify(a))).join(" "));
}

async function setup(env: Record<string, string> = {}) {
  const dynamo = new DynamoDBClient({});
  const sqs = sqsClient();
  cleanups.push(() => {
    sqs.destroy();
    dynamo.destroy();
  });
  const sinksTable = uniqueName("sinks");
  await ensureSinksTable(dynamo, sinksTable);
  const queues = await newDeliveryQueues(sqs);
  const store = new DynamoSinkStore({ tableName: sinksTable, client: dynamo });
  const { logger, errors } = silentLogger();
  const metrics = new CountingMetrics();
  const handler = fanoutFromEnv({ ...process.env, SINKS_TABLE: sinksTable, DELIVERY_QUEUE_URL: queues.queueUrl, ...env }, logger, metrics);
  return { dynamo, sqs, sinksTable, queues, store, logger, errors, metrics, handler };
}

type Setup = Awaited<ReturnType<typeof setup>>;

async function register(store: DynamoSinkStore, id: string, topics: Record<string, string[]>) {
  return (await store.put({ ID: id, Type: "webhook", Topics: topics, Address: `https://hooks.example.com/${id}` })).value;
}

describe("fanout: ingest queue → FIFO delivery queue (fanoutFromEnv)", () => {
  it("matches each sink's Topics with Nomad's semantics, one message per (sink, event), grouped by sink, in index order", async () => {
    const { store, handler, sqs, queues, metrics } = await setup();
    await register(store, "web-jobs", { Job: ["web"] });
    await register(store, "everything", { "*": ["*"] });
    await register(store, "off", { "*": ["*"] });
    await register(store, "node-filter", { Allocation: ["node-1"], Node: ["*"] });
    expect(await store.disable("off", "410 Gone")).toBe(true);

    const events = [
      busDetail(7, "web"), // Job keyed web
      busDetail(3, "api"), // Job keyed api
      busDetail(5, "other", { filterKeys: ["web"] }), // Job with FilterKey web
      busDetail(4, "web", { topic: "Allocation", filterKeys: ["node-1"] }), // not a Job, though keyed web
      busDetail(6, "node-1", { topic: "Node" }),
      busDetail(2, "WEB"), // keys are case-sensitive
    ];
    // The records come out of index order within the batch.
    const records = events.map((d) => recordOf(d));
    const response = await handler(sqsEvent(...records));
    expect(response.batchItemFailures).toEqual([]);

    const queued = await drain(sqs, queues.queueUrl);
    expect(indexesFor(queued, "web-jobs")).toEqual([5, 7]);
    expect(indexesFor(queued, "everything")).toEqual([2, 3, 4, 5, 6, 7]);
    expect(indexesFor(queued, "node-filter")).toEqual([4, 6]);
    expect(indexesFor(queued, "off")).toEqual([]);
    expect(queued).toHaveLength(10);
    for (const q of queued) {
      // MessageGroupId = sink ID; body = the DeliveryMessage; deduplication ID = delivery ID.
      expect(q.groupId).toBe(q.message.sinkId);
      expect(q.message.deliveryId).toBe(deliveryId(q.message.sinkId, q.message.detail.id));
      expect(q.deduplicationId).toBe(q.message.deliveryId);
      const original = events.find((e) => e.id === q.message.detail.id);
      expect(q.message.detail).toEqual(original);
      expect(q.message.redriven).toBeUndefined();
    }
    expect(metrics.total("FanoutEvents")).toBe(6);
    expect(metrics.total("FanoutMessagesQueued")).toBe(10);
    expect(metrics.total("FanoutFailedRecords")).toBe(0);
    // Each message names its sink's incarnation (CreateIndex), so a later sink of the same ID never gets it.
    for (const q of queued) expect(q.message.sinkIndex).toBe((await store.find(q.message.sinkId))!.CreateIndex);
  });

  it("keeps one sink's messages in index order across more than one SendMessageBatch", async () => {
    const { store, handler, sqs, queues } = await setup();
    await register(store, "a", { "*": ["*"] });
    await register(store, "b", { Job: ["*"] });
    const indexes = Array.from({ length: 10 }, (_, i) => 100 + i);
    const shuffled = [...indexes].reverse();
    shuffled.splice(3, 0, ...shuffled.splice(7, 2));
    const response = await handler(sqsEvent(...shuffled.map((i) => recordOf(busDetail(i, `job-${i}`)))));
    expect(response.batchItemFailures).toEqual([]);
    const queued = await drain(sqs, queues.queueUrl);
    expect(indexesFor(queued, "a")).toEqual(indexes);
    expect(indexesFor(queued, "b")).toEqual(indexes);
  });

  it("sends a gap marker to every enabled sink, whatever its Topics", async () => {
    const { store, handler, sqs, queues } = await setup();
    await register(store, "jobs-web", { Job: ["web"] });
    await register(store, "deployments", { Deployment: ["*"] });
    await register(store, "gone", { "*": ["*"] });
    await store.disable("gone", "410 Gone");
    const gap = gapMarker("test", 10, 20, "checkpoint index no longer in Nomad's buffer");
    const response = await handler(sqsEvent(recordOf(gap)));
    expect(response.batchItemFailures).toEqual([]);
    const queued = await drain(sqs, queues.queueUrl);
    expect(queued.map((q) => q.groupId).sort()).toEqual(["deployments", "jobs-web"]);
    for (const q of queued) expect(q.message.detail).toEqual(gap);
  });

  it("queues a re-sent event only once per sink (deduplication ID = delivery ID)", async () => {
    const { store, handler, sqs, queues } = await setup();
    await register(store, "a", { "*": ["*"] });
    await register(store, "b", { Job: ["web"] });
    const first = recordOf(busDetail(1, "web"));
    expect((await handler(sqsEvent(first))).batchItemFailures).toEqual([]);
    // The same event again: SQS redelivering the record, and the streamer re-sending it (another envelope).
    expect((await handler(sqsEvent(first))).batchItemFailures).toEqual([]);
    expect((await handler(sqsEvent(recordOf(busDetail(1, "web")), recordOf(busDetail(2, "web"))))).batchItemFailures).toEqual([]);
    const queued = await drain(sqs, queues.queueUrl);
    expect(indexesFor(queued, "a")).toEqual([1, 2]);
    expect(indexesFor(queued, "b")).toEqual([1, 2]);
  });

  it("sends to a new sink from the next batch, and stops sending to a sink disabled by a delivery from the next batch, within the cache's TTL", async () => {
    const { store, handler, sqs, queues } = await setup({ SINK_CACHE_SECONDS: "1" });
    await register(store, "early", { "*": ["*"] });
    expect(await handler(sqsEvent(recordOf(busDetail(1, "web"))))).toEqual({ batchItemFailures: [] });
    await register(store, "late", { "*": ["*"] });
    // Within the TTL, but the registration moved the table's index: the new sink is seen at once.
    expect(await handler(sqsEvent(recordOf(busDetail(2, "web"))))).toEqual({ batchItemFailures: [] });
    let queued = await drain(sqs, queues.queueUrl);
    expect(indexesFor(queued, "early")).toEqual([1, 2]);
    expect(indexesFor(queued, "late")).toEqual([2]);
    // A delivery's 410 disables the sink; it moves the change version, so the cached list is reloaded at once.
    expect(await store.disable("late", "410 Gone")).toBe(true);
    expect(await handler(sqsEvent(recordOf(busDetail(3, "web"))))).toEqual({ batchItemFailures: [] });
    queued = await drain(sqs, queues.queueUrl);
    expect(indexesFor(queued, "early")).toEqual([3]);
    expect(indexesFor(queued, "late")).toEqual([]);
  });

  it("reports malformed records as failed, sends nothing for them, and still fans out the good ones", async () => {
    const { store, handler, sqs, queues, errors, metrics } = await setup();
    await register(store, "a", { "*": ["*"] });
    const notJson = ingestRecord("{not json", "bad-json");
    const noDetail = ingestRecord(JSON.stringify({ version: "0", "detail-type": "Job", source: "nomad" }), "no-detail");
    const badDetail = busDetail(9, "web") as unknown as { frameIndex: unknown };
    badDetail.frameIndex = "nine";
    const badSchema = ingestRecord(JSON.stringify({ version: "0", source: "nomad", "detail-type": "Job", detail: badDetail }), "bad-schema");
    const nullJson = ingestRecord("null", "null-json");
    const good1 = recordOf(busDetail(1, "web"), "good-1");
    const good2 = recordOf(busDetail(2, "web"), "good-2");

    const response = await handler(sqsEvent(notJson, good1, noDetail, badSchema, nullJson, good2));
    expect(response.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual(["bad-json", "bad-schema", "no-detail", "null-json"]);
    const queued = await drain(sqs, queues.queueUrl);
    expect(indexesFor(queued, "a")).toEqual([1, 2]);

    const logged = loggedErrors(errors);
    expect(logged).toHaveLength(4);
    expect(logged.find((l) => l.includes("bad-json"))).toMatch(/not JSON/);
    expect(logged.find((l) => l.includes("no-detail"))).toMatch(/no \\?"detail\\?"/);
    expect(logged.find((l) => l.includes("bad-schema"))).toMatch(/frameIndex/);
    expect(logged.find((l) => l.includes("null-json"))).toMatch(/not an EventBridge event/);
    expect(metrics.total("FanoutMalformed")).toBe(4);
    expect(metrics.total("FanoutFailedRecords")).toBe(4);
    expect(metrics.total("FanoutEvents")).toBe(2);
    expect(metrics.total("FanoutMessagesQueued")).toBe(2);
  });

  it("stores a payload too large for SQS in S3 and queues the reference", async () => {
    const s3 = new S3Client({ forcePathStyle: true });
    cleanups.push(() => s3.destroy());
    const bucket = uniqueName("payloads");
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const { store, handler, sqs, queues } = await setup({ SQS_MAX_MESSAGE_BYTES: "4096", PAYLOAD_BUCKET: bucket, S3_FORCE_PATH_STYLE: "true" });
    await register(store, "a", { "*": ["*"] });
    await register(store, "b", { Job: ["big"] });
    const payload = { Job: { ID: "big", Meta: { blob: "x".repeat(10_000) } } };
    const big = busDetail(2, "big", { payload });
    const response = await handler(sqsEvent(recordOf(big), recordOf(busDetail(1, "small"))));
    expect(response.batchItemFailures).toEqual([]);
    const queued = await drain(sqs, queues.queueUrl);
    expect(indexesFor(queued, "a")).toEqual([1, 2]);
    expect(indexesFor(queued, "b")).toEqual([2]);
    const small = queued.find((q) => q.message.detail.frameIndex === 1)!;
    expect(small.message.detail.payloadRef).toBeUndefined();
    expect(small.message.detail.event.Payload).toEqual({ Job: { ID: "small" } });
    const payloads = new S3PayloadStore({ bucket, client: s3 });
    for (const q of queued.filter((q) => q.message.detail.frameIndex === 2)) {
      expect(q.message.detail.event.Payload).toBeNull();
      expect(q.message.detail.event).toMatchObject({ Topic: "Job", Key: "big", Index: 2 });
      expect(q.message.detail.payloadRef).toMatchObject({ bucket, bytes: JSON.stringify(payload).length });
      expect(q.message.detail.id).toBe(big.id);
      expect(await payloads.fetch(q.message.detail.payloadRef!)).toEqual(payload);
    }
  });

  it("fails a too-large event without PAYLOAD_BUCKET, naming the variable, and holds its sinks' later events", async () => {
    const { store, handler, sqs, queues, errors } = await setup({ SQS_MAX_MESSAGE_BYTES: "4096" });
    await register(store, "a", { Job: ["*"] });
    await register(store, "b", { Node: ["*"] });
    const big = recordOf(busDetail(1, "big", { payload: { blob: "x".repeat(10_000) } }), "big");
    const later = recordOf(busDetail(2, "web"), "later");
    const node = recordOf(busDetail(3, "node-1", { topic: "Node" }), "node");
    const response = await handler(sqsEvent(later, big, node));
    // "later" may not reach sink a before the failed event 1 does.
    expect(response.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual(["big", "later"]);
    const queued = await drain(sqs, queues.queueUrl);
    expect(indexesFor(queued, "a")).toEqual([]);
    expect(indexesFor(queued, "b")).toEqual([3]);
    const logged = loggedErrors(errors).filter((l) => l.includes('"messageId":"big"'));
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatch(/PAYLOAD_BUCKET/);
    expect(logged[0]).toMatch(/4096/);
  });
});

/** A queue writer over the real SQS queue that fails chosen entries (before they reach SQS). */
class FlakyQueue implements DeliveryQueueWriter {
  readonly calls: OutgoingMessage[][] = [];
  private readonly failures = new Map<string, number>();

  constructor(
    private readonly real: SqsDeliveryQueue,
    /** How many times to fail an entry (by its message); Infinity for always. */
    private readonly failTimes: (message: DeliveryMessage) => number,
  ) {}

  async sendBatch(messages: readonly OutgoingMessage[]): Promise<Array<{ id: string; error: string }>> {
    this.calls.push([...messages]);
    const failed: Array<{ id: string; error: string }> = [];
    const pass: OutgoingMessage[] = [];
    for (const m of messages) {
      const message = DeliveryMessageSchema.parse(JSON.parse(m.body));
      const n = (this.failures.get(m.deduplicationId) ?? 0) + 1;
      if (n <= this.failTimes(message)) {
        this.failures.set(m.deduplicationId, n);
        failed.push({ id: m.id, error: `InternalError: injected failure ${n} of ${message.sinkId}/${message.detail.frameIndex}` });
      } else pass.push(m);
    }
    const real = pass.length > 0 ? await this.real.sendBatch(pass) : [];
    return [...failed, ...real];
  }

  attempts(sinkId: string, frameIndex: number): number {
    return this.calls.flat().filter((m) => {
      const message = JSON.parse(m.body) as DeliveryMessage;
      return message.sinkId === sinkId && message.detail.frameIndex === frameIndex;
    }).length;
  }
}

async function directFanout(base: Setup, failTimes: (message: DeliveryMessage) => number, options: { offload?: (detail: NomadBusDetail) => Promise<NomadBusDetail>; maxMessageBytes?: number } = {}) {
  const real = new SqsDeliveryQueue({ queueUrl: base.queues.queueUrl, client: base.sqs });
  const queue = new FlakyQueue(real, failTimes);
  const metrics = new CountingMetrics();
  const fanout = new Fanout({ sinks: new SinkCache(base.store, { ttlMs: 0 }), queue, logger: base.logger, metrics, sendAttempts: 4, retryBaseMs: 5, ...options });
  const handle = (...records: SQSRecord[]) => fanout.handle(records.map((r) => ({ messageId: r.messageId, body: r.body })));
  return { fanout, queue, metrics, handle };
}

describe("fanout: team scope, enforced on every event", () => {
  const namespaced = (index: number, namespace: string, topic = "Job") => {
    const detail = busDetail(index, `${topic}-${index}`, { topic });
    return { ...detail, event: { ...detail.event, Namespace: namespace } };
  };
  const clusterWide = (index: number, topic: string) => {
    const detail = busDetail(index, `${topic}-${index}`, { topic });
    return { ...detail, event: { ...detail.event, Namespace: "" } };
  };

  async function teams() {
    const base = await setup();
    const tokens = new DynamoTokenStore({ tableName: base.sinksTable, client: base.dynamo });
    const grant = (team: string, namespaces: string[], clusterTopics = false, ExpiresAt?: number) =>
      tokens.create({ Name: team, Type: "team", Team: team, Namespaces: namespaces, ClusterTopics: clusterTopics, ...(ExpiresAt !== undefined ? { ExpiresAt } : {}) }, newTokenIds(), Date.now());
    const sink = (id: string, topics: Record<string, string[]>, extra: { Team?: string; Namespaces?: string[] } = {}) =>
      base.store.put({ ID: id, Type: "webhook", Topics: topics, Address: `https://hooks.example.com/${id}`, ...extra });
    return { ...base, tokens, grant, sink };
  }

  it("delivers a team's sink only the events of its team's namespaces, intersected with its own filter; never ACL topics", async () => {
    const { handler, sqs, queues, grant, sink } = await teams();
    await grant("a", ["web", "api"]);
    await grant("b", ["batch"], true);
    await sink("a-all", { "*": ["*"] }, { Team: "a" });
    await sink("a-api", { "*": ["*"] }, { Team: "a", Namespaces: ["api", "batch"] });
    await sink("b-all", { "*": ["*"] }, { Team: "b" });
    await sink("c-orphan", { "*": ["*"] }, { Team: "c" }); // a team with no token
    await sink("ops", { "*": ["*"] }); // management: everything
    await sink("ops-web", { "*": ["*"] }, { Namespaces: ["web"] });
    const events = [
      namespaced(1, "web"),
      namespaced(2, "api"),
      namespaced(3, "batch"),
      namespaced(4, "default"),
      clusterWide(5, "Node"),
      clusterWide(6, "NodePool"),
      clusterWide(7, "ACLToken"),
      clusterWide(8, "CSIPlugin"),
      gapMarker("test", 8, 20, "test"),
    ];
    expect(await handler(sqsEvent(...events.map((e) => recordOf(e))))).toEqual({ batchItemFailures: [] });
    const queued = await drain(sqs, queues.queueUrl);
    expect(indexesFor(queued, "a-all")).toEqual([1, 2, 20]);
    expect(indexesFor(queued, "a-api")).toEqual([2, 20]);
    // b may receive Node and NodePool (ClusterTopics), not the ACL or CSIPlugin events.
    expect(indexesFor(queued, "b-all")).toEqual([3, 5, 6, 20]);
    expect(indexesFor(queued, "c-orphan")).toEqual([]);
    expect(indexesFor(queued, "ops")).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 20]);
    // A management sink's namespace filter applies to namespaced events only.
    expect(indexesFor(queued, "ops-web")).toEqual([1, 5, 6, 7, 8, 20]);
  });

  it("applies a token's narrowed namespaces, its deletion and its expiry from the very next batch", async () => {
    const { handler, sqs, queues, tokens, grant, sink } = await teams();
    const a = await grant("a", ["web", "api"]);
    const shortLived = await grant("s", ["web"], false, Date.now() + 1_500);
    await sink("a", { Job: ["*"] }, { Team: "a" });
    await sink("s", { Job: ["*"] }, { Team: "s" });
    expect(await handler(sqsEvent(recordOf(namespaced(1, "web")), recordOf(namespaced(2, "api"))))).toEqual({ batchItemFailures: [] });
    await tokens.update(a.value.AccessorID, () => ({ Namespaces: ["web"] }));
    expect(await handler(sqsEvent(recordOf(namespaced(3, "web")), recordOf(namespaced(4, "api"))))).toEqual({ batchItemFailures: [] });
    await tokens.delete(a.value.AccessorID);
    expect(await handler(sqsEvent(recordOf(namespaced(5, "web"))))).toEqual({ batchItemFailures: [] });
    await new Promise((r) => setTimeout(r, Math.max(0, (shortLived.value.ExpiresAt ?? 0) - Date.now() + 50)));
    expect(await handler(sqsEvent(recordOf(namespaced(6, "web"))))).toEqual({ batchItemFailures: [] });
    const queued = await drain(sqs, queues.queueUrl);
    expect(indexesFor(queued, "a")).toEqual([1, 2, 3]);
    expect(indexesFor(queued, "s")).toEqual([1, 3, 5]);
  });
});

describe("fanout: replayed events", () => {
  const replayed = (detail: NomadBusDetail, replayName: string) => ingestRecord(withReplayName(eventBridgeBody(detail), replayName));

  it("sends a replay's events to its sink only, marked with the replay and deduplicated apart from the first delivery; an unknown replay's to none", async () => {
    const base = await setup();
    await register(base.store, "audit", { "*": ["*"] });
    await register(base.store, "other", { "*": ["*"] });
    const replays = new DynamoReplayStore({ tableName: base.sinksTable, client: base.dynamo });
    const replay = await replays.create({ ID: "replay-00000000-0000-4000-8000-000000000001", SinkID: "audit", From: 0, To: 1, State: "running", StartedAt: 0 });
    const fanout = new Fanout({ sinks: new SinkCache(base.store, { ttlMs: 0 }), queue: new SqsDeliveryQueue({ queueUrl: base.queues.queueUrl, client: base.sqs }), replays, logger: base.logger });
    const failed = await fanout.handle([recordOf(busDetail(1, "web")), replayed(busDetail(1, "web"), replay.ID), replayed(busDetail(2, "web"), "replay-unknown")].map((r) => ({ messageId: r.messageId, body: r.body })));
    expect(failed).toEqual([]);
    const queued = await drain(base.sqs, base.queues.queueUrl);
    expect(indexesFor(queued, "other")).toEqual([1]);
    expect(indexesFor(queued, "audit")).toEqual([1, 1]);
    const [first, again] = queued.filter((q) => q.groupId === "audit");
    expect(first!.message.replay).toBeUndefined();
    expect(again!.message.replay).toBe(replay.ID);
    // The same delivery ID (the webhook sees the event's own ID), another deduplication ID (SQS keeps both).
    expect(again!.message.deliveryId).toBe(first!.message.deliveryId);
    expect(again!.deduplicationId).not.toBe(first!.deduplicationId);
  });
});

describe("fanout: SendMessageBatch failures (Fanout with a flaky writer over the real queue)", () => {
  it("retries failed entries until they are sent, keeping each sink's order", async () => {
    const base = await setup();
    await register(base.store, "a", { "*": ["*"] });
    await register(base.store, "b", { "*": ["*"] });
    // a's event 2 fails twice, b's event 1 three times (of 4 attempts); each sink has later events behind them.
    const { handle, queue, metrics } = await directFanout(base, (m) => (m.sinkId === "a" && m.detail.frameIndex === 2 ? 2 : m.sinkId === "b" && m.detail.frameIndex === 1 ? 3 : 0));
    const records = [1, 2, 3, 4, 5].map((i) => recordOf(busDetail(i, "web"), `r${i}`));
    expect(await handle(...records)).toEqual([]);
    const queued = await drain(base.sqs, base.queues.queueUrl);
    expect(indexesFor(queued, "a")).toEqual([1, 2, 3, 4, 5]);
    expect(indexesFor(queued, "b")).toEqual([1, 2, 3, 4, 5]);
    expect(queue.attempts("a", 2)).toBe(3);
    expect(queue.attempts("b", 1)).toBe(4);
    expect(metrics.total("FanoutMessagesQueued")).toBe(10);
    expect(metrics.total("FanoutFailedRecords")).toBe(0);
    // Never more than 10 entries in one call, and every entry ID unique within its call.
    for (const call of queue.calls) {
      expect(call.length).toBeLessThanOrEqual(10);
      expect(new Set(call.map((m) => m.id)).size).toBe(call.length);
    }
  });

  it("reports a record whose entry keeps failing, holds that sink's later messages, and sends the other sinks'", async () => {
    const base = await setup();
    await register(base.store, "a", { "*": ["*"] });
    await register(base.store, "b", { "*": ["*"] });
    await register(base.store, "c", { Node: ["*"] });
    const { handle, queue, metrics } = await directFanout(base, (m) => (m.sinkId === "a" && m.detail.frameIndex === 2 ? Infinity : 0));
    const records = [
      recordOf(busDetail(4, "web"), "r4"),
      recordOf(busDetail(1, "web"), "r1"),
      recordOf(busDetail(3, "web"), "r3"),
      recordOf(busDetail(2, "web"), "r2"),
      recordOf(busDetail(5, "n1", { topic: "Node" }), "r5"),
    ];
    const failed = await handle(...records);
    // r2 failed for a; r3..r5 hold messages for a that must wait for r2's resend.
    expect(failed.sort()).toEqual(["r2", "r3", "r4", "r5"]);
    const queued = await drain(base.sqs, base.queues.queueUrl);
    expect(indexesFor(queued, "a")).toEqual([1]);
    expect(indexesFor(queued, "b")).toEqual([1, 2, 3, 4, 5]);
    expect(indexesFor(queued, "c")).toEqual([5]);
    expect(queue.attempts("a", 2)).toBe(4); // sendAttempts
    // a's later messages never reached the writer.
    for (const i of [3, 4, 5]) expect(queue.attempts("a", i)).toBe(0);
    const logged = loggedErrors(base.errors);
    expect(logged.some((l) => l.includes('"sinkId":"a"') && l.includes('"messageId":"r2"') && l.includes("injected failure 4"))).toBe(true);
    expect(metrics.total("FanoutFailedRecords")).toBe(4);
    expect(metrics.total("FanoutMessagesQueued")).toBe(7);
    expect(metrics.total("FanoutEvents")).toBe(5);

    // The resend of the whole batch (SQS redelivers the failed records) completes a in order without doubling b or c.
    const retry = await directFanout(base, () => 0);
    expect(await retry.handle(...records.filter((r) => failed.includes(r.messageId)))).toEqual([]);
    const after = await drain(base.sqs, base.queues.queueUrl);
    expect(indexesFor(after, "a")).toEqual([2, 3, 4, 5]);
    expect(indexesFor(after, "b")).toEqual([]);
    expect(indexesFor(after, "c")).toEqual([]);
  });

  it("holds a sink's later events when an event's preparation fails (offload error), without holding other sinks", async () => {
    const base = await setup();
    await register(base.store, "a", { Job: ["*"] });
    await register(base.store, "b", { Node: ["*"] });
    let offloads = 0;
    const { handle } = await directFanout(base, () => 0, {
      maxMessageBytes: 4096,
      offload: async () => {
        offloads++;
        throw new Error("S3 is unavailable");
      },
    });
    const failed = await handle(
      recordOf(busDetail(1, "small"), "r1"),
      recordOf(busDetail(2, "small"), "r2"),
      recordOf(busDetail(3, "big", { payload: { blob: "x".repeat(10_000) } }), "r3"),
      recordOf(busDetail(4, "small"), "r4"),
      recordOf(busDetail(5, "n1", { topic: "Node" }), "r5"),
    );
    expect(offloads).toBe(1);
    // The events before the failed one still go; the one after it waits.
    expect(failed.sort()).toEqual(["r3", "r4"]);
    const queued = await drain(base.sqs, base.queues.queueUrl);
    expect(indexesFor(queued, "a")).toEqual([1, 2]);
    expect(indexesFor(queued, "b")).toEqual([5]);
    expect(loggedErrors(base.errors).some((l) => l.includes("S3 is unavailable") && l.includes('"messageId":"r3"'))).toBe(true);
  });

  it("retries the whole batch when the sinks cannot be read", async () => {
    const base = await setup();
    const { logger, errors } = silentLogger();
    const metrics = new CountingMetrics();
    const real = new SqsDeliveryQueue({ queueUrl: base.queues.queueUrl, client: base.sqs });
    const fanout = new Fanout({ sinks: new SinkCache({ list: () => Promise.reject(new Error("table is gone")), changeVersion: () => Promise.reject(new Error("table is gone")) }), queue: real, logger, metrics });
    const failed = await fanout.handle([
      { messageId: "r1", body: eventBridgeBody(busDetail(1, "web")) },
      { messageId: "bad", body: "nope" },
    ]);
    expect(failed.sort()).toEqual(["bad", "r1"]);
    expect(loggedErrors(errors).some((l) => l.includes("table is gone"))).toBe(true);
    expect(await drain(base.sqs, base.queues.queueUrl)).toEqual([]);
    expect(metrics.total("FanoutMalformed")).toBe(1);
  });
});
