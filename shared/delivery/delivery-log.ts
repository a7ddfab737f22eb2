import {
  BatchWriteItemCommand,
  DeleteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  UpdateTimeToLiveCommand,
  type AttributeValue,
  type WriteRequest,
  type DynamoDBClientConfig,
} from "@aws-sdk/client-dynamodb";
import { ensurePkSkTable } from "../dynamo/pk-sk-table";
import { fullJitter, sleep } from "../retry/backoff";
import { SQS_MAX_RETENTION_SECONDS } from "./retry-policy";
import { ValidationError } from "../errors";
import { LeanDynamoDBClient } from "../aws/lean-clients";

/**
 * The deliveries table: every attempt to POST to a webhook, kept for `ttlDays`, and the
 * makeup of a request that failed (so its retry sends exactly the same body under the
 * same `webhook-id`). Generic keys, one partition per sink:
 *
 * | item    | pk            | sk                                       | attributes                       |
 * |---------|---------------|------------------------------------------|----------------------------------|
 * | attempt | `SINK#<id>`   | `ATTEMPT#<ms, 13 digits>#<webhook-id>#<n>` | see DeliveryAttempt, ExpiresAt |
 * | pending | `SINK#<id>`   | `PENDING#<first delivery ID>`            | Members (L of S), Attempts (N), FirstAttemptAt (N), LastError (S), ExpiresAt |
 *
 * `ExpiresAt` (epoch seconds) is the table's TTL attribute.
 */
export const DELIVERIES_TTL_ATTRIBUTE = "ExpiresAt";

/** What happened to one attempt. */
export type AttemptOutcome = "delivered" | "retrying" | "dead-lettered" | "disabled";

export interface DeliveryAttempt {
  readonly SinkID: string;
  /** The request's `webhook-id`. */
  readonly DeliveryID: string;
  /** 1 for the first try of this request. */
  readonly Attempt: number;
  readonly Outcome: AttemptOutcome;
  /** The HTTP status, or 0 when no answer came (or no request was made). */
  readonly StatusCode: number;
  readonly LatencyMs: number;
  readonly Error: string;
  /** How many events the request carried, and their index range. */
  readonly Events: number;
  readonly FirstIndex: number;
  readonly LastIndex: number;
  /** Epoch ms of the attempt. */
  readonly At: number;
  /** The sink's CreateIndex: a later sink under the same ID does not list this one's attempts. */
  readonly SinkIndex?: number;
  /** Epoch ms of the next try, when one is scheduled. */
  readonly NextAttemptAt?: number;
}

/** A request that failed and will be retried: the same deliveries, in the same order. */
export interface PendingDelivery {
  readonly Members: readonly string[];
  /** Attempts made so far. */
  readonly Attempts: number;
  readonly FirstAttemptAt: number;
  readonly LastError: string;
}

export interface DeliveryLog {
  /**
   * Records several attempts together (the deliverer writes those of one batch at once).
   * Resolves once every one is written; rejects, saying how many were not, otherwise.
   */
  recordAll(attempts: readonly DeliveryAttempt[]): Promise<void>;
  /** The newest attempts first; `nextToken` continues where a page stopped. */
  /** `sinkIndex`: only that incarnation's attempts (and older records that carry none). */
  list(sinkId: string, page: { limit: number; nextToken?: string; sinkIndex?: number }): Promise<{ attempts: DeliveryAttempt[]; nextToken?: string }>;
  pending(sinkId: string, firstDeliveryId: string): Promise<PendingDelivery | undefined>;
  savePending(sinkId: string, firstDeliveryId: string, pending: PendingDelivery): Promise<void>;
  clearPending(sinkId: string, firstDeliveryId: string): Promise<void>;
}

export interface DynamoDeliveryLogOptions {
  readonly tableName: string;
  /** How long attempts are kept. @default 7 */
  readonly ttlDays?: number;
  /**
   * How often `recordAll` sends again the items DynamoDB left unprocessed (throttling),
   * waiting `unprocessedRetryBaseMs` × 2ⁿ (with jitter) before each. @default 6, 50 ms
   */
  readonly unprocessedRetries?: number;
  readonly unprocessedRetryBaseMs?: number;
  readonly client?: DynamoDBClient;
  readonly clientConfig?: DynamoDBClientConfig;
}

type Item = Record<string, AttributeValue>;

