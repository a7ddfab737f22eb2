import { EventBridgeClient, PutEventsCommand, type EventBridgeClientConfig } from "@aws-sdk/client-eventbridge";
import { getEndpointFromInstructions } from "@smithy/core/endpoints";
import type { AwsCredentialIdentity, HttpRequest } from "@smithy/types";
import { Agent } from "undici";
import { USER_AGENT } from "../version";
import { awsJsonError } from "./json-error";
import { SigV4Signer } from "./sigv4";

/**
 * PutEvents without the SDK's command machinery: the body is one native `JSON.stringify`
 * in the AWS JSON 1.1 shape, SigV4-signed (sigv4.ts, checked against the SDK's signer by
 * the tests), and sent with undici on a keep-alive Agent; the answer is parsed into the
 * SDK's result shape, and a failed call rejects with an error shaped like the SDK's
 * (`name` = the error type, `$metadata.httpStatusCode`, `$fault`).
 *
 * Everything the SDK client would read from its configuration is read by an
 * `EventBridgeClient` built from the same `clientConfig` and never used to send: the
 * region, the credential provider chain (memoized and refreshed as the SDK does), and
 * the endpoint through the SDK's own resolution (`endpoint`, `AWS_ENDPOINT_URL_EVENTBRIDGE`,
 * `AWS_ENDPOINT_URL`, the config file's `endpoint_url`, FIPS and dual-stack, the
 * partitions' rules). It is resolved once, at the first call (and again after a failure).
 *
 * What it does not do, unlike the SDK command: retry (the caller does: EventBridgePublisher
 * retries failed entries and failed calls with backoff), global endpoints (`EndpointId`,
 * SigV4a), and the SDK's user-agent and invocation-id headers.
 */

export interface PutEventsEntry {
  readonly Source?: string | undefined;
  readonly DetailType?: string | undefined;
  readonly Detail?: string | undefined;
  readonly EventBusName?: string | undefined;
  readonly Resources?: readonly string[] | undefined;
  readonly TraceHeader?: string | undefined;
  /** Sent as epoch seconds, the JSON protocols' timestamp form. */
  readonly Time?: Date | undefined;
}

export interface PutEventsResultEntry {
  readonly EventId?: string;
  readonly ErrorCode?: string;
  readonly ErrorMessage?: string;
}

export interface PutEventsResult {
  readonly FailedEntryCount: number;
  readonly Entries: readonly PutEventsResultEntry[];
  readonly $metadata: { readonly httpStatusCode: number; readonly requestId?: string };
}

/** A call EventBridge (or something on the way) answered with an error; `name` is the error type, as the SDK names it. */
export class PutEventsError extends Error {
  readonly $metadata: { readonly httpStatusCode: number; readonly requestId?: string };
  readonly $fault: "client" | "server";

  constructor(type: string, message: string, status: number, requestId?: string) {
    super(message);
    this.name = type;
    this.$fault = status >= 500 ? "server" : "client";
    this.$metadata = { httpStatusCode: status, ...(requestId !== undefined ? { requestId } : {}) };
  }
}

export interface PutEventsSenderOptions {
  /**
   * Read as the SDK client reads it (region, credentials, endpoint, profile,
   * useFipsEndpoint, useDualstackEndpoint); settings about sending (retries, request
   * handler) do not apply. @default {} (everything from the environment)
   */
  readonly clientConfig?: EventBridgeClientConfig;
  /** The signing clock, in epoch ms (tests fix it). @default Date.now */
  readonly now?: () => number;
}

const CONTENT_TYPE = "application/x-amz-json-1.1";
const TARGET = "AWSEvents.PutEvents";
/** The SDK corrects its signing clock by the server's `Date` once they differ by this much. */
const CLOCK_SKEW_MS = 300_000;

interface Target {
  readonly origin: string;
  readonly path: string;
  readonly protocol: string;
  readonly hostname: string;
  readonly port: number | undefined;
  readonly host: string;
  /** Headers the endpoint rules (or a custom endpoint) add to every request. */
  readonly headers: Readonly<Record<string, string>>;
  readonly signer: SigV4Signer;
}

