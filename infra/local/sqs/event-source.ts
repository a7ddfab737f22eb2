import { DeleteMessageBatchCommand, ReceiveMessageCommand, type Message } from "@aws-sdk/client-sqs";
import type { SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import { sqsClient } from "../../../shared/aws/sqs-client";
import { sleep } from "../../../shared/retry/backoff";
import { LOCAL_ACCOUNT_ID, LOCAL_CREDENTIALS, LOCAL_REGION } from "../local-aws";

export interface SqsEventSourceOptions {
  /** The local SQS (fauxqs), `http://127.0.0.1:<port>`: polled as Lambda's pollers poll SQS, through the lean SQS client (no SDK middleware per call). */
  readonly endpoint: string;
  readonly queueUrl: string;
  /** The function: gets an SQS event, answers with the records that failed. */
  readonly handler: (event: SQSEvent) => Promise<SQSBatchResponse | void>;
  /** Records per invocation (Lambda's BatchSize). @default 10 */
  readonly batchSize?: number;
  /** Invocations at once (Lambda's concurrency; FIFO order holds across them: a group's messages stay locked until deleted). @default 1 */
  readonly concurrency?: number;
  /** Told of a failed invocation or receive; the records come back after their visibility timeout. */
  readonly onError?: (error: unknown) => void;
}

export interface SqsEventSource {
  stop(): Promise<void>;
}

/**
 * What Lambda's SQS event source mapping does, for the local runtime and tests: long-polls
 * the queue, invokes the function with up to `batchSize` records (no batching window, as for
 * the FIFO queue, which has none), deletes the records it did not report in `batchItemFailures`, and
 * leaves those (or all, if it threw) to reappear after their visibility timeout. Redrive to
 * a dead-letter queue is the queue's own `RedrivePolicy`, as in AWS.
 */
export function startSqsEventSource(options: SqsEventSourceOptions): SqsEventSource {
  const stopping = new AbortController();
  const batchSize = Math.min(options.batchSize ?? 10, 10);
  const arn = `arn:aws:sqs:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:${options.queueUrl.split("/").pop() ?? "queue"}`;

  const sqs = sqsClient({ endpoint: options.endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });

  const receive = async (): Promise<Message[]> => {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: options.queueUrl, MaxNumberOfMessages: batchSize, WaitTimeSeconds: 1, MessageSystemAttributeNames: ["All"], MessageAttributeNames: ["All"] }),
      { abortSignal: stopping.signal },
    );
    return Messages;
  };

  const slots = options.concurrency ?? 1;
  // Each settles (its errors go to onError), so a full set frees a slot when any one ends.
  const running = new Set<Promise<void>>();

  // One receive at a time, handing each batch to an invocation slot (up to `concurrency` at
  // once), as Lambda's pollers feed concurrent invocations. A poller per slot, each
  // long-polling, would make every arriving message wake them all: fauxqs answers each waiting
  // receive once woken, so all but one come back empty, and at a few hundred messages a
  // second those empty receives cost the process more than the deliveries.
  const loop = async () => {
    while (!stopping.signal.aborted) {
      if (running.size >= slots) {
        await Promise.race(running);
        continue;
      }
      try {
        const messages = await receive();
        if (messages.length === 0) continue;
        const invocation: Promise<void> = invoke(messages)
          .catch((error: unknown) => options.onError?.(error))
          .finally(() => running.delete(invocation));
        running.add(invocation);
      } catch (error) {
        if (stopping.signal.aborted) break;
        options.onError?.(error);
        await sleep(200, stopping.signal).catch(() => undefined);
      }
    }
  };

  const invoke = async (messages: Message[]) => {
    const records = messages.map((m) => toRecord(m, arn));
    let failed: Set<string>;
    try {
      const response = await options.handler({ Records: records });
      failed = new Set((response?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
    } catch (error) {
      options.onError?.(error);
      return;
    }
    const done = messages.filter((m) => !failed.has(m.MessageId ?? ""));
    for (let start = 0; start < done.length; start += 10) {
      await sqs.send(new DeleteMessageBatchCommand({ QueueUrl: options.queueUrl, Entries: done.slice(start, start + 10).map((m, i) => ({ Id: `d${start + i}`, ReceiptHandle: m.ReceiptHandle })) }));
    }
  };

  const receiving = loop();
  let stopped: Promise<void> | undefined;
  return {
    // Once, however often it is called: receiving stops, the invocations under way finish, then the connections close.
    stop: () =>
      (stopped ??= (async () => {
        stopping.abort();
        await receiving;
        await Promise.allSettled([...running]);
        sqs.destroy();
      })()),
  };
}

function toRecord(message: Message, arn: string): SQSRecord {
  const a = message.Attributes ?? {};
  return {
    messageId: message.MessageId ?? "",
    receiptHandle: message.ReceiptHandle ?? "",
    body: message.Body ?? "",
    attributes: {
      ApproximateReceiveCount: a.ApproximateReceiveCount ?? "1",
      SentTimestamp: a.SentTimestamp ?? String(Date.now()),
      SenderId: a.SenderId ?? "local",
      ApproximateFirstReceiveTimestamp: a.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
      ...(a.MessageGroupId !== undefined ? { MessageGroupId: a.MessageGroupId } : {}),
      ...(a.MessageDeduplicationId !== undefined ? { MessageDeduplicationId: a.MessageDeduplicationId } : {}),
      ...(a.SequenceNumber !== undefined ? { SequenceNumber: a.SequenceNumber } : {}),
    },
    messageAttributes: Object.fromEntries(
      Object.entries(message.MessageAttributes ?? {}).map(([name, v]) => [name, { dataType: v.DataType ?? "String", ...(v.StringValue !== undefined ? { stringValue: v.StringValue } : {}) }]),
    ),
    md5OfBody: message.MD5OfBody ?? "",
    eventSource: "aws:sqs",
    eventSourceARN: arn,
    awsRegion: LOCAL_REGION,
  };
}
