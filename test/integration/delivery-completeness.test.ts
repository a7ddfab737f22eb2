import type { SQSEvent } from "aws-lambda";
import { afterEach, describe, expect, it } from "vitest";
import { fanoutFromEnv } from "../../functions/fanout/app";
import type { DeliveryMessage } from "../../shared/delivery/delivery-message";
import { matchesTopics, type TopicFilter } from "../../shared/nomad/topic-filter";
import { createLogger } from "../../shared/observability/logger";
import { CountingMetrics } from "../../shared/observability/metrics";
import type { NomadBusDetail } from "../../shared/streamer/event-contract";
import { drainQueue, newDeliveryPipeline } from "../support/delivery";
import { Rng } from "../support/rng";
import { until } from "../support/until";
import { startWebhookReceiver, type WebhookReceiver } from "../support/webhook-receiver";

const SEED = Number(process.env.COMPLETENESS_SEED ?? 20261121);
if (!Number.isSafeInteger(SEED)) throw new Error(`COMPLETENESS_SEED must be an integer, not ${JSON.stringify(process.env.COMPLETENESS_SEED)}`);
const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const TOPICS = ["Job", "Node", "Allocation", "Evaluation"] as const;

function busEvent(index: number, rng: Rng): NomadBusDetail {
  const topic = TOPICS[rng.int(0, TOPICS.length - 1)]!;
  const key = `k${rng.int(1, 4)}`;
  return {
    id: `${index}-${topic}-${key}`,
    cluster: "test",
    frameIndex: index,
    event: { Topic: topic, Type: `${topic}Updated`, Key: key, Namespace: "default", FilterKeys: topic === "Allocation" ? ["web"] : null, Index: index, Payload: { n: index } },
  };
}

/** An SQS record as EventBridge's SQS target writes it. */
function ingestRecord(detail: NomadBusDetail, n: number) {
  const body = JSON.stringify({ version: "0", id: `eb-${n}`, "detail-type": detail.event.Topic, source: "nomad", account: "000000000000", time: new Date().toISOString(), region: "us-east-1", resources: [], detail });
  return { messageId: `ingest-${n}`, receiptHandle: `r-${n}`, body, attributes: { ApproximateReceiveCount: "1", SentTimestamp: String(Date.now()), SenderId: "events", ApproximateFirstReceiveTimestamp: String(Date.now()) }, messageAttributes: {}, md5OfBody: "", eventSource: "aws:sqs", eventSourceARN: "arn:aws:sqs:us-east-1:000000000000:ingest", awsRegion: "us-east-1" };
}

function eventIdsOf(receiver: WebhookReceiver): string[] {
  return receiver.accepted.flatMap((r) => (JSON.parse(r.body) as { Events: Array<{ Index: number; Topic: string; Key: string }> }).Events.map((e) => `${e.Index}-${e.Topic}-${e.Key}`));
}

