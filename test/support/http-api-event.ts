import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { TEST_TOKEN } from "./sinks";

export interface RequestOptions {
  readonly headers?: Record<string, string>;
  /** A string or a value to JSON-encode; a Buffer is sent base64-encoded. */
  readonly body?: string | Buffer | object;
  /** Sends no token at all. @default false (the test management token is sent) */
  readonly anonymous?: boolean;
}

/** An API Gateway HTTP API (payload 2.0) event, as the gateway would build it. */
export function httpApiEvent(method: string, pathWithQuery: string, options: RequestOptions = {}): APIGatewayProxyEventV2 {
  const queryAt = pathWithQuery.indexOf("?");
  const rawPath = queryAt === -1 ? pathWithQuery : pathWithQuery.slice(0, queryAt);
  const rawQueryString = queryAt === -1 ? "" : pathWithQuery.slice(queryAt + 1);
  const query: Record<string, string> = {};
  for (const [name, value] of new URLSearchParams(rawQueryString)) query[name] = name in query ? `${query[name]},${value}` : value;
  const headers: Record<string, string> = { ...(options.anonymous ? {} : { "x-nomad-token": TEST_TOKEN }) };
  for (const [name, value] of Object.entries(options.headers ?? {})) headers[name.toLowerCase()] = value;
  let body: string | undefined;
  let isBase64Encoded = false;
  if (Buffer.isBuffer(options.body)) {
    body = options.body.toString("base64");
    isBase64Encoded = true;
  } else if (typeof options.body === "string") body = options.body;
  else if (options.body !== undefined) body = JSON.stringify(options.body);
  return {
    version: "2.0",
    routeKey: "$default",
    rawPath,
    rawQueryString,
    headers,
    ...(rawQueryString ? { queryStringParameters: query } : {}),
    requestContext: {
      accountId: "000000000000",
      apiId: "test",
      domainName: "test.local",
      domainPrefix: "test",
      http: { method, path: rawPath, protocol: "HTTP/1.1", sourceIp: "127.0.0.1", userAgent: "vitest" },
      requestId: "test",
      routeKey: "$default",
      stage: "$default",
      time: new Date().toUTCString(),
      timeEpoch: Date.now(),
    },
    ...(body !== undefined ? { body } : {}),
    isBase64Encoded,
  };
}
