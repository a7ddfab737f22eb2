import type { SQSBatchResponse, SQSEvent } from "aws-lambda";
import { EmfMetrics, readMetricsNamespace } from "../../shared/observability/metrics";
import { createLogger } from "../../shared/observability/logger";
import { deliverFromEnv } from "./app";

const logger = createLogger("deliver");
// Configuration is read once, at cold start: a bad variable fails the init with its name.
const deliver = deliverFromEnv(process.env, logger, new EmfMetrics({ namespace: readMetricsNamespace(process.env), serviceName: "deliver" }));

/** SQS (FIFO delivery queue) event source entry point, with ReportBatchItemFailures. */
export async function handler(event: SQSEvent): Promise<SQSBatchResponse> {
  return deliver(event);
}
