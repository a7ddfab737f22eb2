import type { APIGatewayProxyStructuredResultV2 } from "aws-lambda";

export type Response = APIGatewayProxyStructuredResultV2 & { statusCode: number; headers: Record<string, string> };

/** An error answered with a status and Nomad-style plain-text body. */
export class HttpError extends Error {
  override readonly name = "HttpError";
  constructor(
    readonly statusCode: number,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export function text(statusCode: number, body: string, headers: Record<string, string> = {}): Response {
  return { statusCode, headers: { "content-type": "text/plain; charset=utf-8", ...headers }, body };
}

/** Nomad answers writes with 200 and an empty body. */
export function empty(headers: Record<string, string> = {}): Response {
  return { statusCode: 200, headers, body: "" };
}

export function json(value: unknown, options: { pretty?: boolean; headers?: Record<string, string> } = {}): Response {
  return {
    statusCode: 200,
    headers: { "content-type": "application/json", ...options.headers },
    body: options.pretty ? `${JSON.stringify(value, null, 4)}\n` : JSON.stringify(value),
  };
}

/** Headers Nomad sets on reads; kept so Nomad's Go client parses our answers as its own. */
export function queryMeta(index: number): Record<string, string> {
  return { "x-nomad-index": String(index), "x-nomad-knownleader": "true", "x-nomad-lastcontact": "0" };
}

export function writeMeta(index: number): Record<string, string> {
  return { "x-nomad-index": String(index) };
}