describe("delivery completeness under receiver faults", () => {
  it(`every matched event is delivered once, still pending, or dead-lettered; none missing (seed ${SEED})`, async () => {
    const rng = new Rng(SEED);
    const pipeline = await newDeliveryPipeline({ DELIVERY_RETRY_HORIZON_SECONDS: "4", WEBHOOK_TIMEOUT_MS: "300" }, { concurrency: 3 });
    cleanups.push(() => pipeline.close());
    const faultRng = new Rng(SEED + 1);
    const flaky = () => {
      const roll = faultRng.next();
      return roll < 0.25 ? { status: 500 } : roll < 0.3 ? ("reset" as const) : roll < 0.33 ? ("hang" as const) : roll < 0.36 ? { status: 429, headers: { "retry-after": "1" } } : { status: 200 };
    };
    const sinks: Array<{ id: string; topics: TopicFilter; receiver: WebhookReceiver }> = [];
    for (const [id, topics, reply] of [
      ["everything", { "*": ["*"] }, flaky],
      ["jobs-k1", { Job: ["k1"], Allocation: ["web"] }, flaky],
      ["nodes-down", { Node: ["*"] }, () => ({ status: 503, body: "down for good" })],
    ] as const) {
      const receiver = await startWebhookReceiver(reply);
      cleanups.push(() => receiver.close());
      await pipeline.sinks.put({ ID: id, Type: "webhook", Topics: topics as TopicFilter as Record<string, string[]>, Address: receiver.url });
      sinks.push({ id, topics, receiver });
    }

    const logger = createLogger("fanout-test");
    logger.setLogLevel("SILENT");
    const fanout = fanoutFromEnv({ ...pipeline.env, SINK_CACHE_SECONDS: "0" }, logger, new CountingMetrics());
    const events = Array.from({ length: 80 }, (_, i) => busEvent(i + 1, rng));
    for (let start = 0; start < events.length; start += 10) {
      const batch: SQSEvent = { Records: events.slice(start, start + 10).map((d, i) => ingestRecord(d, start + i)) };
      expect((await fanout(batch)).batchItemFailures).toEqual([]);
    }
    const source = pipeline.start();

    const matched = new Map(sinks.map((s) => [s.id, events.filter((e) => matchesTopics(s.topics, e.event)).map((e) => e.id)]));
    const dead = new Map<string, string[]>(sinks.map((s) => [s.id, []]));
    const settled = async () => {
      for (const m of await drainQueue(pipeline.sqs, pipeline.queues.dlqUrl)) dead.get(m.groupId ?? "")!.push((JSON.parse(m.body) as DeliveryMessage).detail.id);
      return sinks.every((s) => new Set(eventIdsOf(s.receiver)).size + dead.get(s.id)!.length === matched.get(s.id)!.length);
    };
    await until(settled, 90_000, "every matched event delivered or dead-lettered").catch(async (error: Error) => {
      // Says where each sink's events are, so a failure shows what went missing or twice.
      const state = sinks.map((s) => {
        const delivered = eventIdsOf(s.receiver);
        const deadIds = dead.get(s.id)!;
        const expected = matched.get(s.id)!;
        const seen = new Set([...delivered, ...deadIds]);
        return `${s.id}: matched ${expected.length}, delivered ${new Set(delivered).size} (${delivered.length} POSTed events), dead ${deadIds.length}; missing [${expected.filter((id) => !seen.has(id)).join(" ")}]; delivered and dead [${deadIds.filter((id) => delivered.includes(id)).join(" ")}]; dead twice [${deadIds.filter((id, i) => deadIds.indexOf(id) !== i).join(" ")}]`;
      });
      await source.stop();
      const queued = (await drainQueue(pipeline.sqs, pipeline.queues.queueUrl)).map((m) => `${m.groupId}:${(JSON.parse(m.body) as DeliveryMessage).detail.id}`);
      throw new Error(`${error.message}\n${state.join("\n")}\nstill queued [${queued.join(" ")}]\nmetrics ${JSON.stringify(Object.fromEntries(pipeline.metrics.totals))}`);
    });
    await source.stop();
    const pending = await drainQueue(pipeline.sqs, pipeline.queues.queueUrl);

    for (const sink of sinks) {
      const delivered = eventIdsOf(sink.receiver);
      const expected = matched.get(sink.id)!;
      expect(expected.length, `${sink.id} matched events`).toBeGreaterThan(5);
      // Delivered at most once each, and in index order.
      expect(new Set(delivered).size, `${sink.id}: duplicates`).toBe(delivered.length);
      const indexes = delivered.map((id) => Number(id.split("-")[0]));
      expect(indexes, `${sink.id}: order`).toEqual([...indexes].sort((a, b) => a - b));
      // Complete: delivered ∪ dead-lettered ∪ pending = matched, nothing else.
      const accounted = [...delivered, ...dead.get(sink.id)!, ...pending.filter((p) => p.groupId === sink.id).map((p) => (JSON.parse(p.body) as DeliveryMessage).detail.id)];
      expect([...accounted].sort(), `${sink.id}: accounted for`).toEqual([...expected].sort());
    }
    // The sink whose webhook is always down dead-lettered everything it matched, after retrying.
    expect(dead.get("nodes-down")!.sort()).toEqual([...matched.get("nodes-down")!].sort());
    // Faults were met on the way: the flaky receivers refused some requests, and those were retried.
    const flakySinks = sinks.slice(0, 2);
    expect(flakySinks.reduce((n, s) => n + s.receiver.received.length - s.receiver.accepted.length, 0), "requests the flaky receivers refused").toBeGreaterThan(0);
    expect(pipeline.metrics.total("DeliveryRetries")).toBeGreaterThan(0);
  }, 120_000);
});
