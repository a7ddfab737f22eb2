import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { LOCAL_ACCOUNT_ID } from "./local-aws";
import { httpUrl } from "./http-url";

/** API Gateway HTTP APIs refuse larger payloads (10 MB) before the function sees them. */
const GATEWAY_MAX_PAYLOAD = 10 * 1024 * 1024;

export type HttpApiHandler = (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;

const TEXTUAL = /^(application\/(json|x-www-form-urlencoded|xml)|text\/)/i;

function joinQuery(rawQuery: string): Record<string, string> | undefined {
  if (rawQuery === "") return undefined;
  const out: Record<string, string> = {};
  for (const [name, value] of new URLSearchParams(rawQuery)) {
    // API Gateway joins repeated parameters with commas.
    out[name] = name in out ? `${out[name]},${value}` : value;
  }
  return out;
}

/** A request as it reached the gateway. */
export interface GatewayRequest {
  readonly method: string;
  /** Path and query, exactly as sent (`/v1/event/sink/a%2Fb?pretty`). */
  readonly url: string;
  readonly headers: Readonly<Record<string, string | readonly string[] | undefined>>;
  readonly body: Buffer;
  readonly sourceIp?: string;
  readonly httpVersion?: string;
  /** Forces base64 (or text) for the body; by default binary content types go base64, as API Gateway does. */
  readonly base64?: boolean;
}

/** Builds the payload-format-2.0 event API Gateway would send for this request. */
export function buildHttpApiEvent(request: GatewayRequest): APIGatewayProxyEventV2 {
  const { url, body } = request;
  const queryAt = url.indexOf("?");
  const rawPath = queryAt === -1 ? url : url.slice(0, queryAt);
  const rawQueryString = queryAt === -1 ? "" : url.slice(queryAt + 1);
  const headers: Record<string, string> = {};
  let cookie: string | undefined;
  for (const [name, value] of Object.entries(request.headers)) {
    if (value === undefined) continue;
    const joined = typeof value === "string" ? value : value.join(",");
    if (name.toLowerCase() === "cookie") cookie = joined;
    else headers[name.toLowerCase()] = joined;
  }
  const queryStringParameters = joinQuery(rawQueryString);
  const base64 = body.length > 0 && (request.base64 ?? !TEXTUAL.test(headers["content-type"] ?? "application/json"));
  const now = new Date();
  let path = rawPath;
  try {
    path = decodeURIComponent(rawPath);
  } catch {
    // API Gateway keeps the raw form when it cannot decode.
  }
  return {
    version: "2.0",
    routeKey: "$default",
    rawPath,
    rawQueryString,
    ...(cookie ? { cookies: cookie.split(/;\s*/) } : {}),
    headers,
    ...(queryStringParameters ? { queryStringParameters } : {}),
    requestContext: {
      accountId: LOCAL_ACCOUNT_ID,
      apiId: "local",
      domainName: headers.host ?? "localhost",
      domainPrefix: "localhost",
      http: {
        method: request.method,
        path,
        protocol: `HTTP/${request.httpVersion ?? "1.1"}`,
        sourceIp: request.sourceIp ?? "127.0.0.1",
        userAgent: headers["user-agent"] ?? "",
      },
      requestId: randomUUID(),
      routeKey: "$default",
      stage: "$default",
      time: now.toUTCString(),
      timeEpoch: now.getTime(),
    },
    ...(body.length > 0 ? { body: base64 ? body.toString("base64") : body.toString("utf8") } : {}),
    isBase64Encoded: base64,
  };
}

/** The event for a request received by the local server. */
export function toHttpApiEvent(request: IncomingMessage, body: Buffer): APIGatewayProxyEventV2 {
  return buildHttpApiEvent({
    method: request.method ?? "GET",
    url: request.url ?? "/",
    headers: request.headers,
    body,
    ...(request.socket.remoteAddress ? { sourceIp: request.socket.remoteAddress } : {}),
    httpVersion: request.httpVersion,
  });
}

function send(response: ServerResponse, result: APIGatewayProxyStructuredResultV2): void {
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(result.headers ?? {})) headers[name] = String(value);
  if (result.cookies?.length) headers["set-cookie"] = result.cookies;
  const body = result.body === undefined ? Buffer.alloc(0) : Buffer.from(result.body, result.isBase64Encoded ? "base64" : "utf8");
  headers["content-length"] = String(body.length);
  response.writeHead(result.statusCode ?? 200, headers);
  response.end(body);
}

export interface HttpApiServer {
  readonly url: string;
  readonly server: Server;
  close(): Promise<void>;
}

/** Serves `handler` over real HTTP on loopback, as API Gateway's HTTP API would invoke it. */
export async function startHttpApiServer(handler: HttpApiHandler, options: { port?: number; host?: string } = {}): Promise<HttpApiServer> {
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let refused = false;
    request.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > GATEWAY_MAX_PAYLOAD) {
        if (!refused) send(response, { statusCode: 413, headers: { "content-type": "text/plain; charset=utf-8" }, body: "Request Entity Too Large" });
        refused = true;
        request.destroy();
        return;
      }
      chunks.push(chunk);
    });
    request.on("end", () => {
      if (refused) return;
      handler(toHttpApiEvent(request, Buffer.concat(chunks)))
        .then((result) => send(response, result))
        .catch(() => send(response, { statusCode: 500, headers: { "content-type": "application/json" }, body: '{"message":"Internal Server Error"}' }));
    });
  });
  server.keepAliveTimeout = 30_000;
  const host = options.host ?? "127.0.0.1";
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: httpUrl(host, port),
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