export class PutEventsSender {
  private readonly client: EventBridgeClient;
  /** Its own keep-alive pool, closed by `destroy()`. */
  private readonly dispatcher = new Agent({ keepAliveTimeout: 30_000 });
  private readonly now: () => number;
  private target: Promise<Target> | undefined;
  /** Added to the clock when signing, learnt from the server's `Date` as the SDK does. */
  private clockOffsetMs = 0;

  constructor(options: PutEventsSenderOptions = {}) {
    this.client = new EventBridgeClient(options.clientConfig ?? {});
    this.now = options.now ?? Date.now;
  }

  /** The URL calls go to, as the SDK would resolve it for PutEvents. */
  async endpoint(): Promise<string> {
    const target = await this.resolveTarget();
    return `${target.origin}${target.path}`;
  }

  /** One PutEvents call: resolves with the per-entry answers, rejects when the call as a whole fails. */
  async putEvents(entries: readonly PutEventsEntry[], signal?: AbortSignal): Promise<PutEventsResult> {
    const target = await this.resolveTarget();
    const body = Buffer.from(putEventsBody(entries), "utf8");
    const request: HttpRequest = {
      method: "POST",
      protocol: target.protocol,
      hostname: target.hostname,
      ...(target.port !== undefined ? { port: target.port } : {}),
      path: target.path,
      query: {},
      headers: {
        ...target.headers,
        host: target.host,
        "content-type": CONTENT_TYPE,
        "x-amz-target": TARGET,
        "content-length": String(body.length),
        "user-agent": USER_AGENT,
      },
      body,
    };
    // The signer adds the payload's hash (x-amz-content-sha256); user-agent is among the headers it never signs.
    const headers = target.signer.sign(request, await this.credentials(), this.signingDate());
    const response = await this.dispatcher.request({
      origin: target.origin,
      path: target.path,
      method: "POST",
      headers,
      body,
      ...(signal !== undefined ? { signal } : {}),
    });
    const text = await response.body.text();
    this.learnClock(response.headers.date);
    const requestId = header(response.headers, "x-amzn-requestid");
    if (response.statusCode >= 200 && response.statusCode < 300) return parseResult(text, response.statusCode, requestId);
    throw callError(response.statusCode, response.headers, text, requestId);
  }

  /**
   * Signs `request` (SigV4 headers added to a copy) with the signer, credentials, region
   * and clock `putEvents` uses; every header present is signed but `user-agent`.
   */
  async sign(request: HttpRequest, signingDate: Date = this.signingDate()): Promise<HttpRequest> {
    const target = await this.resolveTarget();
    return { ...request, headers: target.signer.sign(request, await this.credentials(), signingDate) };
  }

  destroy(): void {
    this.client.destroy();
    void this.dispatcher.close().catch(() => undefined);
  }

  private resolveTarget(): Promise<Target> {
    this.target ??= this.buildTarget().catch((error: unknown) => {
      this.target = undefined;
      throw error;
    });
    return this.target;
  }

  private async buildTarget(): Promise<Target> {
    const config = this.client.config;
    // The SDK's own resolution, on a copy as its endpoint middleware does (it may set `endpoint`).
    const endpoint = await getEndpointFromInstructions({}, PutEventsCommand, { ...config });
    const url = endpoint.url;
    const scheme = endpoint.properties?.authSchemes?.[0] as { name?: string; signingRegion?: string; signingName?: string } | undefined;
    if (scheme?.name !== undefined && scheme.name !== "sigv4") throw new Error(`the PutEvents endpoint ${url.href} wants ${scheme.name} signing, which this sender does not do`);
    const headers: Record<string, string> = {};
    for (const [name, values] of Object.entries(endpoint.headers ?? {})) headers[name.toLowerCase()] = values.join(",");
    const port = url.port !== "" ? Number(url.port) : undefined;
    return {
      origin: url.origin,
      // As the SDK's serializer joins an endpoint's path and the operation's `/` (a query on a custom endpoint is dropped by its resolution).
      path: url.pathname.endsWith("/") ? url.pathname : `${url.pathname}/`,
      protocol: url.protocol,
      hostname: url.hostname,
      port,
      host: url.host,
      headers,
      signer: new SigV4Signer(scheme?.signingRegion ?? (await config.region()), scheme?.signingName ?? "events"),
    };
  }

