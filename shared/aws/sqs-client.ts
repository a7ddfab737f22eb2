import type { SQSClient, SQSClientConfig } from "@aws-sdk/client-sqs";
import { LeanSQSClient } from "./lean-clients";

/**
 * An SQS client that sends to its own endpoint (the region's, or AWS_ENDPOINT_URL_SQS)
 * rather than to each queue URL's host: the same place in AWS, and the right one for a
 * local SQS whose queue URLs name hosts that do not resolve (fauxqs: `sqs.<region>.localhost`).
 * Its message operations skip the SDK's command machinery (lean-clients.ts).
 */
export function sqsClient(config: SQSClientConfig = {}): SQSClient {
  return new LeanSQSClient({ useQueueUrlAsEndpoint: false, ...config });
}