const partition = (sinkId: string): AttributeValue => ({ S: `SINK#${sinkId}` });
/** An item's primary key as one string. */
const itemKey = (item: Item | undefined): string => `${item?.pk?.S}\u0000${item?.sk?.S}`;
const ATTEMPT_PREFIX = "ATTEMPT#";
/** At most this many queries fill one page of `list` (each reads up to 1 MB). */
const MAX_QUERIES_PER_PAGE = 10;
/** Attempts a follow-up query of `list` reads at once, past attempts of an earlier sink. */
const SKIP_READ_LIMIT = 200;
/** BatchWriteItem's limit on items per request. */
const BATCH_WRITE_MAX_ITEMS = 25;

/** A recordAll call waiting for its records: how many are not settled yet, and how many failed. */
interface QueuedCall {
  left: number;
  unwritten: number;
  /** The first reason one of its records was not written. */
  reason: Error | undefined;
  readonly total: number;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
}

interface QueuedItem {
  readonly key: string;
  readonly item: Item;
  readonly call: QueuedCall;
}

export class DynamoDeliveryLog implements DeliveryLog {
  private readonly client: DynamoDBClient;
  private readonly ttlSeconds: number;
  private readonly unprocessedRetries: number;
  private queued: QueuedItem[] = [];
  private writing = false;

  constructor(private readonly options: DynamoDeliveryLogOptions) {
    this.client = options.client ?? new LeanDynamoDBClient(options.clientConfig ?? {});
    this.ttlSeconds = (options.ttlDays ?? 7) * 86_400;
    this.unprocessedRetries = options.unprocessedRetries ?? 6;
  }

