import type { APIGatewayProxyEventV2 } from "aws-lambda";
import type { Logger } from "@aws-lambda-powertools/logger";
import { ConflictError, NotFoundError, ValidationError } from "../errors";
import type { Sink, SinkRegistration } from "../sinks/sink";
import { parseSinkId, parseSinkRegistration, SINK_NOT_FOUND, toPublicSink } from "../sinks/sink";
import type { SinkStore } from "../sinks/sink-store";
import type { DeliveryAttempt, DeliveryLog } from "../delivery/delivery-log";
import { BlockedAddressError, type AddressGuard } from "../delivery/ssrf-guard";
import { authenticate, denied, describeList, namespacesOutside, owns, ownershipGuard, teamTopicProblems, visibleTo, type Principal } from "./access";
import { aclRoutes, type TokenStore } from "./acl-api";
import { replayRoutes, type ReplayStore } from "./replay-api";
import type { Replayer } from "../replay/replayer";
import type { TokenSource } from "./auth";
import { empty, HttpError, json, queryMeta, text, writeMeta, type Response } from "./http";
import { matchRoute, parseJsonBody, type Request, type Route } from "./router";
import { DELIVERIES_PER_PAGE_DEFAULT, DELIVERIES_PER_PAGE_MAX } from "./limits";

/** Largest request body accepted, in bytes. */
export const MAX_BODY_BYTES = 64 * 1024;

export interface SinksApiDeps {
  readonly store: SinkStore;
  /** Refuses webhook addresses that reach internal networks (checked again at every delivery). */
  readonly addressGuard: Pick<AddressGuard, "checkHost">;
  /** The attempt log, for `GET /v1/event/sink/:id/deliveries`. */
  readonly deliveries: Pick<DeliveryLog, "list">;
  /** Sends a sink's dead-lettered deliveries back to the delivery queue, in order. */
  readonly redrive: (sinkId: string) => Promise<{ moved: number }>;
  /** The configured management token (the bootstrap token). */
  readonly tokens: TokenSource;
  /** Stored tokens (management and team), for authentication and `/v1/acl/*`. */
  readonly acl: TokenStore;
  /** Replays of the bus archive (`/v1/event/replay`). */
  readonly replays: ReplayStore;
  /** Starts and follows replays; absent when there is no archive (the replay endpoints answer 501). */
  readonly replayer?: Replayer;
  readonly logger: Logger;
  readonly now?: () => number;
}

function splitPath(rawPath: string): string[] {
  const segments = rawPath.split("/").slice(1);
  return segments.map((segment) => {
    try {
      return decodeURIComponent(segment);
    } catch {
      throw new HttpError(400, `Invalid URL path: the segment ${JSON.stringify(segment)} is not valid percent-encoding`);
    }
  });
}

function normaliseHeaders(headers: APIGatewayProxyEventV2["headers"]): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(headers ?? {})) out[name.toLowerCase()] = value;
  return out;
}

function isPretty(query: Readonly<Record<string, string | undefined>>): boolean {
  if (!Object.hasOwn(query, "pretty")) return false;
  const value = query.pretty?.toLowerCase();
  return value !== "0" && value !== "false";
}

function decodeBody(event: APIGatewayProxyEventV2): Buffer | undefined {
  if (event.body === undefined || event.body === null) return undefined;
  return event.isBase64Encoded ? Buffer.from(event.body, "base64") : Buffer.from(event.body, "utf8");
}

/** Page size of `GET /v1/event/sink/:id/deliveries`: Nomad's `per_page` (limits in limits.ts). */
function perPage(query: Readonly<Record<string, string | undefined>>): number {
  const raw = query.per_page;
  if (raw === undefined || raw === "") return DELIVERIES_PER_PAGE_DEFAULT;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value < 1 || value > DELIVERIES_PER_PAGE_MAX) {
    throw new HttpError(400, `per_page must be a whole number from 1 to ${DELIVERIES_PER_PAGE_MAX}, but ${JSON.stringify(raw.slice(0, 50))} was given`);
  }
  return value;
}

function attemptView(attempt: DeliveryAttempt) {
  return {
    DeliveryID: attempt.DeliveryID,
    Attempt: attempt.Attempt,
    Outcome: attempt.Outcome,
    StatusCode: attempt.StatusCode,
    LatencyMs: attempt.LatencyMs,
    Error: attempt.Error,
    Events: attempt.Events,
    FirstIndex: attempt.FirstIndex,
    LastIndex: attempt.LastIndex,
    At: new Date(attempt.At).toISOString(),
    NextAttemptAt: attempt.NextAttemptAt !== undefined ? new Date(attempt.NextAttemptAt).toISOString() : null,
  };
}

