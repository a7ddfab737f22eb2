/**
 * Every event topic of current Nomad (EVENT-STREAM-SPEC 2.1), plus the `*` wildcard.
 * `Operator` is Enterprise-only but valid on the wire.
 */
export const NOMAD_TOPICS = [
  "*",
  "ACLToken",
  "ACLPolicy",
  "ACLRole",
  "ACLAuthMethod",
  "ACLBindingRule",
  "Allocation",
  "CSIPlugin",
  "CSIVolume",
  "Deployment",
  "Evaluation",
  "HostVolume",
  "Job",
  "Node",
  "NodePool",
  "Operator",
  "Service",
  "Variable",
] as const;

export type NomadTopic = (typeof NOMAD_TOPICS)[number];

/** Nomad 1.0.0-beta names, accepted in sink filters and stored under the current name. */
export const TOPIC_ALIASES: Readonly<Record<string, NomadTopic>> = {
  Eval: "Evaluation",
  Alloc: "Allocation",
};

const known = new Set<string>(NOMAD_TOPICS);

export function isNomadTopic(name: string): name is NomadTopic {
  return known.has(name);
}

/** The current topic name for `name` (aliases resolved), or undefined if unknown. */
export function canonicalTopic(name: string): NomadTopic | undefined {
  if (isNomadTopic(name)) return name;
  return Object.hasOwn(TOPIC_ALIASES, name) ? TOPIC_ALIASES[name] : undefined;
}

/** Topics whose events carry no namespace (cluster-wide). */
export const CLUSTER_TOPICS: ReadonlySet<string> = new Set(["Node", "NodePool", "ACLToken", "ACLPolicy", "ACLRole", "ACLAuthMethod", "ACLBindingRule", "CSIPlugin", "Operator"]);
