import { recursionDetectionMiddleware } from "@aws-sdk/core/client";
import { getEndpointFromInstructions } from "@smithy/core/endpoints";
import type { AwsCredentialIdentity, HttpRequest } from "@smithy/types";
import { Agent } from "undici";
import { USER_AGENT } from "../version";
import { SigV4Signer } from "./sigv4";

/**
 * One AWS JSON-protocol call without the SDK's command machinery: the caller's body is
 * SigV4-signed (sigv4.ts, checked against the SDK's signer by the tests) and sent with
 * undici on a keep-alive Agent; the answer comes back as status, headers and text.
 *
 * Everything the SDK client would read from its configuration is read from an SDK client
 * built from the same configuration and never used to send: the region, the credential
 * provider chain (memoized and refreshed as the SDK does), and the endpoint through the
 * SDK's own resolution (`endpoint`, `AWS_ENDPOINT_URL_<SERVICE>`, `AWS_ENDPOINT_URL`, the
 * config file's `endpoint_url`, FIPS and dual-stack, the partitions' rules, DynamoDB's
 * account-based endpoints). An endpoint is resolved once per key the caller gives (and
 * again after a failure). The signing clock follows the server's `Date` past 5 minutes of
 * skew. In Lambda, requests carry the invocation's trace headers (`X-Amzn-Trace-Id`, and
 * `traceparent`, `tracestate`, `baggage` when the runtime has them), as the SDK's
 * recursion-detection middleware adds them: X-Ray links the calls, SQS passes the trace on
 * to the next function (AWSTraceHeader), and Lambda's recursive-loop detection sees it.
 */

/** What distinguishes one JSON-protocol service from another on the wire. */
export interface JsonService {
  readonly contentType: "application/x-amz-json-1.0" | "application/x-amz-json-1.1";
  /** `X-Amz-Target` is `<targetPrefix>.<operation>`. */
  readonly targetPrefix: string;
  /** The SigV4 service name when the endpoint rules do not say. */
  readonly signingName: string;
  /** Sent with every request (SQS: `x-amzn-query-mode`, as the SDK sends it). */
  readonly headers?: Readonly<Record<string, string>>;
}

/** The parts of an SDK client's resolved configuration read here. */
interface SdkClientLike {
  readonly config: {
    region(): Promise<string>;
    credentials(): Promise<AwsCredentialIdentity>;
  };
}

interface JsonAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly text: string;
  readonly requestId: string | undefined;
  /** The answer's `Date` moved the signing clock (a request signed with a skewed clock can be retried). */
  readonly clockSkewCorrected: boolean;
}

export interface Target {
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

/** The SDK corrects its signing clock by the server's `Date` once they differ by this much. */
const CLOCK_SKEW_MS = 300_000;

export class AwsJsonTransport {
  /** Its own keep-alive pool, closed by `destroy()`. */
  private readonly dispatcher = new Agent({ keepAliveTimeout: 30_000 });
  private readonly targets = new Map<string, Promise<Target>>();
  /** Added to the clock when signing, learnt from the server's `Date` as the SDK does. */
  private clockOffsetMs = 0;

  constructor(
    private readonly client: SdkClientLike,
    private readonly service: JsonService,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Where `operation` goes, as the SDK would resolve it for `command` (a command class; its
   * endpoint parameters are read from `input`), cached under `key`.
   */
  target(key: string, command: unknown, input: object): Promise<Target> {
    let target = this.targets.get(key);
    if (target === undefined) {
      target = this.resolve(command, input);
      this.targets.set(key, target);
      target.catch(() => this.targets.delete(key));
    }
    return target;
  }

  /** One call: resolves with the answer whatever its status; rejects when no answer came. */
  async call(target: Target, operation: string, body: string | Buffer, signal?: AbortSignal): Promise<JsonAnswer> {
    const bytes = typeof body === "string" ? Buffer.from(body, "utf8") : body;
    const request: HttpRequest = {
      method: "POST",
      protocol: target.protocol,
      hostname: target.hostname,
      ...(target.port !== undefined ? { port: target.port } : {}),
      path: target.path,
      query: {},
      headers: {
        ...target.headers,
        ...this.service.headers,
        host: target.host,
        "content-type": this.service.contentType,
        "x-amz-target": `${this.service.targetPrefix}.${operation}`,
        "content-length": String(bytes.length),
        "user-agent": USER_AGENT,
      },
      body: bytes,
    };
    // Only a Lambda invocation has trace headers to pass on (the SDK's step adds X-Amzn-Trace-Id only there, and the invoke store is empty elsewhere).
    if (process.env.AWS_LAMBDA_FUNCTION_NAME) await addTraceHeaders(request);
    const headers = await this.sign(target, request);
    const response = await this.dispatcher.request({ origin: target.origin, path: target.path, method: "POST", headers, body: bytes, ...(signal !== undefined ? { signal } : {}) });
    const text = await response.body.text();
    const clockSkewCorrected = this.learnClock(response.headers.date);
    return { status: response.statusCode, headers: response.headers, text, requestId: header(response.headers, "x-amzn-requestid"), clockSkewCorrected };
  }

  /**
   * `request`'s headers signed (SigV4 headers added) with the signer, credentials, region and
   * clock `call` uses; every header present is signed but `user-agent`. The signer adds the
   * payload's hash (x-amz-content-sha256).
   */
  async sign(target: Target, request: HttpRequest, signingDate: Date = this.signingDate()): Promise<Record<string, string>> {
    return target.signer.sign(request, await this.client.config.credentials(), signingDate);
  }

  destroy(): void {
    void this.dispatcher.close().catch(() => undefined);
  }

  private async resolve(command: unknown, input: object): Promise<Target> {
    const config = this.client.config;
    // The SDK's own resolution, on a copy as its endpoint middleware does (it may set `endpoint`).
    const endpoint = await getEndpointFromInstructions(input as Record<string, unknown>, command as Parameters<typeof getEndpointFromInstructions>[1], { ...config } as Parameters<typeof getEndpointFromInstructions>[2]);
    const url = endpoint.url;
    const scheme = endpoint.properties?.authSchemes?.[0] as { name?: string; signingRegion?: string; signingName?: string } | undefined;
    if (scheme?.name !== undefined && scheme.name !== "sigv4") throw new Error(`the endpoint ${url.href} wants ${scheme.name} signing, which this client does not do`);
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
      signer: new SigV4Signer(scheme?.signingRegion ?? (await config.region()), scheme?.signingName ?? this.service.signingName),
    };
  }

  private signingDate(): Date {
    return new Date(this.now() + this.clockOffsetMs);
  }

  /** A server clock 5 minutes or more from ours becomes the signing clock; says whether it moved. */
  private learnClock(date: string | string[] | undefined): boolean {
    if (typeof date !== "string") return false;
    const server = Date.parse(date);
    if (Number.isNaN(server)) return false;
    if (Math.abs(this.now() + this.clockOffsetMs - server) < CLOCK_SKEW_MS) return false;
    this.clockOffsetMs = server - this.now();
    return true;
  }
}

/**
 * The SDK's own recursion-detection step run on our request: it adds the invocation's trace
 * headers (X-Amzn-Trace-Id from the invoke store or `_X_AMZN_TRACE_ID`; `traceparent`,
 * `tracestate` and `baggage` when the runtime has them), as it does for an SDK client's calls.
 */
const traceStep = recursionDetectionMiddleware()(async () => ({ output: {}, response: undefined }), {});
async function addTraceHeaders(request: HttpRequest): Promise<void> {
  await traceStep({ input: {}, request });
}

function header(headers: Readonly<Record<string, string | string[] | undefined>>, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}
