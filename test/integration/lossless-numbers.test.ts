import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import type { SQSEvent } from "aws-lambda";
import { Webhook } from "standardwebhooks";
import { afterEach, describe, expect, it } from "vitest";
import { fanoutFromEnv } from "../../functions/fanout/app";
import type { AcceptedEvent } from "../../infra/local/eventbridge/accepted-event";
import { startLocalEventBridge } from "../../infra/local/eventbridge/local-eventbridge";
import { startNomadProtocolServer } from "../../infra/local/nomad/protocol-server";
import { rawJson } from "../../infra/local/nomad/wire-format";
import { SqsDeliveryQueue } from "../../shared/delivery/sqs-delivery-queue";
import { readNomadConfig } from "../../shared/nomad/nomad-config";
import { createLogger } from "../../shared/observability/logger";
import { CountingMetrics } from "../../shared/observability/metrics";
import { DynamoCheckpointStore } from "../../shared/streamer/checkpoint-store";
import { EventBridgePublisher } from "../../shared/streamer/eventbridge-publisher";
import { DynamoLease } from "../../shared/streamer/lease";
import { S3PayloadStore } from "../../shared/streamer/payload-store";
import { Streamer } from "../../shared/streamer/streamer";
import { newStreamerTable } from "../streamer-state/streamer-fixtures";
import { drainQueue, newDeliveryPipeline } from "../support/delivery";
import { uniqueName } from "../support/names";
import { until } from "../support/until";
import { startWebhookReceiver } from "../support/webhook-receiver";

/**
 * Nomad's int64 and uint64 values beyond 2^53 (nanosecond times, some indexes and
 * hashes) must reach the bus, the delivery queue and the webhook with every digit as
 * Nomad sent them, through the real streamer, the local PutEvents endpoint, the fan-out
 * and the deliver function. A JSON.parse / JSON.stringify round trip anywhere would turn
 * 1763712000123456789 into 1763712000123456800.
 */

const logger = createLogger("lossless-test");
logger.setLogLevel("SILENT");
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/**
 * Payloads as Nomad's compact wire text: unsafe integers where a parse would round them, next
 * to strings and numbers that look alike. The astral character goes escaped: fauxqs (local
 * SQS) refuses one raw in a message body, where SQS accepts it.
 */
const JOB_PAYLOAD =
  '{"Job":{"ID":"web","Name":"web \\"1763712000123456789\\" \\\\","SubmitTime":1763712000123456789,"ModifyTime":1763712000123456789,' +
  '"JobModifyIndex":18446744073709551615,"Version":-9223372036854775807,"Ratio":1.5e300,"Share":0.1000000000000000055511151231257827,' +
  '"Count":42,"Deep":[9007199254740993,[18446744073709551615,{"x":12345678901234567890}]],"Note":"é☃ \\u00e9 \\ud83d\\ude00","Empty":{},"None":[]}}';
const EVAL_PAYLOAD = '{"Evaluation":{"ID":"e1","JobID":"web","CreateTime":1763712000123456789,"ModifyTime":1763712000987654321,"SnapshotIndex":9007199254740993}}';
const UNSAFE = ["1763712000123456789", "18446744073709551615", "-9223372036854775807", "9007199254740993", "12345678901234567890", "1763712000987654321"];

/** Whether `text` carries `payload` byte for byte as an event's Payload; on failure names the digits that changed, not the whole text. */
function expectPayload(text: string | undefined, payload: string, where: string): void {
  const changed = (payload.match(/-?\d{16,}/g) ?? []).filter((digits) => !text?.includes(digits));
  expect(text?.includes(`"Payload":${payload}}`), `${where} carries the payload as Nomad sent it (numbers changed: ${changed.join(", ") || "none"})`).toBe(true);
}

/** The SQS body an EventBridge rule's target gets: the envelope with the detail as PutEvents carried it. */
function ingestBody(event: AcceptedEvent): string {
  return (
    `{"version":"0","id":${JSON.stringify(event.id)},"detail-type":${JSON.stringify(event.detailType)},"source":${JSON.stringify(event.source)},` +
    `"account":"000000000000","time":${JSON.stringify(event.time)},"region":"us-east-1","resources":[],"detail":${event.detail}}`
  );
}

