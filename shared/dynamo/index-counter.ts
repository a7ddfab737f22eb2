import { ConditionalCheckFailedException, GetItemCommand, TransactionCanceledException, UpdateItemCommand, type AttributeValue, type DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { ConflictError } from "../errors";
import { fullJitter, sleep } from "../retry/backoff";

/** Attempts of a conditional configuration write before it gives up with ConflictError. */
export const DEFAULT_WRITE_ATTEMPTS = 25;

/** What a conditional write is, for the ConflictError it ends with: `event sink "a"`, "update". */
export interface WriteSubject {
  readonly subject: string;
  readonly verb: string;
}

/** The item that holds a table's write counter (Nomad's raft index, in one item). */
export const COUNTER_KEY: Record<string, AttributeValue> = { pk: { S: "COUNTER" }, sk: { S: "INDEX" } };
/** The item that moves after each configuration write has landed (see IndexCounter.landed). */
const VERSION_KEY: Record<string, AttributeValue> = { pk: { S: "COUNTER" }, sk: { S: "VERSION" } };

/** Per table, what this process calls after each configuration write it lands there. */
const landedListeners = new Map<string, Set<() => void>>();

/**
 * Calls `listener` each time this process lands a configuration write in `tableName` (a
 * sink or a token), once the change version has moved. Writes by other processes are seen
 * only through `version()`; where every writer shares one process (the local runtime: the
 * API, the fan-out and the deliverer), a cache can then be told at once instead of reading
 * the version per batch. Returns the function that stops it.
 */
export function onLanded(tableName: string, listener: () => void): () => void {
  let listeners = landedListeners.get(tableName);
  if (listeners === undefined) landedListeners.set(tableName, (listeners = new Set()));
  listeners.add(listener);
  return () => {
    listeners.delete(listener);
    if (listeners.size === 0 && landedListeners.get(tableName) === listeners) landedListeners.delete(tableName);
  };
}

/**
 * One strictly increasing counter per table, shared by every kind of item in it (sinks,
 * tokens): each configuration write takes the next value as its index, so `X-Nomad-Index`
 * orders all writes, and a reader can tell that nothing changed by reading one item.
 */
export class IndexCounter {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
  ) {}

  /** The last index handed out (0 before the first write). */
  async current(): Promise<number> {
    const result = await this.client.send(new GetItemCommand({ TableName: this.tableName, Key: COUNTER_KEY, ConsistentRead: true }));
    return Number(result.Item?.Value?.N ?? 0);
  }

  /** The next value: strictly increasing across every writer. */
  next(): Promise<number> {
    return this.add(COUNTER_KEY);
  }

  /**
   * Says a configuration write has landed. The index is taken before its write, so a reader
   * that saw a new index could still read the old item; this second value moves only after
   * the write, so a cache keyed on it (the fan-out's) never keeps what the write replaced.
   */
  async landed(): Promise<void> {
    await this.add(VERSION_KEY);
    for (const listener of landedListeners.get(this.tableName) ?? []) listener();
  }

  /**
   * Read, decide, write on the condition that nobody changed the item in between: `attempt`
   * reads, decides (and may throw to refuse), takes its write's index from `next()` and
   * writes conditionally. A lost race (the condition failed) runs it again after a jittered
   * pause, up to `maxAttempts` times, then ConflictError. Once a write has landed (`next()`
   * was called and `attempt` returned) the change version moves; an attempt that returns
   * without calling `next()` wrote nothing.
   */
  async conditionalWrite<T>(maxAttempts: number, what: WriteSubject, attempt: (next: () => Promise<number>) => Promise<T>): Promise<T> {
    for (let n = 1; n <= maxAttempts; n++) {
      let wrote = false;
      try {
        const result = await attempt(() => {
          wrote = true;
          return this.next();
        });
        if (wrote) await this.landed();
        return result;
      } catch (error) {
        if (!lostRace(error)) throw error;
        await sleep(fullJitter(n, 5, 200));
      }
    }
    throw new ConflictError(`${what.subject} changed under ${maxAttempts} attempts in a row to ${what.verb} it; try again`);
  }

  /** Moves after every landed configuration write (sinks and tokens; not delivery progress). */
  async version(): Promise<number> {
    const result = await this.client.send(new GetItemCommand({ TableName: this.tableName, Key: VERSION_KEY, ConsistentRead: true }));
    return Number(result.Item?.Value?.N ?? 0);
  }

  private async add(key: Record<string, AttributeValue>): Promise<number> {
    const result = await this.client.send(
      new UpdateItemCommand({
        TableName: this.tableName,
        Key: key,
        UpdateExpression: "ADD #value :one",
        ExpressionAttributeNames: { "#value": "Value" },
        ExpressionAttributeValues: { ":one": { N: "1" } },
        ReturnValues: "UPDATED_NEW",
      }),
    );
    return Number(result.Attributes?.Value?.N);
  }
}

/** A conditional write (or a transaction's) that failed its condition: someone else wrote first. */
function lostRace(error: unknown): boolean {
  if (error instanceof ConditionalCheckFailedException) return true;
  return error instanceof TransactionCanceledException && (error.CancellationReasons ?? []).some((r) => r.Code === "ConditionalCheckFailed");
}
