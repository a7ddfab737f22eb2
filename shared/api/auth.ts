import { createHash, timingSafeEqual } from "node:crypto";

/** The token a request presents: `X-Nomad-Token`, or `Authorization: Bearer` (as Nomad >= 1.4). */
export function presentedToken(headers: Readonly<Record<string, string | undefined>>): string | undefined {
  const nomad = headers["x-nomad-token"]?.trim();
  if (nomad) return nomad;
  const authorization = headers["authorization"]?.trim();
  const match = authorization ? /^Bearer\s+(.+)$/i.exec(authorization) : null;
  return match?.[1]?.trim() || undefined;
}

const digest = (value: string) => createHash("sha256").update(value, "utf8").digest();

/** Compares in time independent of where the strings differ, and of their lengths. */
export function tokensEqual(presented: string, expected: string): boolean {
  return timingSafeEqual(digest(presented), digest(expected));
}

/** Where the management token comes from (an environment variable locally, Secrets Manager in AWS). */
export interface TokenSource {
  managementToken(): Promise<string>;
}

export function staticTokenSource(token: string): TokenSource {
  return { managementToken: async () => token };
}