  /**
   * Writes a call's attempts. Calls made while a write is in flight (the local runtime runs
   * several invocations in one process) wait and share the next BatchWriteItem, up to 25
   * items: one request per round trip instead of one per call, with no waiting when the
   * writer is idle (in Lambda an instance runs one batch at a time, so its ≤ 10 records go
   * in one request, as before). A call resolves once all its records are written; it rejects,
   * saying how many of its own were not, otherwise.
   */
  recordAll(attempts: readonly DeliveryAttempt[]): Promise<void> {
    if (attempts.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      // One key twice in a request is refused by BatchWriteItem; as with PutItem, the last one stands.
      const items = new Map<string, Item>();
      for (const attempt of attempts) {
        const item = this.attemptItem(attempt);
        items.set(itemKey(item), item);
      }
      const call: QueuedCall = { left: items.size, unwritten: 0, reason: undefined, total: items.size, resolve, reject };
      for (const [key, item] of items) this.queued.push({ key, item, call });
      if (!this.writing) void this.writeQueued();
    });
  }

  /** Sends what is queued, 25 items a request, one request at a time, until nothing is left. */
  private async writeQueued(): Promise<void> {
    this.writing = true;
    try {
      while (this.queued.length > 0) {
        // No key twice in one request: a later record of the same key waits for the next one, so it stands.
        const request: QueuedItem[] = [];
        const keys = new Set<string>();
        const rest: QueuedItem[] = [];
        for (const queued of this.queued) {
          if (request.length < BATCH_WRITE_MAX_ITEMS && !keys.has(queued.key)) {
            request.push(queued);
            keys.add(queued.key);
          } else rest.push(queued);
        }
        this.queued = rest;
        let failure: Error | undefined;
        let unprocessed: ReadonlySet<Item> = new Set();
        try {
          unprocessed = await this.batchWrite(request.map((q) => q.item));
        } catch (error) {
          failure = error as Error;
        }
        for (const { item, call } of request) {
          if (failure !== undefined || unprocessed.has(item)) {
            call.unwritten++;
            call.reason ??= failure ?? new Error(this.unprocessedReason());
          }
          if (--call.left > 0) continue;
          if (call.reason === undefined) call.resolve();
          else if (call.reason === failure && call.unwritten === call.total) call.reject(failure);
          else call.reject(new Error(`${call.unwritten} of ${call.total} delivery attempt records were not written to ${this.options.tableName}: ${call.reason.message}`));
        }
      }
    } finally {
      this.writing = false;
    }
  }

  private unprocessedReason(): string {
    const tries = this.unprocessedRetries + 1;
    return `DynamoDB left them unprocessed ${tries} ${tries === 1 ? "time" : "times"} (throttled)`;
  }

  /**
   * One BatchWriteItem of up to 25 puts, sending again what comes back unprocessed; returns
   * the items still unprocessed after the last retry.
   */
  private async batchWrite(items: Item[]): Promise<ReadonlySet<Item>> {
    const { tableName } = this.options;
    const retries = this.unprocessedRetries;
    const baseMs = this.options.unprocessedRetryBaseMs ?? 50;
    let requests: WriteRequest[] = items.map((Item) => ({ PutRequest: { Item } }));
    for (let attempt = 0; ; attempt++) {
      const { UnprocessedItems } = await this.client.send(new BatchWriteItemCommand({ RequestItems: { [tableName]: requests } }));
      const left = UnprocessedItems?.[tableName] ?? [];
      if (left.length === 0) return new Set();
      if (attempt >= retries) {
        // DynamoDB hands back the requests it was given (deserialised anew): match them to ours by key.
        const leftKeys = new Set(left.map((request) => itemKey(request.PutRequest?.Item)));
        return new Set(items.filter((item) => leftKeys.has(itemKey(item))));
      }
      requests = left;
      // Exponential backoff with full jitter, as AWS advises for unprocessed items.
      await sleep(fullJitter(attempt, baseMs, baseMs * 2 ** retries));
    }
  }

  private attemptItem(attempt: DeliveryAttempt): Item {
    const sk = `${ATTEMPT_PREFIX}${String(attempt.At).padStart(13, "0")}#${attempt.DeliveryID}#${attempt.Attempt}`;
    const item: Item = {
      pk: partition(attempt.SinkID),
      sk: { S: sk },
      SinkID: { S: attempt.SinkID },
      DeliveryID: { S: attempt.DeliveryID },
      Attempt: { N: String(attempt.Attempt) },
      Outcome: { S: attempt.Outcome },
      StatusCode: { N: String(attempt.StatusCode) },
      LatencyMs: { N: String(attempt.LatencyMs) },
      Error: { S: attempt.Error },
      Events: { N: String(attempt.Events) },
      FirstIndex: { N: String(attempt.FirstIndex) },
      LastIndex: { N: String(attempt.LastIndex) },
      At: { N: String(attempt.At) },
      [DELIVERIES_TTL_ATTRIBUTE]: { N: String(Math.floor(attempt.At / 1000) + this.ttlSeconds) },
    };
    if (attempt.NextAttemptAt !== undefined) item.NextAttemptAt = { N: String(attempt.NextAttemptAt) };
    if (attempt.SinkIndex !== undefined) item.SinkIndex = { N: String(attempt.SinkIndex) };
    return item;
  }

  /**
   * A page of the sink's attempts, newest first. With `sinkIndex`, attempts of an earlier sink
   * of the same ID are skipped: DynamoDB applies a query's Limit before its filter, so the
   * page is filled by reading on (up to MAX_QUERIES_PER_PAGE queries) rather than coming back
   * short, or empty, with a token. The token is the key of the last attempt returned, or,
   * when the reads stopped in a run of skipped attempts, of the last one read.
   */
  async list(sinkId: string, page: { limit: number; nextToken?: string; sinkIndex?: number }): Promise<{ attempts: DeliveryAttempt[]; nextToken?: string }> {
    const filtered = page.sinkIndex !== undefined;
    const items: Item[] = [];
    let startKey: Item | undefined = page.nextToken !== undefined ? { pk: partition(sinkId), sk: { S: decodeNextToken(page.nextToken) } } : undefined;
    let cut = false;
    for (let queries = 0; items.length < page.limit && queries < MAX_QUERIES_PER_PAGE; queries++) {
      const wanted = page.limit - items.length;
      const result = await this.client.send(
        new QueryCommand({
          TableName: this.options.tableName,
          KeyConditionExpression: "pk = :pk AND begins_with(sk, :prefix)",
          ...(filtered ? { FilterExpression: "attribute_not_exists(SinkIndex) OR SinkIndex = :sinkIndex" } : {}),
          ExpressionAttributeValues: { ":pk": partition(sinkId), ":prefix": { S: ATTEMPT_PREFIX }, ...(filtered ? { ":sinkIndex": { N: String(page.sinkIndex) } } : {}) },
          ScanIndexForward: false,
          // The first query reads just a page; later ones (past skipped attempts) read more at once.
          Limit: queries === 0 ? wanted : Math.max(wanted, SKIP_READ_LIMIT),
          ...(startKey !== undefined ? { ExclusiveStartKey: startKey } : {}),
        }),
      );
      for (const item of result.Items ?? []) {
        if (items.length === page.limit) {
          cut = true;
          break;
        }
        items.push(item);
      }
      startKey = result.LastEvaluatedKey;
      if (cut || startKey === undefined) break;
    }
    const last = cut ? items.at(-1)?.sk?.S : startKey?.sk?.S;
    return { attempts: items.map(attemptFromItem), ...(last !== undefined ? { nextToken: Buffer.from(last).toString("base64url") } : {}) };
  }

  async pending(sinkId: string, firstDeliveryId: string): Promise<PendingDelivery | undefined> {
    const { Item } = await this.client.send(new GetItemCommand({ TableName: this.options.tableName, Key: pendingKey(sinkId, firstDeliveryId), ConsistentRead: true }));
    if (!Item) return undefined;
    return {
      Members: (Item.Members?.L ?? []).map((m) => m.S ?? "").filter((m) => m !== ""),
      Attempts: Number(Item.Attempts?.N ?? 0),
      FirstAttemptAt: Number(Item.FirstAttemptAt?.N ?? 0),
      LastError: Item.LastError?.S ?? "",
    };
  }

  async savePending(sinkId: string, firstDeliveryId: string, pending: PendingDelivery): Promise<void> {
    await this.client.send(
      new PutItemCommand({
        TableName: this.options.tableName,
        Item: {
          ...pendingKey(sinkId, firstDeliveryId),
          Members: { L: pending.Members.map((m) => ({ S: m })) },
          Attempts: { N: String(pending.Attempts) },
          FirstAttemptAt: { N: String(pending.FirstAttemptAt) },
          LastError: { S: pending.LastError },
          // Past SQS's longest retention nothing can retry it any more.
          [DELIVERIES_TTL_ATTRIBUTE]: { N: String(Math.floor(pending.FirstAttemptAt / 1000) + SQS_MAX_RETENTION_SECONDS + 86_400) },
        },
      }),
    );
  }

  async clearPending(sinkId: string, firstDeliveryId: string): Promise<void> {
    await this.client.send(new DeleteItemCommand({ TableName: this.options.tableName, Key: pendingKey(sinkId, firstDeliveryId) }));
  }
}

