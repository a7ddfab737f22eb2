import { STREAMER_CLUSTER_PATTERN, STREAMER_CLUSTER_RULE } from "../../functions/streamer/config";
import { MAX_RETRY_HORIZON_SECONDS } from "../../shared/delivery/retry-policy";
import { parseCidrList } from "../../shared/delivery/ssrf-guard";
import { describeValue } from "../../shared/errors";
import { readNomadConfig } from "../../shared/nomad/nomad-config";
import { isEmailAddress } from "./monitoring";
import { checkExistingVpc } from "./network";

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

  /** Nomad's address from the VPC (the streamer's NOMAD_ADDR). Unset: no streamer service and no VPC are deployed. */
  readonly nomadAddr?: string;
  /** NOMAD_REGION of the streamer. */
  readonly nomadRegion?: string;
  /** NOMAD_NAMESPACE of the streamer: a namespace, or `*` for all. */
  readonly nomadNamespace?: string;
  /** Complete ARN of an existing Secrets Manager secret whose string value is the Nomad ACL token. */
  readonly nomadTokenSecretArn?: string;
  /** STREAMER_CLUSTER: the Nomad cluster's label. */
  readonly streamerCluster?: string;
  /** Run the streamer in this existing VPC instead of a new one (with privateSubnetIds and availabilityZones). */
  readonly vpcId?: string;
  readonly privateSubnetIds?: readonly string[];
  /** The private subnets' route tables (for the S3 and DynamoDB gateway endpoints). */
  readonly privateSubnetRouteTableIds?: readonly string[];
  readonly availabilityZones?: readonly string[];
  /** NAT gateways of a new VPC (0–2). */
  readonly natGateways?: number;
  /** Address range of a new VPC. */
  readonly vpcCidr?: string;
  /** Whether the VPC endpoints are created. */
  readonly vpcEndpoints?: boolean;
}

/** A context value that cannot be used; the message names the key and what was given. */
export class DeploymentContextError extends Error {
  override readonly name = "DeploymentContextError";
}

/** The keys that configure the streamer's service and its network: each needs nomadAddr. */
const STREAMER_KEYS = [
  "nomadRegion",
  "nomadNamespace",
  "nomadTokenSecretArn",
  "streamerCluster",
  "vpcId",
  "privateSubnetIds",
  "privateSubnetRouteTableIds",
  "availabilityZones",
  "natGateways",
  "vpcCidr",
  "vpcEndpoints",
] as const;

export const DEPLOYMENT_CONTEXT_KEYS = ["alarmEmail", "archiveRetentionDays", "deliverMaxConcurrency", "fanoutMaxConcurrency", "allowedCidrs", "retryHorizonSeconds", "nomadAddr", ...STREAMER_KEYS] as const;

/** The key of ours `key` looks like a misspelling of, if any (CDK's own keys hold ':' or '/' and are never ours). */
function misspeltKey(key: string): string | undefined {
  if ((DEPLOYMENT_CONTEXT_KEYS as readonly string[]).includes(key) || key.includes(":") || key.includes("/")) return undefined;
  const lower = key.toLowerCase();
  // Short keys tolerate one letter off (two would take `appId` for `vpcId`), longer ones two.
  return DEPLOYMENT_CONTEXT_KEYS.find((ours) => editDistance(ours.toLowerCase(), lower) <= (ours.length <= 8 ? 1 : 2));
}

/** Levenshtein distance (insertions, deletions, substitutions). */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    previous = current;
  }
  return previous[b.length]!;
}

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

function text(key: string, value: unknown, pattern: RegExp, expected: string): string {
  if (typeof value !== "string" || !pattern.test(value.trim())) throw problem(key, expected, value);
  return value.trim();
}

/** A JSON array of strings, or one comma-separated string (what `-c` gives). */
function list(key: string, value: unknown, expected: string): string[] {
  const entries = typeof value === "string" ? value.split(/[\s,]+/).filter((entry) => entry !== "") : Array.isArray(value) && value.every((entry) => typeof entry === "string") ? value.map((entry) => entry.trim()) : undefined;
  if (entries === undefined || entries.length === 0) throw problem(key, `${expected} (a JSON array of strings, or comma-separated)`, value);
  return entries;
}

function boolean(key: string, value: unknown): boolean {
  if (value === true || value === "true") return true;
  if (value === false || value === "false") return false;
  throw problem(key, "true or false", value);
}

/** Nomad's address must be one the task can reach: a loopback address would be the task itself. */
function nomadAddress(value: unknown): string {
  const expected = "Nomad's address as reachable from the VPC, such as https://nomad.internal:4646";
  if (typeof value !== "string") throw problem("nomadAddr", expected, value);
  let host: string;
  try {
    host = new URL(readNomadConfig({ NOMAD_ADDR: value.trim() }).address).hostname;
  } catch (error) {
    throw new DeploymentContextError(problem("nomadAddr", expected, value).message, { cause: error });
  }
  if (host === "localhost" || /^127\./.test(host) || host === "[::1]") throw problem("nomadAddr", `${expected} (a loopback address is the task itself)`, value);
  return value.trim();
}

