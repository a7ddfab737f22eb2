import { DynamoDBClient, type DynamoDBClientConfig } from "@aws-sdk/client-dynamodb";
import { SQSClient, type SQSClientConfig } from "@aws-sdk/client-sqs";
import { ServiceException } from "@smithy/core/client";
import type { SdkError } from "@smithy/types";
import { DEFAULT_MAX_ATTEMPTS, DEFAULT_RETRY_DELAY_BASE, MAXIMUM_RETRY_DELAY, THROTTLING_RETRY_DELAY_BASE, isClockSkewError, isServerError, isThrottlingError, isTransientError } from "@smithy/core/retry";
import { awsJsonError } from "./json-error";
import { AwsJsonTransport, type JsonService } from "./json-transport";

/**
 * SDK clients whose everyday operations skip the SDK's command machinery. In the functions'
 * and the local runtime's profiles the SDK cost about 0.5 ms of CPU per DynamoDB or SQS
 * call (the middleware stack, schema-driven serialisation, endpoint rules, a log filter
 * that walks every input and output even with no logger, SigV4 on a cloned request). For
 * the operations listed below the input is already the AWS JSON protocol's body, so these
 * clients send it with one `JSON.stringify` through AwsJsonTransport and parse the answer
 * with one `JSON.parse`; everything else goes through the SDK unchanged.
 *
 * They stay SDK clients (`instanceof DynamoDBClient`, the same config and `destroy()`),
 * and keep the SDK's contract for callers:
 * - results carry `$metadata` (`httpStatusCode`, `requestId`, `attempts`, `totalRetryDelay`);
 * - binary values (`Uint8Array`: DynamoDB `B`/`BS`, SQS `BinaryValue`) go out as base64,
 *   and DynamoDB `B`/`BS` values come back as `Uint8Array`, as the SDK gives them;
 * - errors are the SDK's: `name` from the answer (`X-Amzn-ErrorType` or `__type`), `$fault`,
 *   `$metadata`, the body's members copied on (e.g. `CancellationReasons`; for SQS also
 *   `Code` and `Type` from `x-amzn-query-error`), and `instanceof ConditionalCheckFailedException` and the like
 *   hold (the SDK's classes match a service exception by name);
 * - retries as the SDK's standard mode: up to `maxAttempts` (the client's configuration,
 *   AWS_MAX_ATTEMPTS, default 3) for throttling, transient, server and clock-skew errors,
 *   with full-jitter exponential backoff (base 100 ms, 500 ms when throttled, at most 20 s).
 *   Not kept: the SDK's retry token bucket (a client-side quota on retries) and its
 *   user-agent and invocation-id headers.
 */

interface LeanCommand {
  readonly input: object;
  readonly schema?: unknown;
}

/** The operation a command runs, from its schema (`[9, namespace, name, …]`), as the SDK names it. */
function operationOf(command: LeanCommand): string | undefined {
  const schema = command.schema;
  return Array.isArray(schema) && schema[0] === 9 && typeof schema[2] === "string" ? schema[2] : undefined;
}

/** Whether `value` holds bytes anywhere (a plain walk costs far less than a replacer called for every key). */
function holdsBytes(value: unknown, depth = 0): boolean {
  if (typeof value !== "object" || value === null) return false;
  if (value instanceof Uint8Array) return true;
  if (depth > 64) return true; // as deep as DynamoDB allows (32 levels) and more: let the replacer look
  if (Array.isArray(value)) {
    for (const item of value) if (holdsBytes(item, depth + 1)) return true;
    return false;
  }
  for (const key in value) if (holdsBytes((value as Record<string, unknown>)[key], depth + 1)) return true;
  return false;
}

/** JSON.stringify's replacer: bytes as base64 (the holder's own value: Buffer's toJSON has already run). */
function bytesAsBase64(this: Record<string, unknown>, key: string, value: unknown): unknown {
  const raw = this[key];
  return raw instanceof Uint8Array ? Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString("base64") : value;
}

/** Whether a DynamoDB answer may hold a `B` or `BS` attribute value (only then is the slower reviver used). */
function mayHoldBytes(text: string): boolean {
  return text.includes('"B":') || text.includes('"BS":');
}

