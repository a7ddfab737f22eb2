import type { APIGatewayProxyEventV2 } from "aws-lambda";
import { buildHttpApiEvent } from "../../infra/local/http-api-server";
import { TEST_TOKEN } from "./sinks";

export interface RequestOptions {
  readonly headers?: Record<string, string>;
  /** A string or a value to JSON-encode; a Buffer is sent base64-encoded. */
  readonly body?: string | Buffer | object;
  /** Sends no token at all. @default false (the test management token is sent) */
  readonly anonymous?: boolean;
}

/** An API Gateway HTTP API (payload 2.0) event, built as the local gateway builds it. */
export function httpApiEvent(method: string, pathWithQuery: string, options: RequestOptions = {}): APIGatewayProxyEventV2 {
  const headers: Record<string, string> = { ...(options.anonymous ? {} : { "x-nomad-token": TEST_TOKEN }), ...options.headers };
  const { body } = options;
  const bytes = Buffer.isBuffer(body) ? body : typeof body === "string" ? Buffer.from(body, "utf8") : body !== undefined ? Buffer.from(JSON.stringify(body), "utf8") : Buffer.alloc(0);
  return buildHttpApiEvent({ method, url: pathWithQuery, headers, body: bytes, base64: Buffer.isBuffer(body) });
}
