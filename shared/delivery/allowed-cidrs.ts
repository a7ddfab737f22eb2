import { ConfigError, optionalEnv, type Env } from "../config/env";
import { ALLOWED_CIDRS_ENV, parseCidrList, type Cidr } from "./ssrf-guard";

/** The webhook allowlist: CIDRs that may be reached although internal (read by the sinks API and deliver). */
export function readAllowedCidrs(env: Env): Cidr[] {
  const raw = optionalEnv(env, ALLOWED_CIDRS_ENV);
  if (raw === undefined) return [];
  try {
    return parseCidrList(raw);
  } catch (error) {
    throw new ConfigError(`Environment variable ${ALLOWED_CIDRS_ENV}: ${(error as Error).message}`);
  }
}
