import { Logger } from "@aws-lambda-powertools/logger";

/** One structured JSON logger per process; `POWERTOOLS_LOG_LEVEL` sets the level. */
export function createLogger(serviceName: string): Logger {
  return new Logger({ serviceName });
}
