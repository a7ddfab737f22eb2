import { SQS_MAX_RETENTION_SECONDS } from "./retry-policy";

/**
 * Settings of the FIFO delivery queue and its dead-letter queue that the CDK stack and the
 * local runtime share.
 */
/** Messages (and dead letters) are kept as long as SQS allows: the retry horizon counts on it. */
export const DELIVERY_QUEUE_RETENTION_SECONDS = SQS_MAX_RETENTION_SECONDS;
/**
 * Receives before SQS itself dead-letters a message. The deliver function dead-letters by
 * the retry horizon; this only catches a message that keeps crashing the function.
 */
export const DELIVERY_QUEUE_MAX_RECEIVE_COUNT = 1000;

/**
 * Receives of an ingest-queue record (one bus event) before SQS dead-letters it. The fan-out
 * reports a record failed only when it could not queue its deliveries or cannot read it, so
 * five tries spread over five visibility timeouts outlast a short SQS or DynamoDB hiccup.
 */
export const INGEST_QUEUE_MAX_RECEIVE_COUNT = 5;
