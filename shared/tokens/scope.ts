import { z } from "zod";
import type { NomadEvent } from "../nomad/event";
import { CLUSTER_TOPICS } from "../nomad/topics";
import { GAP_TOPIC } from "../streamer/event-contract";

/** Nomad's rule for namespace names (structs.validNamespaceName). */
const NAMESPACE_PATTERN = /^[a-zA-Z0-9-]{1,128}$/;
export const TEAM_NAME_MAX_LENGTH = 128;
const TEAM_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
export const NAMESPACES_MAX = 100;

/** Every namespace: a management token's scope, and a sink without a namespace filter. */
export const ALL_NAMESPACES = "*";

/** Topics only a management token may subscribe to (Nomad requires a management token for them): the ACL ones. */
export const MANAGEMENT_ONLY_TOPICS: ReadonlySet<string> = new Set([...CLUSTER_TOPICS].filter((topic) => topic.startsWith("ACL")));
/** Cluster-wide topics a team may receive when its token allows it (`ClusterTopics`). */
export const TEAM_CLUSTER_TOPICS: ReadonlySet<string> = new Set(["Node", "NodePool"]);

export const TeamNameSchema = z
  .string({ error: "must be a string" })
  .min(1, { error: "must not be empty", abort: true })
  .max(TEAM_NAME_MAX_LENGTH, { error: `must be at most ${TEAM_NAME_MAX_LENGTH} characters`, abort: true })
  .regex(TEAM_PATTERN, { error: "must start with a letter or digit and contain only letters, digits, '.', '_' and '-'" });

/** A list of Nomad namespace names, or `["*"]` for all; duplicates are dropped. */
export const NamespacesSchema = z
  .array(
    z
      .string({ error: "must be a string" })
      .refine((name) => name === ALL_NAMESPACES || NAMESPACE_PATTERN.test(name), { error: `must be a Nomad namespace name (letters, digits and '-', 1 to 128 characters) or "${ALL_NAMESPACES}"` }),
    { error: 'must be a list of namespace names, such as ["default"]' },
  )
  .min(1, { error: `must list at least one namespace (or "${ALL_NAMESPACES}" for all)` })
  .max(NAMESPACES_MAX, { error: `must list at most ${NAMESPACES_MAX} namespaces` })
  .transform((names) => (names.includes(ALL_NAMESPACES) ? [ALL_NAMESPACES] : [...new Set(names)]));

/** What a team may receive: the union of what its live tokens grant. */
export interface TeamScope {
  readonly namespaces: ReadonlySet<string>;
  readonly clusterTopics: boolean;
}

/** The grants a token carries, as far as scope goes. */
export interface ScopeGrant {
  readonly Team?: string;
  readonly Namespaces: readonly string[];
  readonly ClusterTopics: boolean;
  /** Epoch milliseconds; absent when the token never expires. */
  readonly ExpiresAt?: number;
}

export function isExpired(grant: Pick<ScopeGrant, "ExpiresAt">, now: number): boolean {
  return grant.ExpiresAt !== undefined && grant.ExpiresAt <= now;
}

/**
 * Each team's scope from its tokens that have not expired at `now`: the namespaces any of
 * them grants, and whether any allows cluster-wide topics. A team without a live token has
 * no scope (its sinks receive nothing).
 */
export function teamScopes(grants: Iterable<ScopeGrant>, now: number): Map<string, TeamScope> {
  const scopes = new Map<string, { namespaces: Set<string>; clusterTopics: boolean }>();
  for (const grant of grants) {
    if (grant.Team === undefined || isExpired(grant, now)) continue;
    let scope = scopes.get(grant.Team);
    if (!scope) scopes.set(grant.Team, (scope = { namespaces: new Set(), clusterTopics: false }));
    for (const namespace of grant.Namespaces) scope.namespaces.add(namespace);
    scope.clusterTopics ||= grant.ClusterTopics;
  }
  return scopes;
}

/** What decides, besides its topic filter, whether a sink may receive an event. */
export interface ScopedSink {
  /** The owning team; absent for a sink made with a management token. */
  readonly Team?: string;
  /** The sink's own namespace filter; absent means every namespace (of its team). */
  readonly Namespaces?: readonly string[];
}

function namespaceAllowed(list: readonly string[] | ReadonlySet<string> | undefined, namespace: string): boolean {
  if (list === undefined) return true;
  const has = (name: string) => ("has" in list ? list.has(name) : list.includes(name));
  return has(ALL_NAMESPACES) || has(namespace);
}

/**
 * Whether the scope rules let `event` reach `sink` (its topic filter is checked apart):
 * - a namespaced event passes the sink's namespace filter and, for a team's sink, the
 *   team's namespaces (the effective namespaces are the intersection);
 * - an event without a namespace is cluster-wide: a team's sink gets Node and NodePool
 *   events only when the team may (`ClusterTopics`), and no other cluster-wide topic;
 * - ACL topics never reach a team's sink;
 * - the pipeline's own gap markers concern every sink of a team with a live token;
 * - a team without a live token (`scope` undefined) gets nothing.
 */
export function scopeAdmits(sink: ScopedSink, scope: TeamScope | undefined, event: Pick<NomadEvent, "Topic" | "Namespace">): boolean {
  if (sink.Team === undefined) return event.Namespace === "" || namespaceAllowed(sink.Namespaces, event.Namespace);
  if (scope === undefined) return false;
  if (event.Topic === GAP_TOPIC) return true;
  if (MANAGEMENT_ONLY_TOPICS.has(event.Topic)) return false;
  if (event.Namespace === "") return scope.clusterTopics && TEAM_CLUSTER_TOPICS.has(event.Topic);
  return namespaceAllowed(sink.Namespaces, event.Namespace) && namespaceAllowed(scope.namespaces, event.Namespace);
}
