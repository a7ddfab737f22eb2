import { CreateQueueCommand, ReceiveMessageCommand, SendMessageBatchCommand, type Message } from "@aws-sdk/client-sqs";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { LocalSqsJsonClient, SqsJsonError } from "../../infra/local/sqs/json-client";
import { sqsClient } from "../../shared/aws/sqs-client";
import { uniqueName } from "../support/names";

// The local event source's SQS calls, against fauxqs (the tests' global setup), next to the
// AWS SDK's own calls on the same queue.
const sqs = sqsClient();
const clients: LocalSqsJsonClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
});
afterAll(() => sqs.destroy());

function client(): LocalSqsJsonClient {
  const c = new LocalSqsJsonClient(process.env.AWS_ENDPOINT_URL_SQS!);
  clients.push(c);
  return c;
}

const RECEIVE = { MaxNumberOfMessages: 1, WaitTimeSeconds: 0, MessageSystemAttributeNames: ["All"], MessageAttributeNames: ["All"] } as const;

describe("LocalSqsJsonClient", () => {
  it("receives messages in the shape the SDK gives them, and deletes them", async () => {
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: uniqueName("lean") }));
    await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl,
        Entries: [1, 2].map((n) => ({ Id: `e${n}`, MessageBody: `{"n":${n},"text":"naïve ✓"}`, MessageAttributes: { kind: { DataType: "String", StringValue: `k${n}` } } })),
      }),
    );
    const lean = client();
    const viaLean = (await lean.call<{ Messages?: Message[] }>("ReceiveMessage", { QueueUrl, ...RECEIVE })).Messages ?? [];
    const viaSdk = (await sqs.send(new ReceiveMessageCommand({ QueueUrl, ...RECEIVE, MessageSystemAttributeNames: ["All"], MessageAttributeNames: ["All"] }))).Messages ?? [];
    expect(viaLean).toHaveLength(1);
    expect(viaSdk).toHaveLength(1);
    const [a, b] = [viaLean[0]!, viaSdk[0]!];
    expect(Object.keys(a).sort()).toEqual(Object.keys(b).sort());
    expect(Object.keys(a.Attributes ?? {}).sort()).toEqual(Object.keys(b.Attributes ?? {}).sort());
    expect(a.Attributes?.ApproximateReceiveCount).toBe("1");
    expect([a.Body, b.Body].sort()).toEqual(['{"n":1,"text":"naïve ✓"}', '{"n":2,"text":"naïve ✓"}']);
    expect(a.MessageAttributes?.kind?.StringValue).toBe(a.Body!.includes('"n":1') ? "k1" : "k2");

    const deleted = await lean.call<{ Successful?: Array<{ Id: string }> }>("DeleteMessageBatch", { QueueUrl, Entries: [a, b].map((m, i) => ({ Id: `d${i}`, ReceiptHandle: m.ReceiptHandle })) });
    expect(deleted.Successful?.map((s) => s.Id).sort()).toEqual(["d0", "d1"]);
    const after = await sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, VisibilityTimeout: 0 }));
    expect(after.Messages ?? []).toEqual([]);
  });

  it("turns an error answer into SqsJsonError naming the error and what SQS said", async () => {
    const error = await client()
      .call("ReceiveMessage", { QueueUrl: `${process.env.AWS_ENDPOINT_URL_SQS}/000000000000/${uniqueName("missing")}`, ...RECEIVE })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SqsJsonError);
    expect(error).toMatchObject({ type: "QueueDoesNotExist", statusCode: 400 });
    expect((error as Error).message).toMatch(/^SQS ReceiveMessage failed \(QueueDoesNotExist\): .*does not exist/);
  });

  it("gives up a long poll when its signal is aborted", async () => {
    const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: uniqueName("lean-abort") }));
    const stop = new AbortController();
    const polling = client().call("ReceiveMessage", { QueueUrl, ...RECEIVE, WaitTimeSeconds: 20 }, stop.signal);
    setTimeout(() => stop.abort(), 50);
    const started = Date.now();
    await expect(polling).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});
