import type { Logger } from "@aws-lambda-powertools/logger";
import { staticTokenSource } from "../../shared/api/auth";
import { SecretsManagerTokenSource } from "../../shared/api/secrets-manager-token-source";
import { createSinksApi } from "../../shared/api/sinks-api";
import type { Env } from "../../shared/config/env";
import { DynamoSinkStore } from "../../shared/sinks/dynamo-sink-store";
import { readSinksApiConfig } from "./config";

/** Builds the API from configuration: one store and one token source per process. */
export function sinksApiFromEnv(env: Env, logger: Logger) {
  const config = readSinksApiConfig(env);
  const tokens = "value" in config.token ? staticTokenSource(config.token.value) : new SecretsManagerTokenSource({ secretId: config.token.secretId });
  return createSinksApi({ store: new DynamoSinkStore({ tableName: config.tableName }), tokens, logger });
}