  /** The SDK's provider (its chain unless `credentials` were given), memoized and refreshed before expiry by the SDK. */
  private credentials(): Promise<AwsCredentialIdentity> {
    return this.client.config.credentials();
  }

  private signingDate(): Date {
    return new Date(this.now() + this.clockOffsetMs);
  }

  /** As the SDK does: a server clock 5 minutes or more from ours becomes the signing clock. */
  private learnClock(date: string | string[] | undefined): void {
    if (typeof date !== "string") return;
    const server = Date.parse(date);
    if (Number.isNaN(server)) return;
    if (Math.abs(this.now() + this.clockOffsetMs - server) >= CLOCK_SKEW_MS) this.clockOffsetMs = server - this.now();
  }
}

/** The PutEvents request body in the AWS JSON 1.1 shape: fields as named, absent ones left out, Time in epoch seconds. */
export function putEventsBody(entries: readonly PutEventsEntry[]): string {
  return JSON.stringify({ Entries: entries.map(wireEntry) });
}

function wireEntry(entry: PutEventsEntry): unknown {
  // JSON.stringify leaves undefined fields out, as the SDK's serializer does.
  return {
    Time: entry.Time !== undefined ? entry.Time.getTime() / 1000 : undefined,
    Source: entry.Source,
    Resources: entry.Resources,
    DetailType: entry.DetailType,
    Detail: entry.Detail,
    EventBusName: entry.EventBusName,
    TraceHeader: entry.TraceHeader,
  };
}

function parseResult(text: string, status: number, requestId: string | undefined): PutEventsResult {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new PutEventsError("SerializationError", `EventBridge answered ${status} with a body that is not JSON: ${snippet(text)}`, status, requestId);
  }
  const record = data as { FailedEntryCount?: unknown; Entries?: unknown } | null;
  if (typeof record !== "object" || record === null || (record.Entries !== undefined && !Array.isArray(record.Entries))) {
    throw new PutEventsError("SerializationError", `EventBridge answered ${status} with a body that is not a PutEvents result: ${snippet(text)}`, status, requestId);
  }
  const entries = ((record.Entries as unknown[] | undefined) ?? []).map((raw): PutEventsResultEntry => {
    const e = (typeof raw === "object" && raw !== null ? raw : {}) as Record<string, unknown>;
    return {
      ...(typeof e.EventId === "string" ? { EventId: e.EventId } : {}),
      ...(typeof e.ErrorCode === "string" ? { ErrorCode: e.ErrorCode } : {}),
      ...(typeof e.ErrorMessage === "string" ? { ErrorMessage: e.ErrorMessage } : {}),
    };
  });
  const failed = typeof record.FailedEntryCount === "number" ? record.FailedEntryCount : entries.filter((e) => e.ErrorCode !== undefined).length;
  return { FailedEntryCount: failed, Entries: entries, $metadata: { httpStatusCode: status, ...(requestId !== undefined ? { requestId } : {}) } };
}

/**
 * A failed call as the SDK reads AWS JSON errors: the type from `X-Amzn-ErrorType`, else the
 * body's `code` or `__type`, cut to the bare name (`aws.protocoltests#Foo:http://…` → `Foo`);
 * the message from `message` or `Message`.
 */
function callError(status: number, headers: Record<string, string | string[] | undefined>, text: string, requestId: string | undefined): PutEventsError {
  const { type, message } = awsJsonError(headers, text);
  return new PutEventsError(type ?? "Unknown", message ?? `EventBridge answered HTTP ${status}${text ? `: ${snippet(text)}` : ""}`, status, requestId);
}

function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function snippet(text: string): string {
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}
