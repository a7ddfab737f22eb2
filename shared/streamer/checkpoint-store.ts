import {
  DynamoDBClient,
  GetItemCommand,
  TransactionCanceledException,
  TransactWriteItemsCommand,
  type AttributeValue,
  type DynamoDBClientConfig,
} from "@aws-sdk/client-dynamodb";
import { fullJitter, sleep } from "../retry/backoff";
import { LeaseLostError, liveTermCondition, type DynamoLease } from "./lease";
import { checkpointKey, CorruptStreamerItemError, leaseKey } from "./streamer-table";
import { LeanDynamoDBClient } from "../aws/lean-clients";

/** Where the streamer is in a cluster's event stream. */
export interface Checkpoint {
  /** The highest Nomad raft index whose frames are all published. */
  readonly index: number;
  /** Epoch ms. */
  readonly updatedAt: number;
  /** The namespaces the current subscription covers (saved sorted and without duplicates). */
  readonly namespaces?: string[];
  /**
   * Events already on the bus at indexes above `index` (an index partly published when the
   * streamer stopped), by their deterministic IDs: a resume skips them instead of sending them
   * again. Absent when nothing above the checkpoint was published, or too many IDs to keep.
   */
  readonly published?: readonly PublishedAbove[];
}

/** The IDs of the events of one index above the checkpoint that are on the bus. */
export interface PublishedAbove {
  readonly index: number;
  readonly ids: readonly string[];
}

/** Most event IDs a checkpoint keeps (a DynamoDB item holds 400 KB; an ID is about 30 bytes). */
export const MAX_CHECKPOINT_PUBLISHED_IDS = 5_000;

export interface CheckpointStore {
  load(): Promise<Checkpoint | undefined>;
  save(checkpoint: Checkpoint): Promise<void>;
}

/** What the store needs of the lease to fence its writes. */
export type FencingLease = Pick<DynamoLease, "cluster" | "holder" | "fencingToken" | "now">;

export interface DynamoCheckpointStoreOptions {
  /** The streamer table (layout in streamer-table.ts); the lease must live in the same table. */
  readonly tableName: string;
  /** @default a client built from `clientConfig` */
  readonly client?: DynamoDBClient;
  /** @default {} (region, credentials and `AWS_ENDPOINT_URL_DYNAMODB` from the environment) */
  readonly clientConfig?: DynamoDBClientConfig;
  /** The Nomad cluster label; must be the lease's. */
  readonly cluster: string;
  /** The lease that fences every save. */
  readonly lease: FencingLease;
  /** Attempts for a save that keeps colliding with another transaction on the same items. @default 5 */
  readonly maxAttempts?: number;
}

/**
 * The checkpoint of one cluster, in the streamer table, written only by the lease holder.
 *
 * `save` is one transaction: a condition check on the lease item (this holder, this
 * term's fencing token, not expired by the lease's clock) and an update of the
 * checkpoint that only moves `index` forward. So a former leader, however late it
 * wakes up, can never move the checkpoint (it gets a `LeaseLostError`), and a save of
 * an older index than the stored one resolves without writing anything: the stored
 * checkpoint already covers it, and going back would republish frames. An equal
 * index is written (it refreshes `updatedAt` and `namespaces`).
 */
export class DynamoCheckpointStore implements CheckpointStore {
  private readonly client: DynamoDBClient;
  private readonly tableName: string;
  private readonly cluster: string;
  private readonly lease: FencingLease;
  private readonly maxAttempts: number;

  constructor(options: DynamoCheckpointStoreOptions) {
    if (options.lease.cluster !== options.cluster) {
      throw new RangeError(`the checkpoint of cluster ${JSON.stringify(options.cluster)} cannot be fenced by the lease of cluster ${JSON.stringify(options.lease.cluster)}`);
    }
    this.tableName = options.tableName;
    this.client = options.client ?? new LeanDynamoDBClient(options.clientConfig ?? {});
    this.cluster = options.cluster;
    this.lease = options.lease;
    this.maxAttempts = options.maxAttempts ?? 5;
  }

  async load(): Promise<Checkpoint | undefined> {
    const { Item } = await this.client.send(new GetItemCommand({ TableName: this.tableName, Key: checkpointKey(this.cluster), ConsistentRead: true }));
    return Item === undefined ? undefined : checkpointFromItem(Item);
  }

