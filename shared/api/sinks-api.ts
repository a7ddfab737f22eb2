import type { APIGatewayProxyEventV2 } from "aws-lambda";
import type { Logger } from "@aws-lambda-powertools/logger";
import { ConflictError, NotFoundError, ValidationError } from "../errors";
import type { Sink } from "../sinks/sink";
import { parseSinkId, parseSinkRegistration, toPublicSink } from "../sinks/sink";
import type { SinkStore } from "../sinks/sink-store";
import type { DeliveryAttempt, DeliveryLog } from "../delivery/delivery-log";
import { BlockedAddressError, type AddressGuard } from "../delivery/ssrf-guard";
import { presentedToken, tokensEqual, type TokenSource } from "./auth";
import { empty, HttpError, json, queryMeta, text, writeMeta, type Response } from "./http";

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
  readonly tokens: TokenSource;
  readonly logger: Logger;
  readonly now?: () => number;
}

interface Request {
  readonly method: string;
  readonly headers: Readonly<Record<string, string | undefined>>;
  readonly query: Readonly<Record<string, string | undefined>>;
  readonly body: Buffer | undefined;
  readonly pretty: boolean;
}

type Handler = (request: Request, id: string) => Promise<Response>;

interface Route {
  /** Path segments after `/v1/event/`; `:id` captures the sink ID. */
  readonly pattern: readonly string[];
  readonly methods: Readonly<Record<string, Handler>>;
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

function parseJsonBody(request: Request): unknown {
  if (request.body === undefined || request.body.length === 0) throw new HttpError(400, "Request body is empty");
  const source = request.body.toString("utf8");
  try {
    return JSON.parse(source);
  } catch (error) {
    throw new HttpError(400, `Request body is not valid JSON: ${(error as Error).message}`);
  }
}

/** Page size of `GET /v1/event/sink/:id/deliveries`: Nomad's `per_page`. */
export const DELIVERIES_PER_PAGE_DEFAULT = 50;
export const DELIVERIES_PER_PAGE_MAX = 500;

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

/**
 * The sinks API: Nomad 1.0-beta's `/v1/event/sinks` and `/v1/event/sink/:id` with its
 * paths, JSON field names, headers and status codes, plus secret management. Answers
 * an API Gateway HTTP API (payload v2) event.
 */
export function createSinksApi(deps: SinksApiDeps): (event: APIGatewayProxyEventV2) => Promise<Response> {
  const { store, tokens, logger } = deps;
  const now = deps.now ?? Date.now;

  async function getSink(request: Request, id: string): Promise<Response> {
    const { value: sink, index } = await store.get(id);
    if (sink === undefined) return text(404, "event sink not found", queryMeta(index));
    return json(toPublicSink(sink), { pretty: request.pretty, headers: queryMeta(index) });
  }

  async function putSink(request: Request, id: string): Promise<Response> {
    const registration = parseSinkRegistration(parseJsonBody(request));
    if (registration.ID !== id) {
      throw new HttpError(400, `Event sink name does not match request path: the body has ID ${JSON.stringify(registration.ID)}, the path ${JSON.stringify(id)}`);
    }
    await checkAddress(registration.Address);
    const { index } = await store.put(registration, now());
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

  async function existingSink(id: string): Promise<Sink> {
    const sink = await store.find(id);
    if (sink === undefined) throw new NotFoundError("event sink not found");
    return sink;
  }

  async function getSecret(request: Request, id: string): Promise<Response> {
    const { value: sink, index } = await store.get(id);
    if (sink === undefined) return text(404, "event sink not found", queryMeta(index));
    return json(secretView(sink, now()), { pretty: request.pretty, headers: queryMeta(index) });
  }

  const routes: Route[] = [
    {
      pattern: ["sinks"],
      methods: {
        GET: async (request) => {
          const { value: sinks, index } = await store.list();
          return json(sinks.map(toPublicSink), { pretty: request.pretty, headers: queryMeta(index) });
        },
      },
    },
    {
      pattern: ["sink", ":id"],
      methods: {
        GET: getSink,
        PUT: putSink,
        POST: putSink,
        DELETE: async (_request, id) => empty(writeMeta((await store.delete(id)).index)),
      },
    },
    { pattern: ["sink", ":id", "secret"], methods: { GET: getSecret } },
    {
      pattern: ["sink", ":id", "deliveries"],
      methods: {
        GET: async (request, id) => {
          await existingSink(id);
          const nextToken = request.query.next_token;
          const page = await deps.deliveries.list(id, { limit: perPage(request.query), ...(nextToken ? { nextToken } : {}) });
          return json(page.attempts.map(attemptView), { pretty: request.pretty, headers: page.nextToken !== undefined ? { "x-nomad-nexttoken": page.nextToken } : {} });
        },
      },
    },
    {
      pattern: ["sink", ":id", "redrive"],
      methods: {
        POST: async (request, id) => {
          const sink = await existingSink(id);
          if (sink.Disabled !== undefined) {
            throw new ConflictError(`event sink ${JSON.stringify(id)} is disabled (${sink.Disabled.Reason}); re-register it to enable it, then redrive`);
          }
          const { moved } = await deps.redrive(id);
          logger.info("redrove dead-lettered deliveries", { sinkId: id, moved });
          return json({ Redriven: moved }, { pretty: request.pretty });
        },
      },
    },
    {
      pattern: ["sink", ":id", "secret", "rotate"],
      methods: {
        POST: async (request, id) => {
          const { value: sink, index } = await store.rotateSecret(id, now());
          return json(secretView(sink, now()), { pretty: request.pretty, headers: writeMeta(index) });
        },
      },
    },
  ];

  function match(segments: readonly string[]): { route: Route; id: string } | undefined {
    if (segments[0] !== "v1" || segments[1] !== "event") return undefined;
    const rest = segments.slice(2);
    for (const route of routes) {
      if (route.pattern.length !== rest.length) continue;
      let id = "";
      const ok = route.pattern.every((part, i) => {
        if (part !== ":id") return part === rest[i];
        id = rest[i] ?? "";
        return true;
      });
      if (ok) return { route, id };
    }
    return undefined;
  }

  async function authorize(request: Request): Promise<void> {
    const presented = presentedToken(request.headers);
    if (presented === undefined || !tokensEqual(presented, await tokens.managementToken())) {
      throw new HttpError(403, "Permission denied");
    }
  }

  async function serve(event: APIGatewayProxyEventV2): Promise<Response> {
    const method = event.requestContext.http.method.toUpperCase();
    const segments = splitPath(event.rawPath);
    const found = match(segments);
    if (found === undefined) throw new HttpError(404, `Invalid URL path: no endpoint at ${JSON.stringify(event.rawPath)}`);
    const handler = found.route.methods[method];
    if (handler === undefined) throw new HttpError(405, "Invalid method");

    const query = event.queryStringParameters ?? {};
    const headers = normaliseHeaders(event.headers);
    const body = decodeBody(event);
    if (body !== undefined && body.length > MAX_BODY_BYTES) {
      throw new HttpError(413, `Request body too large: ${body.length} bytes, at most ${MAX_BODY_BYTES} are accepted`);
    }
    const request: Request = { method, headers, query, body, pretty: isPretty(query) };
    await authorize(request);

    if (found.route.pattern.includes(":id")) {
      if (found.id === "") throw new HttpError(400, "Missing event sink ID in the path");
      return handler(request, parseSinkId(found.id));
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