function ingestEvent(events: readonly AcceptedEvent[]): SQSEvent {
  return {
    Records: events.map((event, n) => ({
      messageId: `ingest-${n}`,
      receiptHandle: `r-${n}`,
      body: ingestBody(event),
      attributes: { ApproximateReceiveCount: "1", SentTimestamp: String(Date.now()), SenderId: "events", ApproximateFirstReceiveTimestamp: String(Date.now()) },
      messageAttributes: {},
      md5OfBody: "",
      eventSource: "aws:sqs",
      eventSourceARN: "arn:aws:sqs:us-east-1:000000000000:ingest",
      awsRegion: "us-east-1",
    })),
  };
}

/** Nomad, the bus, the streamer's table and lease, the delivery half, one webhook sink; optionally an S3 claim check. */
async function world(options: { claimCheck?: boolean; env?: Record<string, string>; maxEntryBytes?: number } = {}) {
  const nomad = await startNomadProtocolServer({ era: "chunked", heartbeatMs: 50 });
  const accepted: AcceptedEvent[] = [];
  const bus = await startLocalEventBridge({ busNames: ["nomad"], onAccepted: (events) => void accepted.push(...events) });
  cleanups.push(async () => {
    await nomad.close();
    await bus.close();
  });
  let payloadEnv: Record<string, string> = {};
  let payloads: S3PayloadStore | undefined;
  if (options.claimCheck) {
    const client = new S3Client({ forcePathStyle: true });
    const bucket = uniqueName("payloads");
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
    payloads = new S3PayloadStore({ bucket, client });
    payloadEnv = { PAYLOAD_BUCKET: bucket, S3_FORCE_PATH_STYLE: "true" };
  }
  const pipeline = await newDeliveryPipeline({ ...payloadEnv, ...options.env });
  cleanups.push(() => pipeline.close());
  const receiver = await startWebhookReceiver();
  cleanups.push(() => receiver.close());
  const { value: sink } = await pipeline.sinks.put({ ID: "everything", Type: "webhook", Topics: { "*": ["*"] }, Address: receiver.url });

  const table = await newStreamerTable();
  const cluster = uniqueName("c");
  const lease = new DynamoLease({ tableName: table.tableName, client: table.client, cluster, holder: "test", durationMs: 60_000 });
  expect(await lease.tryAcquire()).toBe(true);
  const publisher = new EventBridgePublisher({ clientConfig: { endpoint: bus.endpoint, region: "us-east-1", credentials: { accessKeyId: "x", secretAccessKey: "y" }, maxAttempts: 1 }, retryBaseMs: 5, retryCapMs: 50 });
  const streamer = new Streamer({
    nomad: readNomadConfig({ NOMAD_ADDR: nomad.url, NOMAD_NAMESPACE: "*" }),
    cluster,
    busName: "nomad",
    checkpoints: new DynamoCheckpointStore({ tableName: table.tableName, client: table.client, cluster, lease }),
    publish: (entries) => publisher.send(entries),
    logger,
    livenessMs: 1_000,
    checkpointEveryMs: 50,
    namespacePollMs: 0,
    ...(options.maxEntryBytes ? { maxEntryBytes: options.maxEntryBytes } : {}),
    ...(payloads ? { storePayload: (cluster, eventId, payloadJson) => payloads.storePayload(cluster, eventId, payloadJson) } : {}),
  });
  const fanout = fanoutFromEnv({ ...pipeline.env, SINK_CACHE_SECONDS: "0" }, logger, new CountingMetrics());

  /** Streams what Nomad published onto the bus, fans it out, and returns the bus details and the delivery messages (taken off the queue). */
  const streamAndFanOut = async (events: number) => {
    const abort = new AbortController();
    const running = streamer.run(abort.signal);
    await until(() => accepted.length === events, 20_000, `${events} events on the bus`);
    abort.abort(new Error("test over"));
    await running;
    expect((await fanout(ingestEvent(accepted))).batchItemFailures).toEqual([]);
    // Taken off the delivery queue in order, to be looked at and then handed to the deliver function.
    const queued = await drainQueue(pipeline.sqs, pipeline.queues.queueUrl);
    return { details: accepted.map((e) => e.detail), messages: queued.map((m) => m.body) };
  };
  /** The deliver function given the messages in one batch, as its event source would hand them over (so consecutive ones are coalesced). */
  const deliver = async (messages: readonly string[]) => {
    const now = String(Date.now());
    const event: SQSEvent = {
      Records: messages.map((body, n) => ({
        messageId: `delivery-${n}`,
        receiptHandle: `rh-${n}`,
        body,
        attributes: { ApproximateReceiveCount: "1", SentTimestamp: now, SenderId: "fanout", ApproximateFirstReceiveTimestamp: now, MessageGroupId: "everything" },
        messageAttributes: {},
        md5OfBody: "",
        eventSource: "aws:sqs",
        eventSourceARN: "arn:aws:sqs:us-east-1:000000000000:delivery.fifo",
        awsRegion: "us-east-1",
      })),
    };
    expect((await pipeline.handler(event)).batchItemFailures).toEqual([]);
    // Signed as sent: the official verifier accepts every body.
    for (const request of receiver.accepted) {
      new Webhook(sink.Secret).verify(request.body, { "webhook-id": String(request.headers["webhook-id"]), "webhook-timestamp": String(request.headers["webhook-timestamp"]), "webhook-signature": String(request.headers["webhook-signature"]) });
    }
    return receiver.accepted.map((r) => r.body);
  };
  return { nomad, pipeline, streamAndFanOut, deliver };
}