function secretView(sink: Sink, now: number) {
  return {
    ID: sink.ID,
    Secret: sink.Secret,
    PreviousSecrets: sink.PreviousSecrets.filter((p) => p.ExpiresAt > now).map((p) => ({ Secret: p.Secret, ExpiresAt: new Date(p.ExpiresAt).toISOString() })),
  };
}

/** What `GET /v1/event/sink/:id/deliveries` lists, and what the secret endpoints answer (the CLI reads them as these types). */
export type AttemptView = ReturnType<typeof attemptView>;
export type SinkSecretView = ReturnType<typeof secretView>;


/**
 * A registration as the principal may make it: a team token's sink belongs to its team,
 * within its namespaces, without ACL topics (nor Node and NodePool unless allowed).
 */
function ownedRegistration(principal: Principal, registration: SinkRegistration): SinkRegistration {
  if (principal.kind === "management") return registration;
  const { Team: team, Namespaces: own } = principal.token;
  if (registration.Team !== undefined && registration.Team !== team) {
    throw denied(`a team token registers sinks for its own team (${JSON.stringify(team)}) only; received Team ${JSON.stringify(registration.Team)}`);
  }
  // Every reason at once, so one correction is enough.
  const problems = teamTopicProblems(principal, registration.Topics);
  const outside = namespacesOutside(principal, registration.Namespaces ?? []);
  if (outside.length > 0) problems.push(`namespaces ${describeList(outside)} are outside this token's namespaces (${describeList(own)})`);
  if (problems.length > 0) throw denied(problems.join("; "));
  return { ...registration, Team: team };
}

/**
 * The sinks API: Nomad 1.0-beta's `/v1/event/sinks` and `/v1/event/sink/:id` with its
 * paths, JSON field names, headers and status codes, plus secret management, and Nomad's
 * ACL token endpoints for this service's management and team tokens. Answers an API
 * Gateway HTTP API (payload v2) event.
 *
 * A team token sees and changes only its team's sinks and tokens: anything else answers
 * 404 as if it did not exist, so names do not leak.
 */
