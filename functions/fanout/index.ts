import type { SQSBatchResponse, SQSEvent } from "aws-lambda";
import { EmfMetrics, readMetricsNamespace } from "../../shared/observability/metrics";
import { createLogger } from "../../shared/observability/logger";
import { fanoutFromEnv } from "./app";

const logger = createLogger("fanout");
// Configuration is read once, at cold start: a bad variable fails the init with its name.
const fanout = fanoutFromEnv(process.env, logger, new EmfMetrics({ namespace: readMetricsNamespace(process.env), serviceName: "fanout" }));

/** SQS (ingest queue) event source entry point, with ReportBatchItemFailures. */
export async function handler(event: SQSEvent): Promise<SQSBatchResponse> {
  return fanout(event);
}