/** JSON.parse's reviver for DynamoDB answers: `{"B": "<base64>"}` and `{"BS": [...]}` attribute values as bytes. */
function dynamoBytes(this: unknown, _key: string, value: unknown): unknown {
  if (typeof value === "object" && value !== null && !Array.isArray(value)) {
    const record = value as Record<string, unknown>;
    const keys = Object.keys(record);
    if (keys.length === 1) {
      if (keys[0] === "B" && typeof record.B === "string") return { B: new Uint8Array(Buffer.from(record.B, "base64")) };
      if (keys[0] === "BS" && Array.isArray(record.BS) && record.BS.every((b) => typeof b === "string")) return { BS: record.BS.map((b: string) => new Uint8Array(Buffer.from(b, "base64"))) };
    }
  }
  return value;
}

interface LeanOptions {
  readonly service: JsonService;
  readonly operations: ReadonlySet<string>;
  /** The cache key of an operation's endpoint (DynamoDB's depends on the tables named). */
  readonly endpointKey: (operation: string, input: Record<string, unknown>) => string;
  readonly revive?: (this: unknown, key: string, value: unknown) => unknown;
  /** SQS answers in JSON and also gives its query protocol's error code (`x-amzn-query-error`). */
  readonly queryCompatible?: boolean;
}

class LeanSender {
  private readonly transport: AwsJsonTransport;

  constructor(
    private readonly client: { config: { maxAttempts?: unknown } } & ConstructorParameters<typeof AwsJsonTransport>[0],
    private readonly options: LeanOptions,
  ) {
    this.transport = new AwsJsonTransport(client, options.service);
  }

  /**
   * The client's `send`: the listed operations here, everything else (and any call with
   * per-call options or a callback) through `sdkSend`. Typed as the SDK's own overloads.
   */
  sendOr<Send extends (...args: never[]) => unknown>(sdkSend: Send): Send {
    return ((command: unknown, ...rest: unknown[]) => {
      const operation = rest.length <= 1 && typeof rest[0] !== "function" ? this.handles(command, rest[0]) : undefined;
      if (operation === undefined) return (sdkSend as unknown as (...args: unknown[]) => unknown)(command, ...rest);
      return this.send(operation, command as LeanCommand);
    }) as unknown as Send;
  }

  /** The operation's name when this sender handles the command, else undefined (the SDK sends it). */
  private handles(command: unknown, options: unknown): string | undefined {
    // Per-call HTTP options (an abort signal, a request timeout) are the SDK handler's to honour.
    if (options !== undefined && (typeof options !== "object" || options === null || Object.keys(options).length > 0)) return undefined;
    const operation = operationOf(command as LeanCommand);
    return operation !== undefined && this.options.operations.has(operation) ? operation : undefined;
  }

