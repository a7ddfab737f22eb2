import type { SQSBatchResponse, SQSEvent } from "aws-lambda";
import { EmfMetrics } from "../../shared/observability/metrics";
import { createLogger } from "../../shared/observability/logger";
import { fanoutFromEnv } from "./app";

const logger = createLogger("fanout");
// Configuration is read once, at cold start: a bad variable fails the init with its name.
const fanout = fanoutFromEnv(process.env, logger, new EmfMetrics({ namespace: process.env.METRICS_NAMESPACE ?? "NomadEventSinks", serviceName: "fanout" }));

/** SQS (ingest queue) event source entry point, with ReportBatchItemFailures. */
export async function handler(event: SQSEvent): Promise<SQSBatchResponse> {
  return fanout(event);
}
