import { NotFoundError } from "../errors";
import { canonicalTopic, CLUSTER_TOPICS } from "../nomad/topics";
import { ALL_NAMESPACES, isExpired, MANAGEMENT_ONLY_TOPICS, TEAM_CLUSTER_TOPICS } from "../tokens/scope";
import { TOKEN_TYPE_MANAGEMENT, type Token } from "../tokens/token";
import { presentedToken, tokensEqual, type TokenSource } from "./auth";
import { HttpError } from "./http";

/**
 * Who makes a request: a management token (the configured bootstrap token, or a stored
 * management token) may do anything; a team token acts on its own team's sinks and tokens,
 * within its own namespaces.
 */
export type Principal = { readonly kind: "management"; readonly token: Token | undefined } | { readonly kind: "team"; readonly token: Token & { readonly Team: string } };

/** Where stored tokens are found by their secret. */
export interface TokenLookup {
  bySecret(secret: string): Promise<Token | undefined>;
}

/** Refusals say "Permission denied", as Nomad's do, and then why. */
export function denied(why?: string): HttpError {
  return new HttpError(403, why ? `Permission denied: ${why}` : "Permission denied");
}

/** Resolves the request's token; 403 when there is none, it is unknown, or it expired. */
export async function authenticate(headers: Readonly<Record<string, string | undefined>>, tokens: TokenSource, lookup: TokenLookup, now: number): Promise<Principal> {
  const presented = presentedToken(headers);
  if (presented === undefined) throw denied();
  if (tokensEqual(presented, await tokens.managementToken())) return { kind: "management", token: undefined };
  const token = await lookup.bySecret(presented);
  if (token === undefined) throw denied();
  if (isExpired(token, now)) throw denied("ACL token expired");
  if (token.Type === TOKEN_TYPE_MANAGEMENT) return { kind: "management", token };
  if (token.Team === undefined) throw denied();
  return { kind: "team", token: token as Token & { Team: string } };
}


/** Whether a team principal may see something owned by `team` (management sees everything). */
export function owns(principal: Principal, team: string | undefined): boolean {
  return principal.kind === "management" || team === principal.token.Team;
}

/** `value` if the principal may see it; otherwise NotFoundError(notFound), as for a missing one (names do not leak). */
export function visibleTo<T extends { readonly Team?: string }>(principal: Principal, value: T | undefined, notFound: string): T {
  if (value === undefined || !owns(principal, value.Team)) throw new NotFoundError(notFound);
  return value;
}

/** A guard for store writes: what the principal may not see answers 404, as if absent (names do not leak). */
export function ownershipGuard<T extends { readonly Team?: string }>(principal: Principal, notFound: string, options: { allowAbsent: boolean }): (current: T | undefined) => void {
  return (current) => {
    if (current !== undefined || !options.allowAbsent) visibleTo(principal, current, notFound);
  };
}

/** Namespaces in `wanted` that the principal's token does not cover. */
export function namespacesOutside(principal: Principal, wanted: readonly string[]): string[] {
  if (principal.kind === "management") return [];
  const own = new Set(principal.token.Namespaces);
  if (own.has(ALL_NAMESPACES)) return [];
  return wanted.filter((n) => !own.has(n));
}

/**
 * Why a team's sink may not have these topics (it would never receive them, scopeAdmits): ACL
 * topics, the other cluster-wide topics, and Node and NodePool without ClusterTopics. Empty
 * when it may.
 */
export function teamTopicProblems(principal: Principal, topics: Readonly<Record<string, readonly string[]>>): string[] {
  if (principal.kind === "management") return [];
  const names = Object.keys(topics).map((t) => canonicalTopic(t) ?? t);
  const problems: string[] = [];
  const acl = names.filter((t) => MANAGEMENT_ONLY_TOPICS.has(t));
  if (acl.length > 0) problems.push(`the topics ${acl.join(", ")} need a management token`);
  const never = names.filter((t) => CLUSTER_TOPICS.has(t) && !MANAGEMENT_ONLY_TOPICS.has(t) && !TEAM_CLUSTER_TOPICS.has(t));
  if (never.length > 0) problems.push(`the topics ${never.join(", ")} are cluster-wide; a team's sink receives only Node and NodePool of those (with ClusterTopics)`);
  const cluster = names.filter((t) => TEAM_CLUSTER_TOPICS.has(t));
  if (cluster.length > 0 && !principal.token.ClusterTopics) problems.push(`the topics ${cluster.join(", ")} are cluster-wide; this token does not allow them (ClusterTopics is false)`);
  return problems;
}

export function describeList(names: readonly string[]): string {
  return names.map((n) => JSON.stringify(n)).join(", ");
}
