import { createHash, randomUUID } from "node:crypto";
import { z } from "zod";
import { ValidationError } from "../errors";
import { parseGoDuration } from "../go-duration";
import { parseRfc3339, rfc3339Schema } from "../rfc3339";
import { parseOrThrow } from "../validation";
import { ALL_NAMESPACES, NamespacesSchema, TeamNameSchema, type ScopeGrant } from "./scope";

export const TOKEN_TYPE_MANAGEMENT = "management";
export const TOKEN_TYPE_TEAM = "team";
export type TokenType = typeof TOKEN_TYPE_MANAGEMENT | typeof TOKEN_TYPE_TEAM;
export const TOKEN_NAME_MAX_LENGTH = 256;

/** The configured management token (SINKS_MANAGEMENT_TOKEN): not stored, always valid. */
export const BOOTSTRAP_ACCESSOR_ID = "bootstrap";

/** A token as stored: Nomad's ACL token fields that apply here, its team grants, and its secret's hash (never the secret). */
export interface Token extends ScopeGrant {
  readonly AccessorID: string;
  readonly Name: string;
  readonly Type: TokenType;
  /** Epoch milliseconds. */
  readonly CreateTime: number;
  readonly CreateIndex: number;
  readonly ModifyIndex: number;
  /** SHA-256 (hex) of the secret. */
  readonly SecretHash: string;
}

/** What the API shows of a token: Nomad's ACLToken fields, then ours. `SecretID` only at creation. */
export interface PublicToken {
  AccessorID: string;
  SecretID?: string;
  Name: string;
  Type: string;
  Policies: null;
  Roles: null;
  Global: boolean;
  CreateTime: string;
  ExpirationTime: string | null;
  CreateIndex: number;
  ModifyIndex: number;
  Team: string;
  Namespaces: string[];
  ClusterTopics: boolean;
}

export function toPublicToken(token: Token, secret?: string): PublicToken {
  return {
    AccessorID: token.AccessorID,
    ...(secret !== undefined ? { SecretID: secret } : {}),
    Name: token.Name,
    Type: token.Type,
    Policies: null,
    Roles: null,
    Global: false,
    CreateTime: new Date(token.CreateTime).toISOString(),
    ExpirationTime: token.ExpiresAt !== undefined ? new Date(token.ExpiresAt).toISOString() : null,
    CreateIndex: token.CreateIndex,
    ModifyIndex: token.ModifyIndex,
    Team: token.Team ?? "",
    Namespaces: [...token.Namespaces],
    ClusterTopics: token.ClusterTopics,
  };
}

/** Secrets are random UUIDs (122 bits), so one SHA-256 is enough to store them safely. */
export function hashSecret(secret: string): string {
  return createHash("sha256").update(secret, "utf8").digest("hex");
}

export function newTokenIds(): { accessorId: string; secret: string } {
  return { accessorId: randomUUID(), secret: randomUUID() };
}

const NameSchema = z.string({ error: "must be a string" }).max(TOKEN_NAME_MAX_LENGTH, { error: `must be at most ${TOKEN_NAME_MAX_LENGTH} characters` });

const ExpirationTimeSchema = rfc3339Schema("2030-01-02T15:04:05Z").nullable();

const ExpirationTtlSchema = z
  .string({ error: 'must be a duration such as "1h" or "72h30m"' })
  .refine((text) => text === "" || (parseGoDuration(text) ?? 0) > 0, { error: 'must be a positive duration such as "10m", "1h" or "72h30m"' });

/** Nomad's fields that do not apply here: accepted empty (the Go client sends them), refused otherwise. */
const NotSupported = (what: string) => z.union([z.null(), z.array(z.never()).length(0)], { error: `${what} are not supported here; a token's scope is its Type, Team, Namespaces and ClusterTopics` }).optional();
const ServerManaged = z.unknown().optional();

