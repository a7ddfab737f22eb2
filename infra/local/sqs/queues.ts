import { CreateQueueCommand, GetQueueAttributesCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { DELIVERY_QUEUE_MAX_RECEIVE_COUNT, DELIVERY_QUEUE_RETENTION_SECONDS } from "../../../shared/delivery/delivery-queue-settings";

/**
 * The local queues' defaults: retention and redrive as in AWS; a shorter visibility
 * timeout than AWS's (6 × the function timeout) so a message whose handler failed outright
 * comes back within minutes locally.
 */
const QUEUE_DEFAULTS = { visibilityTimeoutSeconds: 180, maxReceiveCount: DELIVERY_QUEUE_MAX_RECEIVE_COUNT } as const;

export interface QueueWithDlq {
  readonly name: string;
  readonly queueUrl: string;
  readonly dlqName: string;
  readonly dlqUrl: string;
}

/**
 * Creates (or finds: CreateQueue is idempotent for equal attributes) a queue and its
 * dead-letter queue, with the redrive policy wiring them: `<name>.fifo` and
 * `<name>-dlq.fifo` when `fifo`, else `<name>` and `<name>-dlq`.
 */
export async function ensureQueueWithDlq(
  sqs: SQSClient,
  name: string,
  options: { fifo: boolean; visibilityTimeoutSeconds?: number; maxReceiveCount?: number },
): Promise<QueueWithDlq> {
  const suffix = options.fifo ? ".fifo" : "";
  const fifo = options.fifo ? { FifoQueue: "true" } : {};
  const dlqName = `${name}-dlq${suffix}`;
  const queueName = `${name}${suffix}`;
  const dlq = await sqs.send(new CreateQueueCommand({ QueueName: dlqName, Attributes: { ...fifo, MessageRetentionPeriod: String(DELIVERY_QUEUE_RETENTION_SECONDS) } }));
  const dlqArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlq.QueueUrl, AttributeNames: ["QueueArn"] }))).Attributes?.QueueArn;
  const queue = await sqs.send(
    new CreateQueueCommand({
      QueueName: queueName,
      Attributes: {
        ...fifo,
        MessageRetentionPeriod: String(DELIVERY_QUEUE_RETENTION_SECONDS),
        VisibilityTimeout: String(options.visibilityTimeoutSeconds ?? QUEUE_DEFAULTS.visibilityTimeoutSeconds),
        RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: options.maxReceiveCount ?? QUEUE_DEFAULTS.maxReceiveCount }),
      },
    }),
  );
  if (!queue.QueueUrl || !dlq.QueueUrl) throw new Error(`SQS did not return the URLs of ${queueName} and its dead-letter queue`);
  return { name: queueName, queueUrl: queue.QueueUrl, dlqName, dlqUrl: dlq.QueueUrl };
}

/** A FIFO queue `<name>.fifo` and its FIFO dead-letter queue `<name>-dlq.fifo`. */
export async function ensureFifoQueueWithDlq(sqs: SQSClient, name: string, options: { visibilityTimeoutSeconds?: number; maxReceiveCount?: number } = {}): Promise<QueueWithDlq> {
  return ensureQueueWithDlq(sqs, name, { fifo: true, ...options });
}
