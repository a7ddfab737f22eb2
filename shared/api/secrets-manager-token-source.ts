import { GetSecretValueCommand, SecretsManagerClient, type SecretsManagerClientConfig } from "@aws-sdk/client-secrets-manager";
import type { TokenSource } from "./auth";

export interface SecretsManagerTokenSourceOptions {
  /** ARN or name of the secret whose string value is the management token. */
  readonly secretId: string;
  /** How long a fetched value is used before it is read again (picks up rotation). @default 300_000 */
  readonly cacheMs?: number;
  readonly client?: SecretsManagerClient;
  readonly clientConfig?: SecretsManagerClientConfig;
}

/** Reads the management token from AWS Secrets Manager, cached per process. */
export class SecretsManagerTokenSource implements TokenSource {
  private readonly client: SecretsManagerClient;
  private cached: { value: Promise<string>; until: number } | undefined;

  constructor(private readonly options: SecretsManagerTokenSourceOptions) {
    this.client = options.client ?? new SecretsManagerClient(options.clientConfig ?? {});
  }

  managementToken(): Promise<string> {
    const now = Date.now();
    if (this.cached && this.cached.until > now) return this.cached.value;
    const value = this.fetch();
    this.cached = { value, until: now + (this.options.cacheMs ?? 300_000) };
    // A failed read must not be cached: the next request tries again.
    value.catch(() => {
      this.cached = undefined;
    });
    return value;
  }

  private async fetch(): Promise<string> {
    const result = await this.client.send(new GetSecretValueCommand({ SecretId: this.options.secretId }));
    const token = result.SecretString?.trim();
    if (!token) throw new Error(`secret ${this.options.secretId} has no string value to use as the management token`);
    return token;
  }
}
