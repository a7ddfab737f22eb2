import { MAX_RETRY_HORIZON_SECONDS } from "../../shared/delivery/retry-policy";
import { parseCidrList } from "../../shared/delivery/ssrf-guard";
import { describeValue } from "../../shared/errors";
import { isEmailAddress } from "./monitoring";

/**
 * Deploy-time settings, read from CDK context (`cdk.json` "context", or `-c key=value` on
 * the command line). Each is optional; unset (or an empty string), the construct's default
 * applies.
 */
export interface DeploymentSettings {
  /** Subscribed by e-mail to the alarm topic. */
  readonly alarmEmail?: string;
  /** Days the bus archive keeps events; 0 keeps them indefinitely. */
  readonly archiveRetentionDays?: number;
  /** Concurrent deliver invocations (2–1000). */
  readonly deliverMaxConcurrency?: number;
  /** Concurrent fan-out invocations (2–1000). */
  readonly fanoutMaxConcurrency?: number;
  /** Internal CIDRs webhooks may reach anyway (WEBHOOK_ALLOWED_CIDRS of sinks-api and deliver). */
  readonly allowedCidrs?: readonly string[];
  /** How long a failing delivery is retried before it is dead-lettered, in seconds. */
  readonly retryHorizonSeconds?: number;
}

/** A context value that cannot be used; the message names the key and what was given. */
export class DeploymentContextError extends Error {
  override readonly name = "DeploymentContextError";
}

export const DEPLOYMENT_CONTEXT_KEYS = ["alarmEmail", "archiveRetentionDays", "deliverMaxConcurrency", "fanoutMaxConcurrency", "allowedCidrs", "retryHorizonSeconds"] as const;

function problem(key: string, expected: string, value: unknown): DeploymentContextError {
  return new DeploymentContextError(`Context value ${key} must be ${expected}, but ${describeValue(value)} was given (set it in cdk.json "context" or with -c ${key}=...)`);
}

/** `-c` gives strings, cdk.json gives JSON values: both spellings of an integer are accepted. */
function integer(key: string, value: unknown, min: number, max?: number, why = ""): number {
  const number = typeof value === "number" ? value : typeof value === "string" && /^\s*-?\d+\s*$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(number) || number < min || (max !== undefined && number > max)) {
    throw problem(key, (max !== undefined ? `an integer from ${min} to ${max}` : `an integer of ${min} or more`) + why, value);
  }
  return number;
}

function cidrs(key: string, value: unknown): string[] {
  const entries = typeof value === "string" ? value.split(/[\s,]+/).filter((entry) => entry !== "") : Array.isArray(value) && value.every((entry) => typeof entry === "string") ? value.map((entry) => entry.trim()) : undefined;
  if (entries === undefined) throw problem(key, "a list of CIDRs (a JSON array of strings, or comma-separated)", value);
  try {
    parseCidrList(entries.join(","));
  } catch (error) {
    throw new DeploymentContextError(`Context value ${key} must list IPv4 or IPv6 CIDRs, but ${(error as Error).message}`, { cause: error });
  }
  return entries;
}

/**
 * Reads and checks the deployment's context values at once (before any bundling), so a typo
 * fails the synthesis with the key's name. `get` is `(key) => app.node.tryGetContext(key)`.
 */
export function readDeploymentContext(get: (key: string) => unknown): DeploymentSettings {
  const value = (key: (typeof DEPLOYMENT_CONTEXT_KEYS)[number]) => {
    const raw = get(key);
    return raw === undefined || raw === null || raw === "" ? undefined : raw;
  };
  const settings: { -readonly [K in keyof DeploymentSettings]: DeploymentSettings[K] } = {};
  const alarmEmail = value("alarmEmail");
  if (alarmEmail !== undefined) {
    if (typeof alarmEmail !== "string" || !isEmailAddress(alarmEmail.trim())) throw problem("alarmEmail", "an e-mail address", alarmEmail);
    settings.alarmEmail = alarmEmail.trim();
  }
  const archive = value("archiveRetentionDays");
  if (archive !== undefined) settings.archiveRetentionDays = integer("archiveRetentionDays", archive, 0);
  const deliver = value("deliverMaxConcurrency");
  if (deliver !== undefined) settings.deliverMaxConcurrency = integer("deliverMaxConcurrency", deliver, 2, 1000);
  const fanout = value("fanoutMaxConcurrency");
  if (fanout !== undefined) settings.fanoutMaxConcurrency = integer("fanoutMaxConcurrency", fanout, 2, 1000);
  const allowed = value("allowedCidrs");
  if (allowed !== undefined) settings.allowedCidrs = cidrs("allowedCidrs", allowed);
  const horizon = value("retryHorizonSeconds");
  if (horizon !== undefined) settings.retryHorizonSeconds = integer("retryHorizonSeconds", horizon, 1, MAX_RETRY_HORIZON_SECONDS, " (13 days: SQS keeps a message 14 days at most)");
  return settings;
}
