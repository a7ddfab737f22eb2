import { ALL_NAMESPACES } from "../tokens/scope";
import type { DynamoTokenStore } from "../tokens/dynamo-token-store";
import {
  BOOTSTRAP_ACCESSOR_ID,
  newTokenIds,
  parseAccessorId,
  parseTokenChange,
  parseTokenSpec,
  toPublicToken,
  TOKEN_TYPE_MANAGEMENT,
  TOKEN_TYPE_TEAM,
  type PublicToken,
  type Token,
} from "../tokens/token";
import { denied, describeList, namespacesOutside, owns, ownershipGuard, visibleTo, type Principal } from "./access";
import { empty, json, queryMeta, writeMeta } from "./http";
import { parseJsonBody, type Request, type Route } from "./router";

export type TokenStore = Pick<DynamoTokenStore, "create" | "get" | "list" | "update" | "delete" | "bySecret">;

const NOT_FOUND = "ACL token not found";

/** The configured management token, as `GET /v1/acl/token/self` shows it. */
function bootstrapView(): PublicToken {
  return {
    AccessorID: BOOTSTRAP_ACCESSOR_ID,
    Name: "Bootstrap token (SINKS_MANAGEMENT_TOKEN)",
    Type: TOKEN_TYPE_MANAGEMENT,
    Policies: null,
    Roles: null,
    Global: false,
    CreateTime: new Date(0).toISOString(),
    ExpirationTime: null,
    CreateIndex: 0,
    ModifyIndex: 0,
    Team: "",
    Namespaces: [ALL_NAMESPACES],
    ClusterTopics: true,
  };
}

/**
 * What a team token may grant (creating or changing a token of its team): no more than it
 * holds itself, so it can never widen its own reach or its team's.
 */
function checkGrant(principal: Principal, grant: Pick<Token, "Type" | "Team" | "Namespaces" | "ClusterTopics" | "ExpiresAt">): void {
  if (principal.kind === "management") return;
  const own = principal.token;
  if (grant.Type !== TOKEN_TYPE_TEAM) throw denied("a team token cannot create a management token");
  if (grant.Team !== own.Team) throw denied(`a team token manages its own team's (${JSON.stringify(own.Team)}) tokens only; received Team ${JSON.stringify(grant.Team)}`);
  const outside = namespacesOutside(principal, grant.Namespaces);
  if (outside.length > 0) throw denied(`namespaces ${describeList(outside)} are outside this token's namespaces (${describeList(own.Namespaces)})`);
  if (grant.ClusterTopics && !own.ClusterTopics) throw denied("this token does not allow cluster-wide topics (ClusterTopics), so it cannot grant them");
  if (own.ExpiresAt !== undefined && (grant.ExpiresAt === undefined || grant.ExpiresAt > own.ExpiresAt)) {
    throw denied(`this token expires at ${new Date(own.ExpiresAt).toISOString()}; a token it grants must expire no later`);
  }
}

/** What a team token may change in a token of its team: it may narrow anything, and widen only within its own grants. */
function checkChange(principal: Principal, current: Token, next: Token): void {
  if (principal.kind === "management") return;
  const own = principal.token;
  const added = next.Namespaces.filter((n) => !current.Namespaces.includes(n));
  const outside = namespacesOutside(principal, added);
  if (outside.length > 0) throw denied(`namespaces ${describeList(outside)} are outside this token's namespaces (${describeList(own.Namespaces)})`);
  if (next.ClusterTopics && !current.ClusterTopics && !own.ClusterTopics) throw denied("this token does not allow cluster-wide topics (ClusterTopics), so it cannot grant them");
  const later = next.ExpiresAt === undefined ? current.ExpiresAt !== undefined : current.ExpiresAt !== undefined && next.ExpiresAt > current.ExpiresAt;
  if (!later) return;
  // Keeping a token alive longer grants its reach for longer: only a reach this token holds itself, and no longer than it lasts.
  const beyond = namespacesOutside(principal, next.Namespaces);
  if (beyond.length > 0 || (next.ClusterTopics && !own.ClusterTopics)) {
    throw denied(`a team token may extend the expiry only of tokens whose grants it holds itself; this one grants ${next.ClusterTopics && !own.ClusterTopics ? "ClusterTopics" : `namespaces ${describeList(beyond)}`} beyond it`);
  }
  if (own.ExpiresAt !== undefined && (next.ExpiresAt === undefined || next.ExpiresAt > own.ExpiresAt)) {
    throw denied(`this token expires at ${new Date(own.ExpiresAt).toISOString()}; a token it changes must expire no later`);
  }
}

/** Nomad's ACL token endpoints (`/v1/acl/tokens`, `/v1/acl/token[/:accessor_id|/self]`) for this service's tokens. */
export function aclRoutes(tokens: TokenStore, now: () => number): Route[] {
  const visible = (principal: Principal, token: Token | undefined): Token => visibleTo(principal, token, NOT_FOUND);
  return [
    {
      pattern: ["acl", "tokens"],
      methods: {
        GET: async (request) => {
          const { value, index } = await tokens.list();
          const shown = value.filter((t) => owns(request.principal, t.Team)).map((t) => toPublicToken(t));
          return json(shown, { pretty: request.pretty, headers: queryMeta(index) });
        },
      },
    },
    {
      pattern: ["acl", "token"],
      methods: {
        // Nomad creates with POST (and PUT) on /v1/acl/token.
        POST: create,
        PUT: create,
      },
    },
    {
      pattern: ["acl", "token", "self"],
      methods: {
        GET: async (request) => {
          const { token } = request.principal;
          return json(token === undefined ? bootstrapView() : toPublicToken(token), { pretty: request.pretty });
        },
      },
    },
    {
      pattern: ["acl", "token", ":id"],
      parseId: parseAccessorId,
      idName: "ACL token accessor ID",
      methods: {
        GET: async (request, id) => {
          const token = visible(request.principal, await tokens.get(id));
          return json(toPublicToken(token), { pretty: request.pretty, headers: queryMeta(token.ModifyIndex) });
        },
        POST: update,
        PUT: update,
        DELETE: async (request, id) => {
          const { index } = await tokens.delete(id, ownershipGuard(request.principal, NOT_FOUND, { allowAbsent: false }));
          return empty(writeMeta(index));
        },
      },
    },
  ];

  async function create(request: Request) {
    const at = now();
    // A team token's new token is for its team, unless it names another (refused by checkGrant).
    const spec = parseTokenSpec(parseJsonBody(request), at, request.principal.kind === "team" ? request.principal.token.Team : undefined);
    checkGrant(request.principal, spec);
    const ids = newTokenIds();
    const { value, index } = await tokens.create(spec, ids, at);
    return json(toPublicToken(value, ids.secret), { pretty: request.pretty, headers: writeMeta(index) });
  }

  async function update(request: Request, id: string) {
    const at = now();
    const body = parseJsonBody(request);
    const { value, index } = await tokens.update(
      id,
      (current) => {
        visible(request.principal, current);
        return parseTokenChange(body, current, at);
      },
      (current, next) => checkChange(request.principal, current, next),
    );
    return json(toPublicToken(value), { pretty: request.pretty, headers: writeMeta(index) });
  }
}
