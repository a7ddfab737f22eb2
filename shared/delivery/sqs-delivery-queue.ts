import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  type SQSClient,
  type Message,
  type SQSClientConfig,
} from "@aws-sdk/client-sqs";
import { sqsClient } from "../aws/sqs-client";
import type { DeliveryQueueControl, QueuedMessage } from "./deliverer";
import { deliveryMessageBody, parseDeliveryMessage } from "./delivery-message";
import type { DeliveryQueueWriter, OutgoingMessage } from "./fanout";

/** Message attributes a dead-lettered delivery carries. */
export const DLQ_REASON_ATTRIBUTE = "DeadLetterReason";
export const DLQ_ATTEMPTS_ATTRIBUTE = "Attempts";
export const DLQ_AT_ATTRIBUTE = "DeadLetteredAt";

/** The most messages one redrive moves; a caller that gets this many back calls again. */
export const REDRIVE_MAX_MESSAGES = 10_000;

/** SQS caps a string message attribute with the message; keep the reason readable and small. */
const REASON_MAX_CHARS = 1_000;

export interface SqsDeliveryQueueOptions {
  /** The FIFO delivery queue. */
  readonly queueUrl: string;
  /** Its FIFO dead-letter queue. */
  readonly deadLetterQueueUrl?: string;
  readonly client?: SQSClient;
  readonly clientConfig?: SQSClientConfig;
  readonly now?: () => number;
}

/**
 * The FIFO delivery queue and its dead-letter queue, through the SQS API: sending
 * (fan-out), retry waits and dead-lettering (deliver), and per-sink redrive (sinks API).
 */
export class SqsDeliveryQueue implements DeliveryQueueWriter, DeliveryQueueControl {
  readonly client: SQSClient;
  private readonly now: () => number;

  constructor(private readonly options: SqsDeliveryQueueOptions) {
    this.client = options.client ?? sqsClient(options.clientConfig);
    this.now = options.now ?? Date.now;
  }

  async sendBatch(messages: readonly OutgoingMessage[]): Promise<Array<{ id: string; error: string }>> {
    const result = await this.client.send(
      new SendMessageBatchCommand({
        QueueUrl: this.options.queueUrl,
        Entries: messages.map((m) => ({ Id: m.id, MessageBody: m.body, MessageGroupId: m.groupId, MessageDeduplicationId: m.deduplicationId })),
      }),
    );
    return (result.Failed ?? []).map((f) => ({ id: f.Id ?? "", error: `${f.Code ?? "Error"}: ${f.Message ?? "no message"}${f.SenderFault ? " (sender fault)" : ""}` }));
  }

  async retryLater(head: QueuedMessage, seconds: number, behind: readonly QueuedMessage[]): Promise<void> {
    // The messages behind go back at once; SQS keeps the group in sequence order, behind the head.
    const entries = [{ handle: head.receiptHandle, seconds }, ...behind.map((m) => ({ handle: m.receiptHandle, seconds: 0 }))];
    for (let start = 0; start < entries.length; start += 10) {
      const chunk = entries.slice(start, start + 10);
      const result = await this.client.send(
        new ChangeMessageVisibilityBatchCommand({
          QueueUrl: this.options.queueUrl,
          Entries: chunk.map((e, i) => ({ Id: `m${start + i}`, ReceiptHandle: e.handle, VisibilityTimeout: e.seconds })),
        }),
      );
      const failed = result.Failed ?? [];
      // If the head cannot be hidden it comes back after the queue's visibility timeout instead: sooner, still in order.
      if (failed.length > 0) throw new Error(`could not schedule the retry (${failed.length} visibility changes failed: ${failed[0]?.Message ?? failed[0]?.Code ?? "unknown"})`);
    }
  }

  async deadLetter(message: QueuedMessage, reason: string, attempts: number): Promise<void> {
    const url = this.requireDlq();
    const at = this.now();
    await this.client.send(
      new SendMessageCommand({
        QueueUrl: url,
        MessageBody: message.body,
        MessageGroupId: message.groupId,
        // Unique per dead-lettering: a message redriven and dead-lettered again within SQS's
        // 5-minute window must not be swallowed as a duplicate.
        MessageDeduplicationId: `${message.messageId}-${at}`,
        MessageAttributes: {
          [DLQ_REASON_ATTRIBUTE]: { DataType: "String", StringValue: reason.slice(0, REASON_MAX_CHARS) },
          [DLQ_ATTEMPTS_ATTRIBUTE]: { DataType: "Number", StringValue: String(attempts) },
          [DLQ_AT_ATTRIBUTE]: { DataType: "Number", StringValue: String(at) },
        },
      }),
    );
  }

  /**
   * Sends a sink's dead-lettered messages back to the delivery queue, in their order,
   * and returns how many. Messages of other sinks are looked at and put back untouched.
   * A FIFO queue hands out a group's next message only once the previous one is settled,
   * so each of the sink's messages is moved (sent, then deleted) before receiving again.
   */
  async redrive(sinkId: string): Promise<{ moved: number }> {
    const url = this.requireDlq();
    const held: Message[] = [];
    let moved = 0;
    try {
      while (moved < REDRIVE_MAX_MESSAGES) {
        const { Messages = [] } = await this.client.send(
          new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, VisibilityTimeout: 60, WaitTimeSeconds: 0, MessageSystemAttributeNames: ["MessageGroupId"] }),
        );
        if (Messages.length === 0) break;
        for (const message of Messages) {
          if (message.Attributes?.MessageGroupId !== sinkId || moved >= REDRIVE_MAX_MESSAGES) {
            held.push(message);
            continue;
          }
          await this.client.send(new SendMessageCommand({ QueueUrl: this.options.queueUrl, MessageBody: markRedriven(message.Body ?? ""), MessageGroupId: sinkId, MessageDeduplicationId: `${message.MessageId}-r${this.now()}` }));
          await this.client.send(new DeleteMessageCommand({ QueueUrl: url, ReceiptHandle: message.ReceiptHandle }));
          moved++;
        }
      }
    } finally {
      for (let start = 0; start < held.length; start += 10) {
        await this.client
          .send(new ChangeMessageVisibilityBatchCommand({ QueueUrl: url, Entries: held.slice(start, start + 10).map((m, i) => ({ Id: `h${i}`, ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0 })) }))
          .catch(() => undefined);
      }
    }
    return { moved };
  }

  private requireDlq(): string {
    if (this.options.deadLetterQueueUrl === undefined) throw new Error("no dead-letter queue is configured (DELIVERY_DLQ_URL)");
    return this.options.deadLetterQueueUrl;
  }

  destroy(): void {
    if (this.options.client === undefined) this.client.destroy();
  }
}

/**
 * A redriven delivery is marked, so the deliverer never puts it in one request with
 * deliveries that were not redriven (newer events, queued before the redrive); its payload keeps
 * the message's text (every digit of Nomad's int64 values). Anything unreadable goes back as it was.
 */
function markRedriven(body: string): string {
  try {
    const parsed = parseDeliveryMessage(body);
    return "message" in parsed ? deliveryMessageBody({ ...parsed.message, redriven: true }) : body;
  } catch {
    return body;
  }
}