function pendingKey(sinkId: string, firstDeliveryId: string): Item {
  return { pk: partition(sinkId), sk: { S: `PENDING#${firstDeliveryId}` } };
}

function decodeNextToken(token: string): string {
  const sk = /^[A-Za-z0-9_-]+$/.test(token) ? Buffer.from(token, "base64url").toString("utf8") : "";
  if (!sk.startsWith(ATTEMPT_PREFIX)) throw new ValidationError(`next_token ${JSON.stringify(token.slice(0, 100))} is not a token this API gave out`);
  return sk;
}

function attemptFromItem(item: Item): DeliveryAttempt {
  const n = (name: string) => Number(item[name]?.N ?? 0);
  const s = (name: string) => item[name]?.S ?? "";
  return {
    SinkID: s("SinkID"),
    DeliveryID: s("DeliveryID"),
    Attempt: n("Attempt"),
    Outcome: s("Outcome") as AttemptOutcome,
    StatusCode: n("StatusCode"),
    LatencyMs: n("LatencyMs"),
    Error: s("Error"),
    Events: n("Events"),
    FirstIndex: n("FirstIndex"),
    LastIndex: n("LastIndex"),
    At: n("At"),
    ...(item.NextAttemptAt?.N !== undefined ? { NextAttemptAt: n("NextAttemptAt") } : {}),
    ...(item.SinkIndex?.N !== undefined ? { SinkIndex: n("SinkIndex") } : {}),
  };
}

/** Creates the deliveries table with its TTL if it does not exist (local runtime and tests; the CDK does this in AWS). */
export async function ensureDeliveriesTable(client: DynamoDBClient, tableName: string): Promise<void> {
  await ensurePkSkTable(client, tableName);
  await client
    .send(new UpdateTimeToLiveCommand({ TableName: tableName, TimeToLiveSpecification: { AttributeName: DELIVERIES_TTL_ATTRIBUTE, Enabled: true } }))
    .catch((error: Error) => {
      // Already enabled (a second start) is fine.
      if (!/already enabled|TimeToLive is already/i.test(error.message)) throw error;
    });
}