describe("numbers beyond 2^53 keep every digit from Nomad to the webhook", () => {
  it("through the bus detail, the delivery messages and one coalesced, signed webhook body", async () => {
    const w = await world();
    w.nomad.publish([
      [
        { Topic: "Job", Type: "JobRegistered", Key: "web", Namespace: "default", FilterKeys: null, Payload: rawJson(JOB_PAYLOAD) },
        { Topic: "Evaluation", Type: "EvaluationUpdated", Key: "e1", Namespace: "default", FilterKeys: ["web"], Payload: rawJson(EVAL_PAYLOAD) },
      ],
    ]);
    const { details, messages } = await w.streamAndFanOut(2);
    expect(details).toHaveLength(2);
    expectPayload(details[0], JOB_PAYLOAD, "the Job event's bus detail");
    expectPayload(details[1], EVAL_PAYLOAD, "the Evaluation event's bus detail");
    expect(messages).toHaveLength(2);
    expectPayload(messages[0], JOB_PAYLOAD, "the Job event's delivery message");
    expectPayload(messages[1], EVAL_PAYLOAD, "the Evaluation event's delivery message");

    const bodies = await w.deliver(messages);
    // The two events of the frame in one POST, each payload byte for byte.
    expect(bodies).toHaveLength(1);
    const body = bodies[0]!;
    expectPayload(body, JOB_PAYLOAD, "the webhook body");
    expectPayload(body, EVAL_PAYLOAD, "the webhook body");
    for (const digits of UNSAFE) expect(body).toContain(digits);
    // And what a receiver parses is still the Nomad frame shape.
    expect(JSON.parse(body)).toMatchObject({ Index: w.nomad.emitted()[0]!.Index, Events: [{ Topic: "Job", Key: "web" }, { Topic: "Evaluation", Key: "e1", FilterKeys: ["web"] }] });
  });

  it("through the S3 claim check: a payload the streamer stored by reference comes back to the webhook unchanged", async () => {
    const w = await world({ claimCheck: true, maxEntryBytes: 2_048 });
    const big = JOB_PAYLOAD.replace('"Count":42', `"Count":42,"Template":"${"x".repeat(4_000)}"`);
    w.nomad.publish([[{ Topic: "Job", Type: "JobRegistered", Key: "web", Namespace: "default", FilterKeys: null, Payload: rawJson(big) }]]);
    const { details, messages } = await w.streamAndFanOut(1);
    expect(JSON.parse(details[0]!)).toMatchObject({ event: { Payload: null }, payloadRef: { bytes: Buffer.byteLength(big) } });
    expect(messages[0]).toContain('"payloadRef":{');
    const bodies = await w.deliver(messages);
    expect(bodies).toHaveLength(1);
    expectPayload(bodies[0], big, "the webhook body");
  });

  it("through the fan-out's claim check: a payload that fits the bus but not a delivery message", async () => {
    const w = await world({ claimCheck: true, env: { SQS_MAX_MESSAGE_BYTES: "2048" } });
    const big = EVAL_PAYLOAD.replace('"JobID":"web"', `"JobID":"web","Blob":"${"y".repeat(4_000)}"`);
    w.nomad.publish([[{ Topic: "Evaluation", Type: "EvaluationUpdated", Key: "e1", Namespace: "default", FilterKeys: ["web"], Payload: rawJson(big) }]]);
    const { details, messages } = await w.streamAndFanOut(1);
    expectPayload(details[0], big, "the bus detail");
    expect(messages[0]).toContain('"payloadRef":{');
    const bodies = await w.deliver(messages);
    expect(bodies).toHaveLength(1);
    expectPayload(bodies[0], big, "the webhook body");
  });

  it("a claim-checked payload counts toward DELIVERY_MAX_REQUEST_BYTES with its own size, not its reference's", async () => {
    const w = await world({ claimCheck: true, env: { SQS_MAX_MESSAGE_BYTES: "2048", DELIVERY_MAX_REQUEST_BYTES: "6000" } });
    const big = (key: string) => EVAL_PAYLOAD.replace('"JobID":"web"', `"JobID":"web","Blob":"${key.repeat(4_000)}"`);
    w.nomad.publish([[{ Topic: "Evaluation", Type: "EvaluationUpdated", Key: "e1", Namespace: "default", FilterKeys: ["web"], Payload: rawJson(big("a")) }]]);
    w.nomad.publish([[{ Topic: "Evaluation", Type: "EvaluationUpdated", Key: "e2", Namespace: "default", FilterKeys: ["web"], Payload: rawJson(big("b")) }]]);
    const { messages } = await w.streamAndFanOut(2);
    // Both references together are far under 6,000 bytes; the payloads are not.
    expect(messages.every((m) => m.includes('"payloadRef":{') && Buffer.byteLength(m) < 2_048)).toBe(true);
    const bodies = await w.deliver(messages);
    expect(bodies).toHaveLength(2);
    expectPayload(bodies[0], big("a"), "the first webhook body");
    expectPayload(bodies[1], big("b"), "the second webhook body");
  });

  it("through a dead-letter queue and a redrive", async () => {
    const w = await world();
    w.nomad.publish([[{ Topic: "Job", Type: "JobRegistered", Key: "web", Namespace: "default", FilterKeys: null, Payload: rawJson(JOB_PAYLOAD) }]]);
    const { messages } = await w.streamAndFanOut(1);
    const queue = new SqsDeliveryQueue({ queueUrl: w.pipeline.queues.queueUrl, deadLetterQueueUrl: w.pipeline.queues.dlqUrl, client: w.pipeline.sqs });
    await queue.deadLetter({ messageId: "m1", receiptHandle: "rh-1", groupId: "everything", body: messages[0]!, sentAt: Date.now(), receiveCount: 3 }, "the webhook kept failing", 3);
    expect(await queue.redrive("everything")).toEqual({ moved: 1 });
    const [back] = await drainQueue(w.pipeline.sqs, w.pipeline.queues.queueUrl);
    expect(JSON.parse(back!.body)).toMatchObject({ redriven: true });
    expectPayload(back!.body, JOB_PAYLOAD, "the redriven message");
    expectPayload((await w.deliver([back!.body]))[0], JOB_PAYLOAD, "the webhook body");
  });
});
