import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ChangeMessageVisibilityCommand, DeleteMessageBatchCommand, ReceiveMessageCommand, SendMessageBatchCommand, type Message, type SQSClient } from "@aws-sdk/client-sqs";
import { afterEach, describe, expect, it, vi } from "vitest";
import { startFauxqsServer, type FauxqsServer } from "../../infra/local/fauxqs-server";
import { fauxqsSqsStore, patchFauxqsFifo } from "../../infra/local/sqs/fauxqs-fifo";
import { ensureQueueWithDlq } from "../../infra/local/sqs/queues";
import { restoreQueueSnapshot, saveQueueSnapshot, snapshotQueues } from "../../infra/local/sqs/snapshot";
import { sqsClient } from "../../shared/aws/sqs-client";
import { uniqueName } from "../support/names";
import { Rng } from "../support/rng";

/** The local SQS stand-in as the runtime uses it: fauxqs with its FIFO receive patched, and the queue snapshot kept across restarts. */
const cleanups: Array<() => unknown> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function fauxqs(): Promise<{ server: FauxqsServer; sqs: SQSClient }> {
  const server = await startFauxqsServer();
  const sqs = sqsClient({ endpoint: server.endpoint });
  cleanups.push(() => server.stop(), () => sqs.destroy());
  return { server, sqs };
}

async function send(sqs: SQSClient, queueUrl: string, messages: Array<{ body: string; group?: string }>) {
  for (let start = 0; start < messages.length; start += 10) {
    const entries = messages.slice(start, start + 10).map((m, i) => ({ Id: `m${i}`, MessageBody: m.body, ...(m.group ? { MessageGroupId: m.group, MessageDeduplicationId: m.body } : {}) }));
    await sqs.send(new SendMessageBatchCommand({ QueueUrl: queueUrl, Entries: entries }));
  }
}

async function receive(sqs: SQSClient, queueUrl: string, max = 10): Promise<Message[]> {
  return (await sqs.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: max, WaitTimeSeconds: 0, MessageSystemAttributeNames: ["All"], MessageAttributeNames: ["All"] }))).Messages ?? [];
}

async function remove(sqs: SQSClient, queueUrl: string, messages: Message[]) {
  await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: queueUrl, Entries: messages.map((m, i) => ({ Id: `d${i}`, ReceiptHandle: m.ReceiptHandle })) }));
}

describe("fauxqs FIFO receive, as SQS does it", () => {
  it("hands out several messages of one group together and in order, and keeps the group locked while they are in flight", async () => {
    const { sqs } = await fauxqs();
    const queue = await ensureQueueWithDlq(sqs, uniqueName("fifo"), { fifo: true });
    await send(sqs, queue.queueUrl, [...Array.from({ length: 12 }, (_, i) => ({ body: `a${i}`, group: "a" })), { body: "b0", group: "b" }, { body: "b1", group: "b" }]);
    const first = await receive(sqs, queue.queueUrl);
    expect(first.map((m) => m.Body)).toEqual(["a0", "a1", "a2", "a3", "a4", "a5", "a6", "a7", "a8", "a9"]);
    // Group a is in flight: only b's messages are available, together.
    const second = await receive(sqs, queue.queueUrl);
    expect(second.map((m) => m.Body)).toEqual(["b0", "b1"]);
    expect(await receive(sqs, queue.queueUrl)).toEqual([]);
    await remove(sqs, queue.queueUrl, first);
    expect((await receive(sqs, queue.queueUrl)).map((m) => m.Body)).toEqual(["a10", "a11"]);
  });

  it("a batch whose visibility ends comes back whole and in order, and counts every receive", async () => {
    const { sqs } = await fauxqs();
    const queue = await ensureQueueWithDlq(sqs, uniqueName("fifo"), { fifo: true });
    await send(sqs, queue.queueUrl, [0, 1, 2].map((i) => ({ body: `c${i}`, group: "c" })));
    const taken = await receive(sqs, queue.queueUrl, 2);
    expect(taken.map((m) => m.Body)).toEqual(["c0", "c1"]);
    // Returned one by one, first first (unpatched fauxqs put each at the group's front: c1, c0, c2).
    for (const m of taken) await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: queue.queueUrl, ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0 }));
    const again = await receive(sqs, queue.queueUrl);
    expect(again.map((m) => m.Body)).toEqual(["c0", "c1", "c2"]);
    expect(again.map((m) => m.Attributes?.ApproximateReceiveCount)).toEqual(["2", "2", "1"]);
  });
});