  async save(checkpoint: Checkpoint): Promise<void> {
    if (!Number.isSafeInteger(checkpoint.index) || checkpoint.index < 0) throw new RangeError(`checkpoint index must be a non-negative integer, got ${checkpoint.index}`);
    if (!Number.isFinite(checkpoint.updatedAt)) throw new RangeError(`checkpoint updatedAt must be a finite number, got ${checkpoint.updatedAt}`);
    const namespaces = checkpoint.namespaces === undefined ? undefined : [...new Set(checkpoint.namespaces)].sort();
    const published = publishedAttribute(checkpoint);
    for (let attempt = 1; ; attempt++) {
      const token = this.lease.fencingToken;
      if (token === undefined) throw new LeaseLostError(`the lease of cluster ${JSON.stringify(this.cluster)} is not held; the checkpoint was not saved`);
      try {
        await this.client.send(
          new TransactWriteItemsCommand({
            TransactItems: [
              {
                ConditionCheck: { TableName: this.tableName, Key: leaseKey(this.cluster), ...liveTermCondition(this.lease.holder, token, this.lease.now()) },
              },
              {
                Update: {
                  TableName: this.tableName,
                  Key: checkpointKey(this.cluster),
                  UpdateExpression:
                    "SET #index = :index, UpdatedAt = :updatedAt, Holder = :holder, FencingToken = :token" +
                    (namespaces === undefined ? "" : ", Namespaces = :namespaces") +
                    (published === undefined ? "" : ", Published = :published") +
                    removeClause([namespaces === undefined ? "Namespaces" : undefined, published === undefined ? "Published" : undefined]),
                  ConditionExpression: "attribute_not_exists(pk) OR #index <= :index",
                  // INDEX is a reserved word.
                  ExpressionAttributeNames: { "#index": "Index" },
                  ExpressionAttributeValues: {
                    ":index": { N: String(checkpoint.index) },
                    ":updatedAt": { N: String(checkpoint.updatedAt) },
                    ":holder": { S: this.lease.holder },
                    ":token": { N: String(token) },
                    ...(namespaces !== undefined ? { ":namespaces": { L: namespaces.map((namespace) => ({ S: namespace })) } } : {}),
                    ...(published !== undefined ? { ":published": published } : {}),
                  },
                },
              },
            ],
          }),
        );
        return;
      } catch (error) {
        if (!(error instanceof TransactionCanceledException)) throw error;
        // One reason per transaction item, in order: [lease check, checkpoint update].
        const reasons = error.CancellationReasons ?? [];
        if (reasons[0]?.Code === "ConditionalCheckFailed") {
          throw new LeaseLostError(`the lease of cluster ${JSON.stringify(this.cluster)} is no longer held by ${this.lease.holder} under fencing token ${token}; the checkpoint was not saved`, { cause: error });
        }
        if (reasons[1]?.Code === "ConditionalCheckFailed") return;
        // A concurrent write to either item (a lease renewal, say) cancels the transaction without deciding anything.
        if (attempt < this.maxAttempts && reasons.some((reason) => reason.Code === "TransactionConflict")) {
          await sleep(fullJitter(attempt, 10, 200));
          continue;
        }
        throw error;
      }
    }
  }
}

function checkpointFromItem(item: Record<string, AttributeValue>): Checkpoint {
  const index = item.Index?.N;
  const updatedAt = item.UpdatedAt?.N;
  if (index === undefined || updatedAt === undefined) {
    throw new CorruptStreamerItemError(`checkpoint item ${JSON.stringify(item.pk?.S)} lacks Index or UpdatedAt`);
  }
  const namespaces = item.Namespaces?.L?.map((entry) => {
    if (entry.S === undefined) throw new CorruptStreamerItemError(`checkpoint item ${JSON.stringify(item.pk?.S)} has a Namespaces entry that is not a string`);
    return entry.S;
  });
  const published = Object.entries(item.Published?.M ?? {}).map(([key, ids]) => {
    if (!/^\d+$/.test(key) || ids.SS === undefined) throw new CorruptStreamerItemError(`checkpoint item ${JSON.stringify(item.pk?.S)} has a Published entry ${JSON.stringify(key)} that is not an index with a string set`);
    return { index: Number(key), ids: ids.SS };
  });
  return {
    index: Number(index),
    updatedAt: Number(updatedAt),
    ...(namespaces !== undefined ? { namespaces } : {}),
    ...(published.length > 0 ? { published: published.sort((a, b) => a.index - b.index) } : {}),
  };
}

/** `Published` as a map of index → string set, for the indexes above the checkpoint that have IDs; undefined for none, or too many to keep. */
function publishedAttribute(checkpoint: Checkpoint): AttributeValue | undefined {
  const above = (checkpoint.published ?? []).filter((entry) => entry.index > checkpoint.index && entry.ids.length > 0);
  const count = above.reduce((sum, entry) => sum + entry.ids.length, 0);
  if (above.length === 0 || count > MAX_CHECKPOINT_PUBLISHED_IDS) return undefined;
  return { M: Object.fromEntries(above.map((entry) => [String(entry.index), { SS: [...new Set(entry.ids)] }])) };
}

function removeClause(names: ReadonlyArray<string | undefined>): string {
  const present = names.filter((name): name is string => name !== undefined);
  return present.length === 0 ? "" : ` REMOVE ${present.join(", ")}`;
}