const TokenBodySchema = z.strictObject(
  {
    AccessorID: z.string({ error: "must be a string" }).optional(),
    Name: NameSchema.optional(),
    Type: z.enum([TOKEN_TYPE_MANAGEMENT, TOKEN_TYPE_TEAM], { error: `must be "${TOKEN_TYPE_MANAGEMENT}" or "${TOKEN_TYPE_TEAM}"` }).optional(),
    Team: z.union([z.literal(""), TeamNameSchema]).optional(),
    Namespaces: NamespacesSchema.optional(),
    ClusterTopics: z.boolean({ error: "must be true or false" }).optional(),
    ExpirationTime: ExpirationTimeSchema.optional(),
    ExpirationTTL: ExpirationTtlSchema.optional(),
    Policies: NotSupported("ACL policies"),
    Roles: NotSupported("ACL roles"),
    Global: z.literal(false, { error: "must be false: tokens live in this service, not replicated across Nomad regions" }).optional(),
    SecretID: ServerManaged,
    CreateTime: ServerManaged,
    CreateIndex: ServerManaged,
    ModifyIndex: ServerManaged,
    Hash: ServerManaged,
  },
  { error: "must be a JSON object with a Type and, for a team token, its Team and Namespaces" },
);

type TokenBody = z.output<typeof TokenBodySchema>;

/** A validated `POST /v1/acl/token` body: what a new token grants. */
export interface TokenSpec {
  readonly Name: string;
  readonly Type: TokenType;
  readonly Team?: string;
  readonly Namespaces: string[];
  readonly ClusterTopics: boolean;
  readonly ExpiresAt?: number;
}

function expiresAt(body: TokenBody, now: number): { ExpiresAt?: number } | { problem: string } | undefined {
  const ttl = body.ExpirationTTL !== undefined && body.ExpirationTTL !== "" ? parseGoDuration(body.ExpirationTTL) : undefined;
  if (ttl !== undefined && body.ExpirationTime !== undefined && body.ExpirationTime !== null) return { problem: "ExpirationTime and ExpirationTTL: give one or the other, not both" };
  if (ttl !== undefined) return { ExpiresAt: now + ttl };
  if (body.ExpirationTime === null) return {};
  if (body.ExpirationTime === undefined) return undefined;
  const at = parseRfc3339(body.ExpirationTime)!;
  if (at <= now) return { problem: `ExpirationTime: must be in the future; received ${JSON.stringify(body.ExpirationTime)}` };
  return { ExpiresAt: at };
}

function invalid(problems: string[]): never {
  throw new ValidationError(`invalid ACL token: ${problems.join("; ")}`, problems);
}

/**
 * Validates the body of `POST /v1/acl/token`; throws ValidationError naming each bad field.
 * `defaultTeam` is the Team of a team token without one (a team token's own team).
 */
export function parseTokenSpec(input: unknown, now: number, defaultTeam?: string): TokenSpec {
  const parsed = parseOrThrow(TokenBodySchema, input, "ACL token");
  const body = parsed.Type === TOKEN_TYPE_TEAM && (parsed.Team === undefined || parsed.Team === "") && defaultTeam !== undefined ? { ...parsed, Team: defaultTeam } : parsed;
  const problems: string[] = [];
  if (body.Type === undefined) problems.push(`Type: required, "${TOKEN_TYPE_MANAGEMENT}" or "${TOKEN_TYPE_TEAM}"; received nothing`);
  if (body.AccessorID !== undefined && body.AccessorID !== "") problems.push(`AccessorID: must be empty when creating a token (it is assigned); received ${JSON.stringify(body.AccessorID)}`);
  const expiry = expiresAt(body, now);
  if (expiry !== undefined && "problem" in expiry) problems.push(expiry.problem);
  if (body.Type === TOKEN_TYPE_TEAM) {
    if (body.Team === undefined || body.Team === "") problems.push("Team: required for a team token; received nothing");
    if (body.Namespaces === undefined) problems.push('Namespaces: required for a team token, such as ["default"]; received nothing');
    else if (body.Namespaces.includes(ALL_NAMESPACES)) problems.push(`Namespaces: "${ALL_NAMESPACES}" is for management tokens only; list the team's namespaces`);
  }
  if (body.Type === TOKEN_TYPE_MANAGEMENT) {
    if (body.Team !== undefined && body.Team !== "") problems.push(`Team: a management token belongs to no team; received ${JSON.stringify(body.Team)}`);
    if (body.Namespaces !== undefined && !body.Namespaces.includes(ALL_NAMESPACES)) problems.push(`Namespaces: a management token covers every namespace ("${ALL_NAMESPACES}"); received ${JSON.stringify(body.Namespaces)}`);
    if (body.ClusterTopics === false) problems.push("ClusterTopics: a management token receives every topic; received false");
  }
  if (problems.length > 0) invalid(problems);
  const management = body.Type === TOKEN_TYPE_MANAGEMENT;
  return {
    Name: body.Name ?? "",
    Type: body.Type!,
    ...(management ? {} : { Team: body.Team! }),
    Namespaces: management ? [ALL_NAMESPACES] : body.Namespaces!,
    ClusterTopics: management ? true : (body.ClusterTopics ?? false),
    ...(expiry !== undefined && "ExpiresAt" in expiry ? { ExpiresAt: expiry.ExpiresAt } : {}),
  };
}