export function createSinksApi(deps: SinksApiDeps): (event: APIGatewayProxyEventV2) => Promise<Response> {
  const { store, tokens, logger } = deps;
  const now = deps.now ?? Date.now;

  /** The sink if the principal may see it; otherwise NotFoundError, as for a missing one. */
  async function visibleSink(principal: Principal, id: string): Promise<Sink> {
    return visibleTo(principal, await store.find(id), SINK_NOT_FOUND);
  }

  async function getSink(request: Request, id: string): Promise<Response> {
    const { value: sink, index } = await store.get(id);
    if (sink === undefined || !owns(request.principal, sink.Team)) return text(404, SINK_NOT_FOUND, queryMeta(index));
    return json(toPublicSink(sink), { pretty: request.pretty, headers: queryMeta(index) });
  }

  async function putSink(request: Request, id: string): Promise<Response> {
    const registration = ownedRegistration(request.principal, parseSinkRegistration(parseJsonBody(request)));
    if (registration.ID !== id) {
      throw new HttpError(400, `Event sink name does not match request path: the body has ID ${JSON.stringify(registration.ID)}, the path ${JSON.stringify(id)}`);
    }
    await checkAddress(registration.Address);
    const { index } = await store.put(registration, now(), ownershipGuard(request.principal, SINK_NOT_FOUND, { allowAbsent: true }));
    return empty(writeMeta(index));
  }

  /** A webhook that reaches an internal network is refused here, before anything is stored. */
  async function checkAddress(address: string): Promise<void> {
    try {
      await deps.addressGuard.checkHost(new URL(address).hostname);
    } catch (error) {
      if (error instanceof BlockedAddressError) throw new HttpError(400, `event sink Address ${JSON.stringify(address)} is not allowed: ${error.message}`);
      // A name that does not resolve yet is accepted: every delivery resolves and checks it again.
      logger.info("webhook host does not resolve at registration; deliveries will retry it", { address, error: (error as Error).message });
    }
  }

  async function getSecret(request: Request, id: string): Promise<Response> {
    const { value: sink, index } = await store.get(id);
    if (sink === undefined || !owns(request.principal, sink.Team)) return text(404, SINK_NOT_FOUND, queryMeta(index));
    return json(secretView(sink, now()), { pretty: request.pretty, headers: queryMeta(index) });
  }

  async function deleteSink(request: Request, id: string): Promise<Response> {
    // Deleting a missing sink succeeds, as in Nomad; for a team token, it is a sink it cannot see: 404.
    const guard = request.principal.kind === "management" ? undefined : ownershipGuard<Sink>(request.principal, SINK_NOT_FOUND, { allowAbsent: false });
    return empty(writeMeta((await store.delete(id, guard)).index));
  }

  const sinkRoute = (pattern: string[], methods: Route["methods"]): Route => ({ pattern: ["event", ...pattern], parseId: parseSinkId, idName: "event sink ID", methods });
  const routes: Route[] = [
    sinkRoute(["sinks"], {
      GET: async (request) => {
        const { value: sinks, index } = await store.list();
        return json(sinks.filter((sink) => owns(request.principal, sink.Team)).map(toPublicSink), { pretty: request.pretty, headers: queryMeta(index) });
      },
    }),
    sinkRoute(["sink", ":id"], { GET: getSink, PUT: putSink, POST: putSink, DELETE: deleteSink }),
    sinkRoute(["sink", ":id", "secret"], { GET: getSecret }),
    sinkRoute(["sink", ":id", "deliveries"], {
      GET: async (request, id) => {
        const sink = await visibleSink(request.principal, id);
        const nextToken = request.query.next_token;
        const page = await deps.deliveries.list(id, { limit: perPage(request.query), sinkIndex: sink.CreateIndex, ...(nextToken ? { nextToken } : {}) });
        return json(page.attempts.map(attemptView), { pretty: request.pretty, headers: page.nextToken !== undefined ? { "x-nomad-nexttoken": page.nextToken } : {} });
      },
    }),
    sinkRoute(["sink", ":id", "redrive"], {
      POST: async (request, id) => {
        const sink = await visibleSink(request.principal, id);
        if (sink.Disabled !== undefined) {
          throw new ConflictError(`event sink ${JSON.stringify(id)} is disabled (${sink.Disabled.Reason}); re-register it to enable it, then redrive`);
        }
        const { moved } = await deps.redrive(id);
        logger.info("redrove dead-lettered deliveries", { sinkId: id, moved });
        return json({ Redriven: moved }, { pretty: request.pretty });
      },
    }),
    sinkRoute(["sink", ":id", "secret", "rotate"], {
      POST: async (request, id) => {
        const { value: sink, index } = await store.rotateSecret(id, now(), ownershipGuard(request.principal, SINK_NOT_FOUND, { allowAbsent: false }));
        return json(secretView(sink, now()), { pretty: request.pretty, headers: writeMeta(index) });
      },
    }),
    ...aclRoutes(deps.acl, now),
    ...replayRoutes({ replays: deps.replays, ...(deps.replayer ? { replayer: deps.replayer } : {}), sinks: store, logger }, now),
  ];

  async function serve(event: APIGatewayProxyEventV2): Promise<Response> {
    const method = event.requestContext.http.method.toUpperCase();
    const segments = splitPath(event.rawPath);
    const found = matchRoute(routes, segments);
    if (found === undefined) throw new HttpError(404, `Invalid URL path: no endpoint at ${JSON.stringify(event.rawPath)}`);
    const handler = found.route.methods[method];
    if (handler === undefined) throw new HttpError(405, "Invalid method");

    const query = event.queryStringParameters ?? {};
    const headers = normaliseHeaders(event.headers);
    const body = decodeBody(event);
    if (body !== undefined && body.length > MAX_BODY_BYTES) {
      throw new HttpError(413, `Request body too large: ${body.length} bytes, at most ${MAX_BODY_BYTES} are accepted`);
    }
    const principal = await authenticate(headers, tokens, deps.acl, now());
    const request: Request = { method, headers, query, body, pretty: isPretty(query), principal };

    const { route, id } = found;
    if (route.pattern.includes(":id")) {
      if (id === "") throw new HttpError(400, `Missing ${route.idName ?? "ID"} in the path`);
      return handler(request, route.parseId ? route.parseId(id) : id);
    }
    return handler(request, "");
  }

  return async (event) => {
    try {
      return await serve(event);
    } catch (error) {
      if (error instanceof HttpError) return text(error.statusCode, error.message);
      if (error instanceof ValidationError) return text(400, error.message);
      if (error instanceof NotFoundError) return text(404, error.message);
      if (error instanceof ConflictError) return text(409, error.message);
      logger.error("sinks API request failed", { error: error as Error, method: event.requestContext?.http?.method, path: event.rawPath });
      return text(500, "Internal error while handling the request; it has been logged");
    }
  };
}