/** The streamer's and its network's settings; each but nomadAddr only means something with it. */
function readStreamerContext(value: (key: (typeof DEPLOYMENT_CONTEXT_KEYS)[number]) => unknown, settings: { -readonly [K in keyof DeploymentSettings]: DeploymentSettings[K] }): void {
  const addr = value("nomadAddr");
  if (addr === undefined) {
    const orphan = STREAMER_KEYS.find((key) => value(key) !== undefined);
    if (orphan !== undefined) {
      throw new DeploymentContextError(`Context value ${orphan} configures the streamer's service, which is deployed only with nomadAddr: set nomadAddr too (in cdk.json "context" or with -c nomadAddr=https://nomad.internal:4646)`);
    }
    return;
  }
  settings.nomadAddr = nomadAddress(addr);
  const region = value("nomadRegion");
  if (region !== undefined) settings.nomadRegion = text("nomadRegion", region, /^[A-Za-z0-9._-]{1,128}$/, "a Nomad region name");
  const namespace = value("nomadNamespace");
  if (namespace !== undefined) settings.nomadNamespace = text("nomadNamespace", namespace, /^(\*|[A-Za-z0-9-]{1,128})$/, "a Nomad namespace name, or * for all");
  const secret = value("nomadTokenSecretArn");
  if (secret !== undefined) {
    settings.nomadTokenSecretArn = text(
      "nomadTokenSecretArn",
      secret,
      /^arn:aws(-[a-z]+)*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+-[A-Za-z0-9]{6}$/,
      "the complete ARN of a Secrets Manager secret, with the 6-character suffix Secrets Manager adds (arn:aws:secretsmanager:<region>:<account>:secret:<name>-AbCdEf)",
    );
  }
  const cluster = value("streamerCluster");
  if (cluster !== undefined) settings.streamerCluster = text("streamerCluster", cluster, STREAMER_CLUSTER_PATTERN, STREAMER_CLUSTER_RULE);
  const endpoints = value("vpcEndpoints");
  if (endpoints !== undefined) settings.vpcEndpoints = boolean("vpcEndpoints", endpoints);

  const vpcId = value("vpcId");
  if (vpcId === undefined) {
    const existingOnly = (["privateSubnetIds", "privateSubnetRouteTableIds", "availabilityZones"] as const).find((key) => value(key) !== undefined);
    if (existingOnly !== undefined) throw new DeploymentContextError(`Context value ${existingOnly} describes an existing VPC: set vpcId too, or leave it out to create a VPC`);
    const nat = value("natGateways");
    if (nat !== undefined) settings.natGateways = integer("natGateways", nat, 0, 2);
    const cidr = value("vpcCidr");
    if (cidr !== undefined) {
      const checked = text("vpcCidr", cidr, /^(\d{1,3}\.){3}\d{1,3}\/(1[6-9]|2[0-4])$/, "an IPv4 CIDR from /16 to /24");
      try {
        parseCidrList(checked);
      } catch (error) {
        throw new DeploymentContextError(problem("vpcCidr", "an IPv4 CIDR from /16 to /24", cidr).message, { cause: error });
      }
      settings.vpcCidr = checked;
    }
    return;
  }
  const newOnly = (["natGateways", "vpcCidr"] as const).find((key) => value(key) !== undefined);
  if (newOnly !== undefined) throw new DeploymentContextError(`Context value ${newOnly} describes the VPC this stack creates, but vpcId names an existing one: leave out one or the other`);
  settings.vpcId = text("vpcId", vpcId, /^vpc-[0-9a-f]{8,17}$/, "a VPC ID such as vpc-0123456789abcdef0");
  const subnets = value("privateSubnetIds");
  const zones = value("availabilityZones");
  if (subnets === undefined || zones === undefined) throw new DeploymentContextError(`Context value vpcId needs privateSubnetIds and availabilityZones too: the streamer's subnets and their zones (no lookup, so synthesis stays offline)`);
  settings.privateSubnetIds = list("privateSubnetIds", subnets, "subnet IDs");
  settings.availabilityZones = list("availabilityZones", zones, "availability zone names");
  const tables = value("privateSubnetRouteTableIds");
  if (tables !== undefined) settings.privateSubnetRouteTableIds = list("privateSubnetRouteTableIds", tables, "route table IDs");
  try {
    checkExistingVpc("Context values", { vpcId: settings.vpcId, privateSubnetIds: settings.privateSubnetIds, availabilityZones: settings.availabilityZones, ...(settings.privateSubnetRouteTableIds !== undefined ? { privateSubnetRouteTableIds: settings.privateSubnetRouteTableIds } : {}) }, settings.vpcEndpoints ?? true);
  } catch (error) {
    throw new DeploymentContextError(`${(error as Error).message} (set it in cdk.json "context" or with -c key=...; vpcEndpoints=false needs no route tables)`, { cause: error });
  }
}

/**
 * Reads and checks the deployment's context values at once (before any bundling), so a typo
 * fails the synthesis with the key's name. `context` is the app's whole context
 * (`app.node.getAllContext()`): every key it holds is checked, so a misspelt key fails too
 * instead of being ignored: one that is not ours but differs from one of ours only in case
 * or by a letter (two for keys longer than 8 letters).
 */
export function readDeploymentContext(context: Readonly<Record<string, unknown>>): DeploymentSettings {
  for (const key of Object.keys(context)) {
    const meant = misspeltKey(key);
    if (meant !== undefined) throw new DeploymentContextError(`Context key ${key} is not one this app reads; did you mean ${meant}? (set in cdk.json "context" or with -c ${key}=...; the keys are listed in the README)`);
  }
  const value = (key: (typeof DEPLOYMENT_CONTEXT_KEYS)[number]) => {
    const raw = context[key];
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
  readStreamerContext(value, settings);
  return settings;
}
