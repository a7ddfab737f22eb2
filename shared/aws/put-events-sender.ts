import { EventBridgeClient, PutEventsCommand, type EventBridgeClientConfig } from "@aws-sdk/client-eventbridge";
import type { HttpRequest } from "@smithy/types";
import { awsJsonError } from "./json-error";
import { AwsJsonTransport, type JsonService } from "./json-transport";

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

const EVENTBRIDGE: JsonService = { contentType: "application/x-amz-json-1.1", targetPrefix: "AWSEvents", signingName: "events" };

export class PutEventsSender {
  private readonly client: EventBridgeClient;
  private readonly transport: AwsJsonTransport;

  constructor(options: PutEventsSenderOptions = {}) {
    this.client = new EventBridgeClient(options.clientConfig ?? {});
    this.transport = new AwsJsonTransport(this.client, EVENTBRIDGE, options.now);
  }

  /** The URL calls go to, as the SDK would resolve it for PutEvents. */
  async endpoint(): Promise<string> {
    const target = await this.target();
    return `${target.origin}${target.path}`;
  }

  /** One PutEvents call: resolves with the per-entry answers, rejects when the call as a whole fails. */
  async putEvents(entries: readonly PutEventsEntry[], signal?: AbortSignal): Promise<PutEventsResult> {
    const answer = await this.transport.call(await this.target(), "PutEvents", putEventsBody(entries), signal);
    if (answer.status >= 200 && answer.status < 300) return parseResult(answer.text, answer.status, answer.requestId);
    throw callError(answer.status, answer.headers, answer.text, answer.requestId);
  }

  /**
   * Signs `request` (SigV4 headers added to a copy) with the signer, credentials, region
   * and clock `putEvents` uses; every header present is signed but `user-agent`.
   */
  async sign(request: HttpRequest, signingDate?: Date): Promise<HttpRequest> {
    return { ...request, headers: await this.transport.sign(await this.target(), request, signingDate) };
  }

  destroy(): void {
    this.client.destroy();
    this.transport.destroy();
  }

  private target() {
    return this.transport.target("PutEvents", PutEventsCommand, {});
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

function snippet(text: string): string {
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}
