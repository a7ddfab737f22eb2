import { CreateQueueCommand, GetQueueAttributesCommand, type SQSClient } from "@aws-sdk/client-sqs";

/** The delivery queue's settings, as the CDK stack sets them in AWS. */
export const DELIVERY_QUEUE_DEFAULTS = { visibilityTimeoutSeconds: 180, maxReceiveCount: 1000 } as const;

/**
 * Creates (or finds: CreateQueue is idempotent for equal attributes) a FIFO queue and its
 * FIFO dead-letter queue `<name>-dlq.fifo`, with the redrive policy wiring them.
 */
export async function ensureFifoQueueWithDlq(
  sqs: SQSClient,
  name: string,
  options: { visibilityTimeoutSeconds?: number; maxReceiveCount?: number } = {},
): Promise<{ queueUrl: string; dlqUrl: string }> {
  const dlq = await sqs.send(new CreateQueueCommand({ QueueName: `${name}-dlq.fifo`, Attributes: { FifoQueue: "true", MessageRetentionPeriod: "1209600" } }));
  const dlqArn = (await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlq.QueueUrl, AttributeNames: ["QueueArn"] }))).Attributes?.QueueArn;
  const queue = await sqs.send(
    new CreateQueueCommand({
      QueueName: `${name}.fifo`,
      Attributes: {
        FifoQueue: "true",
        MessageRetentionPeriod: "1209600",
        VisibilityTimeout: String(options.visibilityTimeoutSeconds ?? DELIVERY_QUEUE_DEFAULTS.visibilityTimeoutSeconds),
        RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: options.maxReceiveCount ?? DELIVERY_QUEUE_DEFAULTS.maxReceiveCount }),
      },
    }),
  );
  if (!queue.QueueUrl || !dlq.QueueUrl) throw new Error(`SQS did not return the URLs of ${name}.fifo and its dead-letter queue`);
  return { queueUrl: queue.QueueUrl, dlqUrl: dlq.QueueUrl };
}
