import { SQSClient, type SQSClientConfig } from "@aws-sdk/client-sqs";

/**
 * An SQS client that sends to its own endpoint (the region's, or AWS_ENDPOINT_URL_SQS)
 * rather than to each queue URL's host: the same place in AWS, and the right one for a
 * local SQS whose queue URLs name hosts that do not resolve (fauxqs: `sqs.<region>.localhost`).
 */
export function sqsClient(config: SQSClientConfig = {}): SQSClient {
  return new SQSClient({ useQueueUrlAsEndpoint: false, ...config });
}