  async send(operation: string, command: LeanCommand): Promise<unknown> {
    const input = command.input as Record<string, unknown>;
    const target = await this.transport.target(this.options.endpointKey(operation, input), command.constructor, input);
    const body = holdsBytes(input) ? JSON.stringify(input, bytesAsBase64) : JSON.stringify(input);
    const maxAttempts = await this.maxAttempts();
    let totalRetryDelay = 0;
    for (let attempt = 1; ; attempt++) {
      let error: ServiceException | Error;
      try {
        const answer = await this.transport.call(target, operation, body);
        const $metadata = { httpStatusCode: answer.status, requestId: answer.requestId, attempts: attempt, totalRetryDelay };
        if (answer.status >= 200 && answer.status < 300) {
          const output = answer.text === "" ? {} : (JSON.parse(answer.text, this.options.revive && mayHoldBytes(answer.text) ? this.options.revive : undefined) as Record<string, unknown>);
          return { ...output, $metadata };
        }
        error = this.serviceError(answer.status, answer.headers, answer.text, $metadata);
      } catch (thrown) {
        if (thrown instanceof ServiceException || !(thrown instanceof Error)) throw thrown;
        error = thrown;
      }
      if (attempt >= maxAttempts || !retryable(error)) {
        // As the SDK's retry middleware does, a network error says how many attempts it took too.
        if (!(error instanceof ServiceException)) Object.assign(error, { $metadata: { ...(error as { $metadata?: object }).$metadata, attempts: attempt, totalRetryDelay } });
        throw error;
      }
      const base = isThrottlingError(error as SdkError) ? THROTTLING_RETRY_DELAY_BASE : DEFAULT_RETRY_DELAY_BASE;
      const delay = Math.floor(Math.random() * Math.min(MAXIMUM_RETRY_DELAY, base * 2 ** (attempt - 1)));
      totalRetryDelay += delay;
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }

  destroy(): void {
    this.transport.destroy();
  }

  private async maxAttempts(): Promise<number> {
    const configured = this.client.config.maxAttempts;
    const value = typeof configured === "function" ? await (configured as () => Promise<unknown>)() : configured;
    return typeof value === "number" && value >= 1 ? value : DEFAULT_MAX_ATTEMPTS;
  }

  private serviceError(status: number, headers: Readonly<Record<string, string | string[] | undefined>>, text: string, $metadata: ServiceException["$metadata"]): ServiceException {
    const { type, message } = awsJsonError(headers, text);
    const error = new ServiceException({ name: type ?? "Unknown", $fault: status >= 500 ? "server" : "client", message: message ?? `HTTP ${status}${text ? `: ${text.slice(0, 200)}` : ""}`, $metadata });
    // As the SDK does for a query-compatible service: the query protocol's code and type (`Code;Type`) as members.
    const queryError = this.options.queryCompatible ? headers["x-amzn-query-error"] : undefined;
    if (typeof queryError === "string") {
      const [Code, Type] = queryError.split(";");
      Object.assign(error, { Code, Type });
    }
    let members: unknown;
    try {
      members = JSON.parse(text, this.options.revive && mayHoldBytes(text) ? this.options.revive : undefined);
    } catch {
      members = undefined;
    }
    if (typeof members === "object" && members !== null) {
      for (const [key, value] of Object.entries(members)) if (key !== "__type" && key !== "message" && key !== "Message" && key.toLowerCase() !== "code") (error as unknown as Record<string, unknown>)[key] = value;
    }
    return error;
  }
}

/** undici's names for a connection that failed or broke (the SDK's Node handler surfaces them as ECONNRESET and the like). */
const UNDICI_TRANSIENT = new Set(["UND_ERR_SOCKET", "UND_ERR_CONNECT_TIMEOUT", "UND_ERR_HEADERS_TIMEOUT", "UND_ERR_BODY_TIMEOUT", "UND_ERR_CLOSED"]);

function retryable(error: Error): boolean {
  const e = error as SdkError;
  return isThrottlingError(e) || isTransientError(e) || isServerError(e) || isClockSkewError(e) || UNDICI_TRANSIENT.has((error as { code?: string }).code ?? "");
}

/** DynamoDB's item and query operations; table management goes through the SDK. */
const DYNAMODB_OPERATIONS = new Set(["GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan", "BatchGetItem", "BatchWriteItem", "TransactGetItems", "TransactWriteItems"]);

/** The tables an input names (DynamoDB's endpoint may depend on them: account-based endpoints, ARNs). */
function dynamoEndpointKey(operation: string, input: Record<string, unknown>): string {
  if (typeof input.TableName === "string") return `${operation}\0${input.TableName}`;
  const items = (input.RequestItems ?? undefined) as Record<string, unknown> | undefined;
  if (items !== undefined) return `${operation}\0${Object.keys(items).join("\0")}`;
  const transact = (input.TransactItems ?? undefined) as Array<Record<string, { TableName?: string } | undefined>> | undefined;
  if (transact !== undefined) return `${operation}\0${transact.map((t) => Object.values(t)[0]?.TableName ?? "").join("\0")}`;
  return operation;
}

export class LeanDynamoDBClient extends DynamoDBClient {
  private readonly lean: LeanSender;

  constructor(config: DynamoDBClientConfig = {}) {
    super(config);
    this.lean = new LeanSender(this, {
      service: { contentType: "application/x-amz-json-1.0", targetPrefix: "DynamoDB_20120810", signingName: "dynamodb" },
      operations: DYNAMODB_OPERATIONS,
      endpointKey: dynamoEndpointKey,
      revive: dynamoBytes,
    });
    this.send = this.lean.sendOr(super.send.bind(this));
  }


  override destroy(): void {
    this.lean.destroy();
    super.destroy();
  }
}

/** SQS's message operations that carry no answer bytes (ReceiveMessage's binary attributes go through the SDK). */
const SQS_OPERATIONS = new Set(["SendMessage", "SendMessageBatch", "DeleteMessage", "DeleteMessageBatch", "ChangeMessageVisibility", "ChangeMessageVisibilityBatch"]);

export class LeanSQSClient extends SQSClient {
  private readonly lean: LeanSender;

  constructor(config: SQSClientConfig = {}) {
    super(config);
    this.lean = new LeanSender(this, {
      service: { contentType: "application/x-amz-json-1.0", targetPrefix: "AmazonSQS", signingName: "sqs", headers: { "x-amzn-query-mode": "true" } },
      operations: SQS_OPERATIONS,
      endpointKey: (operation) => operation,
      queryCompatible: true,
    });
    this.send = this.lean.sendOr(super.send.bind(this));
  }


  override destroy(): void {
    this.lean.destroy();
    super.destroy();
  }
}