/** A validated `POST /v1/acl/token/:accessor_id` body: the fields it changes. */
export interface TokenChange {
  readonly Name?: string;
  readonly Namespaces?: string[];
  readonly ClusterTopics?: boolean;
  /** null: no longer expires. */
  readonly ExpiresAt?: number | null;
}

/** Validates an update of `current`; Type and Team cannot change. */
export function parseTokenChange(input: unknown, current: Token, now: number): TokenChange {
  const body = parseOrThrow(TokenBodySchema, input, "ACL token");
  const problems: string[] = [];
  if (body.AccessorID !== undefined && body.AccessorID !== "" && body.AccessorID !== current.AccessorID) {
    problems.push(`AccessorID: does not match the path; the body has ${JSON.stringify(body.AccessorID)}, the path ${JSON.stringify(current.AccessorID)}`);
  }
  if (body.Type !== undefined && body.Type !== current.Type) problems.push(`Type: cannot change (the token is a ${current.Type} token); create a new token instead; received ${JSON.stringify(body.Type)}`);
  if (body.Team !== undefined && body.Team !== (current.Team ?? "")) problems.push(`Team: cannot change (the token belongs to ${JSON.stringify(current.Team ?? "")}); create a new token instead; received ${JSON.stringify(body.Team)}`);
  const expiry = expiresAt(body, now);
  if (expiry !== undefined && "problem" in expiry) problems.push(expiry.problem);
  const management = current.Type === TOKEN_TYPE_MANAGEMENT;
  if (body.Namespaces !== undefined && management !== body.Namespaces.includes(ALL_NAMESPACES)) {
    problems.push(management ? `Namespaces: a management token covers every namespace ("${ALL_NAMESPACES}"); received ${JSON.stringify(body.Namespaces)}` : `Namespaces: "${ALL_NAMESPACES}" is for management tokens only; list the team's namespaces`);
  }
  if (management && body.ClusterTopics === false) problems.push("ClusterTopics: a management token receives every topic; received false");
  if (problems.length > 0) invalid(problems);
  return {
    ...(body.Name !== undefined ? { Name: body.Name } : {}),
    ...(body.Namespaces !== undefined && !management ? { Namespaces: body.Namespaces } : {}),
    ...(body.ClusterTopics !== undefined && !management ? { ClusterTopics: body.ClusterTopics } : {}),
    ...(expiry !== undefined && !("problem" in expiry) ? { ExpiresAt: expiry.ExpiresAt ?? null } : {}),
  };
}

/** Validates an accessor ID taken from a path. */
export function parseAccessorId(id: string): string {
  if (!/^[A-Za-z0-9-]{1,64}$/.test(id)) invalid([`accessor ID in the path: must be a token's AccessorID (a UUID); received ${JSON.stringify(id.slice(0, 80))}`]);
  return id;
}
