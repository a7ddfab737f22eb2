import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ReceiveMessageCommand, SendMessageCommand } from "@aws-sdk/client-sqs";
import { afterEach, describe, expect, it } from "vitest";
import { startStandIns, type StandIns } from "../../infra/local/stand-ins";
import { ensureQueueWithDlq } from "../../infra/local/sqs/queues";
import { sqsClient } from "../../shared/aws/sqs-client";
import { PutEventsSender } from "../../shared/aws/put-events-sender";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "../../infra/local/local-aws";

/** fauxqs and the local bus on their own thread, as the local runtime runs them, reached over HTTP and the thread's port. */
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function standIns(): Promise<{ standIns: StandIns; dir: string }> {
  const started = await startStandIns();
  const dir = mkdtempSync(join(tmpdir(), "nes-stand-ins-"));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }), () => started.stop());
  return { standIns: started, dir };
}

describe("the stand-ins' thread", () => {
  it("serves SQS, routes the bus's events to the ingest queue and the archive, snapshots queues and replays the archive", async () => {
    const { standIns: s, dir } = await standIns();
    const sqs = sqsClient({ endpoint: s.sqsEndpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
    cleanups.push(() => sqs.destroy());
    const ingest = await ensureQueueWithDlq(sqs, "stand-ins-ingest", { fifo: false });
    const other = await ensureQueueWithDlq(sqs, "stand-ins-other", { fifo: false });
    await sqs.send(new SendMessageCommand({ QueueUrl: other.queueUrl, MessageBody: "kept" }));

    const archiveFile = join(dir, "archive.ndjson");
    const busEndpoint = await s.startBus({ busName: "nomad-bus", ingestQueueUrl: ingest.queueUrl, archiveFile });
    const sender = new PutEventsSender({ clientConfig: { endpoint: busEndpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS } });
    cleanups.push(() => sender.destroy());
    const detail = (i: number) => JSON.stringify({ id: `e${i}`, n: i });
    const result = await sender.putEvents([0, 1, 2].map((i) => ({ Source: "nomad", DetailType: "Job", Detail: detail(i), EventBusName: "nomad-bus" })));
    expect(result.FailedEntryCount).toBe(0);
    // Another source is archived but not routed (the rule is `source: nomad`).
    await sender.putEvents([{ Source: "elsewhere", DetailType: "Job", Detail: detail(9), EventBusName: "nomad-bus" }]);

    const received = (await sqs.send(new ReceiveMessageCommand({ QueueUrl: ingest.queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }))).Messages ?? [];
    expect(received.map((m) => (JSON.parse(m.Body!) as { detail: { n: number } }).detail.n).sort()).toEqual([0, 1, 2]);
    expect(readFileSync(archiveFile, "utf8").trim().split("\n")).toHaveLength(4);

    // In flight or not, every message is in the snapshot, with its body.
    const snapshot = await s.snapshot([ingest.name, other.name, "no-such-queue"]);
    expect(snapshot[ingest.name]).toHaveLength(3);
    expect(snapshot[other.name]).toEqual([{ body: "kept" }]);
    expect(snapshot["no-such-queue"]).toBeUndefined();

    const progress: number[] = [];
    const replayed = await s.replay({ name: "again", from: 0, to: Date.now() + 60_000, onProgress: (count) => progress.push(count) });
    expect(replayed).toBe(3);
    expect(progress.at(-1)).toBe(3);
    const again = (await sqs.send(new ReceiveMessageCommand({ QueueUrl: ingest.queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }))).Messages ?? [];
    expect(again.map((m) => (JSON.parse(m.Body!) as { "replay-name"?: string })["replay-name"])).toEqual(["again", "again", "again"]);

    await s.stopBus();
    await expect(sender.putEvents([{ Source: "nomad", DetailType: "Job", Detail: detail(3), EventBusName: "nomad-bus" }])).rejects.toThrow();
    await expect(s.replay({ name: "late", from: 0, to: 1 })).rejects.toThrow(/the local bus has not started/);
  });

  it("refuses calls once stopped, saying so, and its SQS endpoint is gone", async () => {
    const { standIns: s } = await standIns();
    await s.stop();
    await expect(s.snapshot(["any"])).rejects.toThrow(/the local stand-ins have stopped/);
    await expect(fetch(s.sqsEndpoint)).rejects.toThrow();
  });
});