/** fauxqs's queue itself, without HTTP, on a clock the test moves. */
interface LocalFifoQueue {
  enqueue(message: object): void;
  nextSequenceNumber(): string;
  dequeue(max: number, visibilitySeconds: number | undefined, dlqResolver: () => undefined): Array<{ Body: string; ReceiptHandle: string }>;
  deleteMessage(receiptHandle: string): boolean;
  changeVisibility(receiptHandle: string, seconds: number): void;
}

describe("fauxqs FIFO queue under visibility timeouts ending mid-receive", () => {
  afterEach(() => vi.restoreAllMocks());

  it("loses no message and keeps each group in order, whatever moment a visibility ends (seeded random walk of receives, deletes and returns)", async () => {
    await patchFauxqsFifo();
    const { SqsQueue, SqsStore } = (await fauxqsSqsStore()) as unknown as {
      SqsQueue: new (name: string, url: string, arn: string, attributes: Record<string, string>) => LocalFifoQueue;
      SqsStore: { createMessage(body: string, attributes: object, delay: undefined, group: string, dedup: string): { sequenceNumber?: string } };
    };
    // The clock moves 37 ms each time anyone reads it, so visibility timeouts (1–2 s) end between
    // any two steps of a receive, including between the messages one receive takes.
    let clock = 1_000_000_000_000;
    vi.spyOn(Date, "now").mockImplementation(() => (clock += 37));
    const rng = new Rng(20261121);
    const queue = new SqsQueue("walk.fifo", "http://127.0.0.1/000000000000/walk.fifo", "arn:aws:sqs:us-east-1:000000000000:walk.fifo", { FifoQueue: "true", VisibilityTimeout: "1" });
    const sent: string[] = [];
    for (let i = 0; i < 300; i++) {
      const body = `g${i % 5}-${String(i).padStart(3, "0")}`;
      const message = SqsStore.createMessage(body, {}, undefined, `g${i % 5}`, body);
      message.sequenceNumber = queue.nextSequenceNumber();
      queue.enqueue(message);
      sent.push(body);
    }
    const deleted: string[] = [];
    // Receipt handles → bodies, as a consumer holds them (one whose visibility ended is stale: deleting it deletes nothing).
    const held = new Map<string, string>();
    for (let step = 0; step < 20_000 && deleted.length < sent.length; step++) {
      const received = queue.dequeue(rng.int(1, 10), rng.int(1, 2), () => undefined);
      for (const m of received) held.set(m.ReceiptHandle, m.Body);
      // A group is handed out only when none of it is in flight, so from its oldest message not yet deleted, in order.
      for (let g = 0; g < 5; g++) {
        const ofGroup = received.map((m) => m.Body).filter((body) => body.startsWith(`g${g}-`));
        if (ofGroup.length > 0) expect(ofGroup, `group g${g} at step ${step}`).toEqual(sent.filter((body) => body.startsWith(`g${g}-`) && !deleted.includes(body)).slice(0, ofGroup.length));
      }
      for (const [handle, body] of [...held]) {
        const roll = rng.next();
        if (roll < 0.4) {
          if (queue.deleteMessage(handle)) deleted.push(body);
          held.delete(handle);
        } else if (roll < 0.5) {
          queue.changeVisibility(handle, 0);
          held.delete(handle);
        } else if (roll < 0.6) queue.changeVisibility(handle, 1);
      }
    }
    expect(new Set(deleted).size, "each message deleted once").toBe(deleted.length);
    expect([...deleted].sort()).toEqual([...sent].sort());

  });
});

