import { CreateQueueCommand, GetQueueAttributesCommand, type SQSClient } from "@aws-sdk/client-sqs";
import { DELIVERY_QUEUE_MAX_RECEIVE_COUNT, DELIVERY_QUEUE_RETENTION_SECONDS } from "../../../shared/delivery/delivery-queue-settings";

/**
 * The local delivery queue's defaults: retention and redrive as in AWS; a shorter visibility
 * timeout than AWS's (6 × the function timeout) so a message whose handler failed outright
 * comes back within minutes locally.
 */
const DELIVERY_QUEUE_DEFAULTS = { visibilityTimeoutSeconds: 180, maxReceiveCount: DELIVERY_QUEUE_MAX_RECEIVE_COUNT } as const;

/**
 * Creates (or finds: CreateQueue is idempotent for equal attributes) a FIFO queue and its
 * FIFO dead-letter queue `<name>-dlq.fifo`, with the redrive policy wiring them.
 */
export async function ensureFifoQueueWithDlq(
  sqs: SQSClient,
  name: string,
  options: { visibilityTimeoutSeconds?: number; maxReceiveCount?: number } = {},
): Promise<{ queueUrl: string; dlqUrl: string }> {
  const dlq = await sqs.send(new CreateQueueCommand({ QueueName: `${name}-dlq.fifo`, Attributes: { FifoQueue: "true", MessageRetentionPeriod: String(DELIVERY_QUEUE_RETENTION_SECONDS) } }));
  const dlqArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlq.QueueUrl, AttributeNames: ["QueueArn"] }))).Attributes?.QueueArn;
  const queue = await sqs.send(
    new CreateQueueCommand({
      QueueName: `${name}.fifo`,
      Attributes: {
        FifoQueue: "true",
        MessageRetentionPeriod: String(DELIVERY_QUEUE_RETENTION_SECONDS),
        VisibilityTimeout: String(options.visibilityTimeoutSeconds ?? DELIVERY_QUEUE_DEFAULTS.visibilityTimeoutSeconds),
        RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: options.maxReceiveCount ?? DELIVERY_QUEUE_DEFAULTS.maxReceiveCount }),
      },
    }),
  );
  if (!queue.QueueUrl || !dlq.QueueUrl) throw new Error(`SQS did not return the URLs of ${name}.fifo and its dead-letter queue`);
  return { queueUrl: queue.QueueUrl, dlqUrl: dlq.QueueUrl };
}
