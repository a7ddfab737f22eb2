import { Agent, request } from "undici";
import { awsJsonError } from "../../../shared/aws/json-error";

/** An SQS error answer: `type` is the error's name as the SDK gives it (QueueDoesNotExist, ...). */
export class SqsJsonError extends Error {
  override readonly name = "SqsJsonError";
  constructor(
    readonly type: string,
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * SQS's JSON protocol (AWS JSON 1.0, `X-Amz-Target: AmazonSQS.<Action>`) spoken straight to
 * the local SQS, for the stand-ins' own plumbing: the event source mapping's receives and
 * deletes, which Lambda makes inside AWS, not code of this project that runs there (the
 * functions keep the AWS SDK). Inputs and answers are the SDK's shapes (for this protocol
 * they are the wire's). The SDK spends about half a millisecond of CPU on each call, most of
 * the local runtime's cost per event; this is one JSON body on a keep-alive connection.
 * fauxqs does not check signatures, so none is made.
 */
export class LocalSqsJsonClient {
  private readonly agent = new Agent({ keepAliveTimeout: 60_000, connections: 64 });

  constructor(private readonly endpoint: string) {}

  async call<T>(action: string, input: Readonly<Record<string, unknown>>, signal?: AbortSignal): Promise<T> {
    const { statusCode, headers, body } = await request(`${this.endpoint}/`, {
      method: "POST",
      headers: { "content-type": "application/x-amz-json-1.0", "x-amz-target": `AmazonSQS.${action}` },
      body: JSON.stringify(input),
      dispatcher: this.agent,
      ...(signal ? { signal } : {}),
    });
    const text = await body.text();
    if (statusCode >= 200 && statusCode < 300) return (text === "" ? {} : JSON.parse(text)) as T;
    const error = awsJsonError(headers, text);
    const type = error.type ?? `HTTP ${statusCode}`;
    throw new SqsJsonError(type, statusCode, `SQS ${action} failed (${type}): ${error.message ?? text.slice(0, 300)}`);
  }

  close(): Promise<void> {
    return this.agent.close();
  }
}
