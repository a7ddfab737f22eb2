import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { createLogger } from "../../shared/observability/logger";
import { sinksApiFromEnv } from "./app";

const logger = createLogger("sinks-api");
// Configuration is read once, at cold start: a bad variable fails the init with its name.
const api = sinksApiFromEnv(process.env, logger);

/** API Gateway HTTP API (payload format 2.0) entry point. */
export async function handler(event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> {
  return api(event);
}
