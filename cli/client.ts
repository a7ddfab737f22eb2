import { STATUS_CODES } from "node:http";
import type { Agent } from "undici";
import type { AttemptView, SinkSecretView } from "../shared/api/sinks-api";
import type { PublicReplay } from "../shared/replay/replay";
import type { PublicSink } from "../shared/sinks/sink";
import type { PublicToken } from "../shared/tokens/token";

// The API's own views (type-only: nothing of the server is loaded).
export type { PublicSink };
export type AclToken = PublicToken;
export type Replay = PublicReplay;

/**
 * Every HTTP call the CLI makes, to the sinks API (`/v1/event/*`, `/v1/acl/*`). Answers
 * other than 200 become ApiError with the server's plain-text message; a server that
 * cannot be reached, ConnectionError.
 */

/** The API answered with an error status; `message` is its plain-text body. */
export class ApiError extends Error {
  override readonly name = "ApiError";
  constructor(
    readonly status: number,
    readonly body: string,
  ) {
    super(`${status} ${body.trim() || STATUS_CODES[status] || "error"}`);
  }
}

/** No answer from the API (refused, timed out, not HTTP) or one the CLI cannot read. */
export class ConnectionError extends Error {
  override readonly name = "ConnectionError";
}


/** A sink's signing secrets, as the API shows them. */
export type SinkSecret = SinkSecretView;
/** One delivery attempt, as the API lists it. */
export type DeliveryAttempt = AttemptView;

/** The body of `POST /v1/acl/token` and `POST /v1/acl/token/:accessor`. */
export interface TokenRequest {
  Name?: string;
  Type?: string;
  Team?: string;
  Namespaces?: string[];
  ClusterTopics?: boolean;
  ExpirationTTL?: string;
  ExpirationTime?: string | null;
}


export interface ReplayRequest {
  From: string;
  To: string;
  SinkID?: string;
}

interface ClientOptions {
  /** The API's base URL, e.g. http://127.0.0.1:8080 (a path prefix is kept). */
  readonly address: string;
  readonly token?: string;
}

/** How long an API call may wait to connect, for the answer's headers, and between chunks of its body. */
const TIMEOUT_MS = 30_000;

type Method = "GET" | "PUT" | "POST" | "DELETE";

const seg = (value: string) => encodeURIComponent(value);

export function createClient(options: ClientOptions) {
  const base = new URL(options.address);
  const prefix = base.pathname.replace(/\/+$/, "");
  // undici is loaded at the first request: help and usage errors start faster without it.
  let loaded: Promise<{ request: typeof import("undici").request; dispatcher: Agent }> | undefined;
  const undici = () =>
    (loaded ??= import("undici").then(({ Agent, request }) => ({ request, dispatcher: new Agent({ headersTimeout: TIMEOUT_MS, bodyTimeout: TIMEOUT_MS, connect: { timeout: TIMEOUT_MS } }) })));

  async function call(method: Method, path: string, body?: string, query: Record<string, string | undefined> = {}) {
    const url = new URL(`${prefix}${path}`, base);
    for (const [name, value] of Object.entries(query)) if (value !== undefined) url.searchParams.set(name, value);
    const { request, dispatcher } = await undici();
    let response;
    try {
      response = await request(url, {
        method,
        dispatcher,
        headers: { ...(options.token ? { "x-nomad-token": options.token } : {}), ...(body !== undefined ? { "content-type": "application/json" } : {}) },
        ...(body !== undefined ? { body } : {}),
      });
    } catch (error) {
      const cause = error as Error & { code?: string; cause?: { code?: string; message?: string } };
      const reason = cause.cause?.message ?? cause.message ?? String(error);
      throw new ConnectionError(`cannot reach the nomad-event-sinks API at ${base.origin}${prefix}: ${reason}${cause.code && !reason.includes(cause.code) ? ` (${cause.code})` : ""}`);
    }
    const text = await response.body.text();
    if (response.statusCode !== 200) throw new ApiError(response.statusCode, text);
    const header = (name: string) => {
      const value = response.headers[name];
      return Array.isArray(value) ? value[0] : value;
    };
    return { text, header };
  }

  async function json<T>(method: Method, path: string, body?: unknown, query?: Record<string, string | undefined>): Promise<{ value: T; header: (name: string) => string | undefined }> {
    const { text, header } = await call(method, path, body === undefined ? undefined : JSON.stringify(body), query);
    try {
      return { value: JSON.parse(text) as T, header };
    } catch {
      throw new ConnectionError(`the answer to ${method} ${path} from ${base.origin}${prefix} is not JSON (is this a nomad-event-sinks API?): ${JSON.stringify(text.slice(0, 200))}`);
    }
  }

  return {
    close: async () => {
      if (loaded !== undefined) await (await loaded).dispatcher.close();
    },

    listSinks: async () => (await json<PublicSink[]>("GET", "/v1/event/sinks")).value,
    getSink: async (id: string) => (await json<PublicSink>("GET", `/v1/event/sink/${seg(id)}`)).value,
    /** PUT /v1/event/sink/:id with `body` as given (the server validates it); answers the write's index. */
    registerSink: async (id: string, body: string) => (await call("PUT", `/v1/event/sink/${seg(id)}`, body)).header("x-nomad-index"),
    deregisterSink: async (id: string) => {
      await call("DELETE", `/v1/event/sink/${seg(id)}`);
    },
    sinkSecret: async (id: string) => (await json<SinkSecret>("GET", `/v1/event/sink/${seg(id)}/secret`)).value,
    rotateSecret: async (id: string) => (await json<SinkSecret>("POST", `/v1/event/sink/${seg(id)}/secret/rotate`)).value,
    deliveries: async (id: string, page: { perPage?: number; nextToken?: string }) => {
      const { value, header } = await json<DeliveryAttempt[]>("GET", `/v1/event/sink/${seg(id)}/deliveries`, undefined, {
        per_page: page.perPage?.toString(),
        next_token: page.nextToken,
      });
      return { attempts: value, nextToken: header("x-nomad-nexttoken") };
    },
    redrive: async (id: string) => (await json<{ Redriven: number }>("POST", `/v1/event/sink/${seg(id)}/redrive`)).value,

    listTokens: async () => (await json<AclToken[]>("GET", "/v1/acl/tokens")).value,
    createToken: async (body: TokenRequest) => (await json<AclToken>("POST", "/v1/acl/token", body)).value,
    getToken: async (accessor: string) => (await json<AclToken>("GET", `/v1/acl/token/${seg(accessor)}`)).value,
    updateToken: async (accessor: string, body: TokenRequest) => (await json<AclToken>("POST", `/v1/acl/token/${seg(accessor)}`, body)).value,
    deleteToken: async (accessor: string) => {
      await call("DELETE", `/v1/acl/token/${seg(accessor)}`);
    },
    selfToken: async () => (await json<AclToken>("GET", "/v1/acl/token/self")).value,

    startReplay: async (body: ReplayRequest) => (await json<Replay>("POST", "/v1/event/replay", body)).value,
    getReplay: async (id: string) => (await json<Replay>("GET", `/v1/event/replay/${seg(id)}`)).value,
    listReplays: async () => (await json<Replay[]>("GET", "/v1/event/replays")).value,
  };
}

export type Client = ReturnType<typeof createClient>;