describe("queue snapshot across a restart", () => {
  it("puts every message back, in order, with its group, deduplication ID and attributes, including those in flight", async () => {
    const dir = mkdtempSync(join(tmpdir(), "nes-snapshot-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, "queues.json");
    const name = uniqueName("snap");

    const before = await fauxqs();
    const fifo = await ensureQueueWithDlq(before.sqs, name, { fifo: true });
    const standard = await ensureQueueWithDlq(before.sqs, `${name}-std`, { fifo: false });
    await send(before.sqs, fifo.queueUrl, [0, 1, 2, 3].map((i) => ({ body: `f${i}`, group: i % 2 === 0 ? "even" : "odd" })));
    await before.sqs.send(
      new SendMessageBatchCommand({ QueueUrl: fifo.dlqUrl, Entries: [{ Id: "x", MessageBody: "dead", MessageGroupId: "even", MessageDeduplicationId: "dead-1", MessageAttributes: { DeadLetterReason: { DataType: "String", StringValue: "HTTP 500" } } }] }),
    );
    await send(before.sqs, standard.queueUrl, [{ body: "s0" }, { body: "s1" }]);
    // One FIFO message in flight (waiting for a retry) when the runtime stops.
    const inFlight = await receive(before.sqs, fifo.queueUrl, 1);
    expect(inFlight).toHaveLength(1);
    const saved = saveQueueSnapshot(file, snapshotQueues(before.server, [fifo.name, fifo.dlqName, standard.name, standard.dlqName, "no-such-queue"]));
    expect(saved).toBe(7);
    await before.server.stop();

    const after = await fauxqs();
    const fifo2 = await ensureQueueWithDlq(after.sqs, name, { fifo: true });
    const standard2 = await ensureQueueWithDlq(after.sqs, `${name}-std`, { fifo: false });
    const restored = await restoreQueueSnapshot(after.sqs, file, { [fifo.name]: fifo2.queueUrl, [fifo.dlqName]: fifo2.dlqUrl, [standard.name]: standard2.queueUrl, [standard.dlqName]: standard2.dlqUrl });
    expect(restored).toEqual({ [fifo.name]: 4, [fifo.dlqName]: 1, [standard.name]: 2 });
    expect(existsSync(file)).toBe(false);

    const fifoMessages = await receive(after.sqs, fifo2.queueUrl);
    const byGroup = (group: string) => fifoMessages.filter((m) => m.Attributes?.MessageGroupId === group).map((m) => m.Body);
    expect(byGroup("even")).toEqual(["f0", "f2"]);
    expect(byGroup("odd")).toEqual(["f1", "f3"]);
    const [dead] = await receive(after.sqs, fifo2.dlqUrl);
    expect(dead?.Body).toBe("dead");
    expect(dead?.MessageAttributes?.DeadLetterReason?.StringValue).toBe("HTTP 500");
    expect(dead?.Attributes?.MessageDeduplicationId).toBe("dead-1");
    expect((await receive(after.sqs, standard2.queueUrl)).map((m) => m.Body).sort()).toEqual(["s0", "s1"]);
    // Restoring again finds no file and restores nothing.
    expect(await restoreQueueSnapshot(after.sqs, file, { [fifo.name]: fifo2.queueUrl })).toEqual({});
  });

  it("refuses a snapshot file it cannot read, naming it, and keeps it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "nes-snapshot-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, "queues.json");
    writeFileSync(file, "{not json");
    const { sqs } = await fauxqs();
    await expect(restoreQueueSnapshot(sqs, file, {})).rejects.toThrow(`the saved queue messages in ${file} cannot be read`);
    expect(existsSync(file)).toBe(true);
  });
});
