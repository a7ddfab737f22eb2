import { ConfigError, optionalEnv, requireEnv, type Env } from "../../shared/config/env";

export interface SinksApiConfig {
  readonly tableName: string;
  readonly token: { readonly value: string } | { readonly secretId: string };
}

/** Reads the sinks API's configuration; throws ConfigError naming the variable. */
export function readSinksApiConfig(env: Env): SinksApiConfig {
  const tableName = requireEnv(env, "SINKS_TABLE", "the DynamoDB table that holds the sinks");
  const value = optionalEnv(env, "SINKS_MANAGEMENT_TOKEN");
  const secretId = optionalEnv(env, "SINKS_MANAGEMENT_TOKEN_SECRET_ARN");
  if (value !== undefined && secretId !== undefined) {
    throw new ConfigError("Set only one of SINKS_MANAGEMENT_TOKEN and SINKS_MANAGEMENT_TOKEN_SECRET_ARN, not both");
  }
  if (value !== undefined) return { tableName, token: { value } };
  if (secretId !== undefined) return { tableName, token: { secretId } };
  throw new ConfigError("Environment variable SINKS_MANAGEMENT_TOKEN or SINKS_MANAGEMENT_TOKEN_SECRET_ARN is required (the management token that authorizes API calls)");
}
