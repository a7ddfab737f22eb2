import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { AcceptedEvent } from "../../infra/local/eventbridge/accepted-event";
import { busTargets } from "../../infra/local/eventbridge/bus-targets";
import { ensureQueueWithDlq } from "../../infra/local/sqs/queues";
import { sqsClient } from "../../shared/aws/sqs-client";
import { drainQueue } from "../support/delivery";
import { uniqueName } from "../support/names";

/** The local bus's rule (source → the SQS ingest queue, on fauxqs) and its archive file. */
const sqs = sqsClient();
const dir = mkdtempSync(join(tmpdir(), "nes-bus-targets-"));
afterAll(() => {
  sqs.destroy();
  rmSync(dir, { recursive: true, force: true });
});

function accepted(i: number, source = "nomad", detail = `{"id":"${i}-x","frameIndex":${i},"event":{"ModifyTime":1763712000123456789}}`): AcceptedEvent {
  return { id: `evt-${i}`, bus: "nomad", source, detailType: "Job", detail, resources: [], time: "2026-11-21T10:00:00Z", receivedAt: "2026-11-21T10:00:00.000Z", callNumber: 1, indexInCall: i };
}

describe("local bus targets", () => {
  it("sends the rule's events to the ingest queue as EventBridge envelopes, detail byte for byte, and archives every event", async () => {
    const queue = await ensureQueueWithDlq(sqs, uniqueName("ingest"), { fifo: false });
    const archiveFile = join(dir, "a", "archive.ndjson");
    const targets = busTargets({ sqs, ingestQueueUrl: queue.queueUrl, sources: ["nomad"], archiveFile });
    const events = [...Array.from({ length: 12 }, (_, i) => accepted(i + 1)), accepted(99, "someone.else")];
    await targets.onAccepted(events);
    expect(targets.stats).toEqual({ routed: 12, archived: 13 });

    const bodies = (await drainQueue(sqs, queue.queueUrl)).map((m) => m.body);
    expect(bodies).toHaveLength(12);
    const first = bodies.find((b) => b.includes('"id":"evt-1"'))!;
    expect(JSON.parse(first)).toMatchObject({ version: "0", id: "evt-1", "detail-type": "Job", source: "nomad", account: "000000000000", region: "us-east-1", time: "2026-11-21T10:00:00Z", resources: [] });
    // Nomad's nanosecond times keep every digit (a JSON round trip would end in ...800).
    expect(first).toContain('"detail":{"id":"1-x","frameIndex":1,"event":{"ModifyTime":1763712000123456789}}');
    const archived = readFileSync(archiveFile, "utf8").trimEnd().split("\n");
    expect(archived).toHaveLength(13);
    expect(archived.at(-1)).toContain('"source":"someone.else"');
    await targets.close();
  });

  it("keeps every archived line whole when calls arrive at once, and a later bus appends to the same file", async () => {
    const queue = await ensureQueueWithDlq(sqs, uniqueName("ingest"), { fifo: false });
    const archiveFile = join(dir, "b", "archive.ndjson");
    const first = busTargets({ sqs, ingestQueueUrl: queue.queueUrl, sources: ["nomad"], archiveFile });
    await Promise.all(Array.from({ length: 20 }, (_, call) => first.onAccepted(Array.from({ length: 5 }, (_, i) => accepted(call * 5 + i + 1)))));
    await first.close();
    const second = busTargets({ sqs, ingestQueueUrl: queue.queueUrl, sources: ["nomad"], archiveFile });
    await second.onAccepted([accepted(101)]);
    await second.close();
    const lines = readFileSync(archiveFile, "utf8").trimEnd().split("\n");
    expect(lines).toHaveLength(101);
    const ids = lines.map((line) => (JSON.parse(line) as { id: string }).id);
    expect(new Set(ids).size).toBe(101);
    expect(ids.at(-1)).toBe("evt-101");
    await expect(second.onAccepted([accepted(102)])).rejects.toThrow("the local bus is stopping; its archive is closed");
    await drainQueue(sqs, queue.queueUrl);
  });

  it("starts a new line after half a line left by an interrupted write, so replay reads every whole event", async () => {
    const queue = await ensureQueueWithDlq(sqs, uniqueName("ingest"), { fifo: false });
    const archiveFile = join(dir, "c", "archive.ndjson");
    const first = busTargets({ sqs, ingestQueueUrl: queue.queueUrl, sources: ["nomad"], archiveFile });
    await first.onAccepted([accepted(1)]);
    await first.close();
    appendFileSync(archiveFile, '{"version":"0","id":"evt-cut-sh');
    const second = busTargets({ sqs, ingestQueueUrl: queue.queueUrl, sources: ["nomad"], archiveFile });
    await second.onAccepted([accepted(2)]);
    const lines = readFileSync(archiveFile, "utf8").trimEnd().split("\n");
    expect(lines).toHaveLength(3);
    expect(lines[1]).toBe('{"version":"0","id":"evt-cut-sh');
    expect((JSON.parse(lines[2]!) as { id: string }).id).toBe("evt-2");
    const replayed = await second.replay({ name: "r1", from: 0, to: Date.parse("2030-01-01T00:00:00Z") });
    expect(replayed).toBe(2);
    await second.close();
    await drainQueue(sqs, queue.queueUrl);
  });

  it("starts a new archive file past its size limit, keeping the previous one as .1", async () => {
    const queue = await ensureQueueWithDlq(sqs, uniqueName("ingest"), { fifo: false });
    const archiveFile = join(dir, "rotating.ndjson");
    const targets = busTargets({ sqs, ingestQueueUrl: queue.queueUrl, sources: ["nomad"], archiveFile, archiveMaxBytes: 600 });
    for (let i = 1; i <= 4; i++) await targets.onAccepted([accepted(i)]);
    expect(existsSync(`${archiveFile}.1`)).toBe(true);
    const lines = (file: string) => readFileSync(file, "utf8").trimEnd().split("\n");
    expect(lines(`${archiveFile}.1`).length + lines(archiveFile).length).toBe(4);
    expect(readFileSync(archiveFile, "utf8").length).toBeLessThanOrEqual(600);
    await targets.close();
  });

  it("fails the call when the ingest queue keeps refusing, so the streamer sends the events again", async () => {
    const targets = busTargets({ sqs, ingestQueueUrl: "http://127.0.0.1:1/000000000000/no-such-queue", sources: ["nomad"] });
    await expect(targets.onAccepted([accepted(1)])).rejects.toThrow();
    expect(targets.stats.routed).toBe(0);
  });
});
