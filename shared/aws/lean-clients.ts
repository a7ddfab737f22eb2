import { randomUUID } from "node:crypto";
import { DynamoDBClient, type DynamoDBClientConfig } from "@aws-sdk/client-dynamodb";
import { SQSClient, type SQSClientConfig } from "@aws-sdk/client-sqs";
import { ServiceException } from "@smithy/core/client";
import { isServerError, isThrottlingError, isTransientError } from "@smithy/core/retry";
import type { RetryStrategyV2, SdkError } from "@smithy/types";
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
 *   and come back as `Uint8Array` (DynamoDB `B`/`BS`, a received message's `BinaryValue`
 *   and `BinaryListValues`), as the SDK gives them;
 * - a call's `abortSignal` ends it (an aborted call is not retried); other per-call options
 *   send the call through the SDK;
 * - idempotency tokens are filled in once per call (TransactWriteItems' `ClientRequestToken`),
 *   so a retry of a transaction that committed without its answer is not run twice;
 * - errors are the SDK's: the name it would give (`X-Amzn-ErrorType` or `__type`; for SQS an
 *   error it does not model is named by its query code, e.g. `AccessDenied`), `$fault`,
 *   `$metadata`, the body's members (e.g. `CancellationReasons`; SQS's `Code`, `Type`,
 *   `Error`), `$retryable` where the service models it, and `instanceof
 *   ConditionalCheckFailedException` and the like hold (the SDK's classes match a service
 *   exception by name; `instanceof DynamoDBServiceException` does not);
 * - retries are the client's own retry strategy (standard mode: `maxAttempts` from the
 *   config or AWS_MAX_ATTEMPTS, DynamoDB 4 and SQS 3 by default, the SDK's delays and
 *   retry quota), deciding on the SDK's classification: throttling and transient errors
 *   (5xx 500/502/503/504, network errors, a clock the answer corrected) are retried;
 * - in Lambda, the invocation's trace headers go with each request (json-transport.ts).
 * Not kept: `Retry-After` hints, the MD5 checks of sent and received message bodies, the SDK's
 * long-poll retry scope for ReceiveMessage, the request handler's
 * settings (timeouts: undici's own apply, 300 s per answer), custom middleware, the `logger`,
 * `useQueueUrlAsEndpoint: true` (these clients always use the service endpoint), an older
 * (v1) custom `retryStrategy` (then the SDK sends), and the SDK's user-agent and
 * invocation-id headers.
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

/** How a service's answers carry bytes (as base64 text, which the SDK gives back as `Uint8Array`). */
interface AnswerBytes {
  /** Whether an answer's text may hold such values (only then is the slower reviver used). */
  readonly mayHold: (text: string) => boolean;
  readonly revive: (this: unknown, key: string, value: unknown) => unknown;
}

const base64Bytes = (text: string) => new Uint8Array(Buffer.from(text, "base64"));
const isStringList = (value: unknown): value is string[] => Array.isArray(value) && value.every((item) => typeof item === "string");

/** DynamoDB: `{"B": "<base64>"}` and `{"BS": [...]}` attribute values. */
const DYNAMODB_BYTES: AnswerBytes = {
  mayHold: (text) => text.includes('"B":') || text.includes('"BS":'),
  revive(_key, value) {
    if (typeof value === "object" && value !== null && !Array.isArray(value)) {
      const record = value as Record<string, unknown>;
      const keys = Object.keys(record);
      if (keys.length === 1) {
        if (keys[0] === "B" && typeof record.B === "string") return { B: base64Bytes(record.B) };
        if (keys[0] === "BS" && isStringList(record.BS)) return { BS: record.BS.map(base64Bytes) };
      }
    }
    return value;
  },
};

/** SQS: a message attribute's `BinaryValue` and `BinaryListValues` (ReceiveMessage). */
const SQS_BYTES: AnswerBytes = {
  mayHold: (text) => text.includes('"BinaryValue":') || text.includes('"BinaryListValues":'),
  revive(key, value) {
    if (key === "BinaryValue" && typeof value === "string") return base64Bytes(value);
    if (key === "BinaryListValues" && isStringList(value)) return value.map(base64Bytes);
    return value;
  },
};

interface LeanOptions {
  readonly service: JsonService;
  readonly operations: ReadonlySet<string>;
  /** The cache key of an operation's endpoint (DynamoDB's depends on the tables named). */
  readonly endpointKey: (operation: string, input: Record<string, unknown>) => string;
  readonly bytes?: AnswerBytes;
  /** SQS answers in JSON and also gives its query protocol's error code (`x-amzn-query-error`). */
  readonly queryCompatible?: boolean;
  /** The service's Smithy namespace (an error `__type` in it is one the service models). */
  readonly namespace?: string;
  /** Input fields the SDK fills with a fresh UUID when absent (the idempotency-token trait), by operation. */
  readonly idempotencyTokens?: Readonly<Record<string, string>>;
  /** Errors the service models as retryable (the SDK gives them `$retryable`). */
  readonly retryableErrors?: ReadonlySet<string>;
}

class LeanSender {
  private readonly transport: AwsJsonTransport;

  constructor(
    private readonly client: { config: { retryStrategy?: unknown } } & ConstructorParameters<typeof AwsJsonTransport>[0],
    private readonly options: LeanOptions,
  ) {
    this.transport = new AwsJsonTransport(client, options.service);
  }

  /**
   * The client's `send`: the listed operations here, everything else (and any call with
   * per-call options or a callback) through `sdkSend`. Typed as the SDK's own overloads.
   */
  sendOr<Send extends (...args: never[]) => unknown>(sdkSend: Send): Send {
    const sdk = sdkSend as unknown as (...args: unknown[]) => Promise<unknown>;
    return ((command: unknown, ...rest: unknown[]) => {
      const operation = rest.length <= 1 && typeof rest[0] !== "function" ? this.handles(command, rest[0]) : undefined;
      if (operation === undefined) return sdk(command, ...rest);
      const signal = (rest[0] as { abortSignal?: AbortSignal } | undefined)?.abortSignal;
      return this.send(operation, command as LeanCommand, signal, () => sdk(command, ...rest));
    }) as unknown as Send;
  }

  /** The operation's name when this sender handles the command, else undefined (the SDK sends it). */
  private handles(command: unknown, options: unknown): string | undefined {
    // An abort signal is honoured here; other per-call HTTP options (a request timeout) are the SDK handler's.
    if (options !== undefined && (typeof options !== "object" || options === null || Object.keys(options).some((key) => key !== "abortSignal"))) return undefined;
    const operation = operationOf(command as LeanCommand);
    return operation !== undefined && this.options.operations.has(operation) ? operation : undefined;
  }

  private async send(operation: string, command: LeanCommand, signal: AbortSignal | undefined, viaSdk: () => Promise<unknown>): Promise<unknown> {
    // The client's own retry strategy (its attempts, delays, quota); a custom one of the older kind goes through the SDK.
    const strategy = await this.retryStrategy();
    if (strategy === undefined) return viaSdk();
    let input = command.input as Record<string, unknown>;
    // An idempotency token, as the SDK fills it in: the same for every retry of this call.
    const tokenField = this.options.idempotencyTokens?.[operation];
    if (tokenField !== undefined && input[tokenField] === undefined) input = { ...input, [tokenField]: randomUUID() };
    const target = await this.transport.target(this.options.endpointKey(operation, input), command.constructor, input);
    const body = holdsBytes(input) ? JSON.stringify(input, bytesAsBase64) : JSON.stringify(input);
    let token = await strategy.acquireInitialRetryToken("");
    let totalRetryDelay = 0;
    for (let attempt = 1; ; attempt++) {
      let error: Error;
      try {
        const answer = await this.transport.call(target, operation, body, signal);
        const $metadata = { httpStatusCode: answer.status, requestId: answer.requestId, attempts: attempt, totalRetryDelay, ...(answer.clockSkewCorrected ? { clockSkewCorrected: true as const } : {}) };
        if (answer.status >= 200 && answer.status < 300) {
          const output = answer.text === "" ? {} : (JSON.parse(answer.text, this.reviverFor(answer.text)) as Record<string, unknown>);
          strategy.recordSuccess(token);
          return { ...output, $metadata };
        }
        error = this.serviceError(answer.status, answer.headers, answer.text, $metadata);
      } catch (thrown) {
        if (thrown instanceof ServiceException || !(thrown instanceof Error)) throw thrown;
        // An aborted call ends here: the caller asked for it, there is nothing to retry.
        if (signal?.aborted) throw thrown;
        error = thrown;
      }
      const waited = performance.now();
      try {
        token = await strategy.refreshRetryTokenForRetry(token, { error: error as SdkError, errorType: retryErrorType(error) });
      } catch {
        // As the SDK's retry middleware does, a network error says how many attempts it took too.
        if (!(error instanceof ServiceException)) Object.assign(error, { $metadata: { ...(error as { $metadata?: object }).$metadata, attempts: attempt, totalRetryDelay } });
        throw error;
      }
      totalRetryDelay += Math.round(performance.now() - waited);
    }
  }

  destroy(): void {
    this.transport.destroy();
  }

  private reviverFor(text: string): AnswerBytes["revive"] | undefined {
    const bytes = this.options.bytes;
    return bytes !== undefined && bytes.mayHold(text) ? bytes.revive : undefined;
  }

  private async retryStrategy(): Promise<RetryStrategyV2 | undefined> {
    const provider = this.client.config.retryStrategy;
    const strategy = typeof provider === "function" ? await (provider as () => Promise<unknown>)() : provider;
    const candidate = strategy as Partial<RetryStrategyV2> | undefined;
    return typeof candidate?.acquireInitialRetryToken === "function" && typeof candidate.refreshRetryTokenForRetry === "function" && typeof candidate.recordSuccess === "function" ? (candidate as RetryStrategyV2) : undefined;
  }

  private serviceError(status: number, headers: Readonly<Record<string, string | string[] | undefined>>, text: string, $metadata: ServiceException["$metadata"]): ServiceException {
    const { type, message } = awsJsonError(headers, text);
    let members: unknown;
    try {
      members = JSON.parse(text, this.reviverFor(text));
    } catch {
      members = undefined;
    }
    const record = typeof members === "object" && members !== null ? (members as Record<string, unknown>) : {};
    const text_ = message ?? `HTTP ${status}${text ? `: ${text.slice(0, 200)}` : ""}`;
    // A query-compatible service (SQS) also gives its query protocol's `Code;Type`. The SDK names an
    // error the service models (its `__type` in the service's namespace) by that model, any other by the query code.
    const queryError = this.options.queryCompatible ? headers["x-amzn-query-error"] : undefined;
    const [queryCode, queryType] = typeof queryError === "string" ? queryError.split(";") : [];
    const modeled = typeof record.__type === "string" && this.options.namespace !== undefined && record.__type.startsWith(`${this.options.namespace}#`);
    const name = queryCode !== undefined && queryCode !== "" && !modeled ? queryCode : (type ?? "Unknown");
    const error = new ServiceException({ name, $fault: status >= 500 ? "server" : "client", message: text_, $metadata });
    for (const [key, value] of Object.entries(record)) if (key !== "__type" && key !== "message" && key !== "Message" && key.toLowerCase() !== "code") (error as unknown as Record<string, unknown>)[key] = value;
    if (queryCode !== undefined) Object.assign(error, { Code: queryCode, Type: queryType, Error: { Code: queryCode, Type: queryType, Message: text_ } });
    // Errors the service models as retryable carry the SDK's `$retryable` trait.
    if (this.options.retryableErrors?.has(name)) Object.assign(error, { $retryable: {} });
    return error;
  }
}

/** undici's names for a connection that failed or broke (the SDK's Node handler surfaces them as ECONNRESET and the like). */
const UNDICI_TRANSIENT = new Set(["UND_ERR_SOCKET", "UND_ERR_CONNECT_TIMEOUT", "UND_ERR_HEADERS_TIMEOUT", "UND_ERR_BODY_TIMEOUT", "UND_ERR_CLOSED"]);

/** The SDK's classification (its retry strategy retries THROTTLING and TRANSIENT only), undici's connection errors as transient. */
function retryErrorType(error: Error): "THROTTLING" | "TRANSIENT" | "SERVER_ERROR" | "CLIENT_ERROR" {
  const e = error as SdkError;
  if (isThrottlingError(e)) return "THROTTLING";
  if (isTransientError(e) || UNDICI_TRANSIENT.has((error as { code?: string }).code ?? "")) return "TRANSIENT";
  if (isServerError(e)) return "SERVER_ERROR";
  return "CLIENT_ERROR";
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
      bytes: DYNAMODB_BYTES,
      idempotencyTokens: { TransactWriteItems: "ClientRequestToken" },
      retryableErrors: new Set(["ReplicatedWriteConflictException"]),
    });
    this.send = this.lean.sendOr(super.send.bind(this));
  }


  override destroy(): void {
    this.lean.destroy();
    super.destroy();
  }
}

/** SQS's message operations. */
const SQS_OPERATIONS = new Set(["SendMessage", "SendMessageBatch", "ReceiveMessage", "DeleteMessage", "DeleteMessageBatch", "ChangeMessageVisibility", "ChangeMessageVisibilityBatch"]);

export class LeanSQSClient extends SQSClient {
  private readonly lean: LeanSender;

  constructor(config: SQSClientConfig = {}) {
    super(config);
    this.lean = new LeanSender(this, {
      service: { contentType: "application/x-amz-json-1.0", targetPrefix: "AmazonSQS", signingName: "sqs", headers: { "x-amzn-query-mode": "true" } },
      operations: SQS_OPERATIONS,
      endpointKey: (operation) => operation,
      queryCompatible: true,
      namespace: "com.amazonaws.sqs",
      bytes: SQS_BYTES,
    });
    this.send = this.lean.sendOr(super.send.bind(this));
  }


  override destroy(): void {
    this.lean.destroy();
    super.destroy();
  }
}
