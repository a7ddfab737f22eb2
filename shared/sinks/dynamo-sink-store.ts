import {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  DynamoDBClient,
  GetItemCommand,
  UpdateItemCommand,
  type AttributeValue,
  type DynamoDBClientConfig,
} from "@aws-sdk/client-dynamodb";
import { DEFAULT_WRITE_ATTEMPTS, IndexCounter, onLanded } from "../dynamo/index-counter";
import { scanBySortKey } from "../dynamo/pk-sk-table";
import { NotFoundError } from "../errors";
import { generateSecret, PREVIOUS_SECRET_GRACE_MS } from "./secret";
import { bySinkId, SINK_NOT_FOUND, type PreviousSecret, type Sink, type SinkRegistration } from "./sink";
import { previousSecretsToAttribute, SINK_SORT_KEY, sinkFromItem, sinkKey, topicsToAttribute } from "./sink-item";
import type { SinkGuard, SinkStore, Written } from "./sink-store";
import { LeanDynamoDBClient } from "../aws/lean-clients";

export interface DynamoSinkStoreOptions {
  /** The sinks table (layout in sinks-table.ts). */
  readonly tableName: string;
  /** @default a client built from `clientConfig` */
  readonly client?: DynamoDBClient;
  /** @default {} (region, credentials and `AWS_ENDPOINT_URL_DYNAMODB` from the environment) */
  readonly clientConfig?: DynamoDBClientConfig;
  /** Attempts for a configuration write that keeps losing races. @default 25 */
  readonly maxAttempts?: number;
  /** Items per Scan page when listing. @default DynamoDB's 1 MB pages */
  readonly scanPageSize?: number;
}

/** The configuration a write sets; everything else on the item is left alone. */
interface SinkConfig {
  readonly Type: Sink["Type"];
  readonly Topics: Sink["Topics"];
  readonly Address: string;
  readonly Secret: string;
  readonly PreviousSecrets: readonly PreviousSecret[];
  readonly Team?: string;
  readonly Namespaces?: readonly string[];
}

/** Secrets after `secret` replaces the current one: the old one signs until the grace ends. */
function replaceSecret(current: Pick<Sink, "Secret" | "PreviousSecrets"> | undefined, secret: string, now: number): Pick<SinkConfig, "Secret" | "PreviousSecrets"> {
  if (current === undefined) return { Secret: secret, PreviousSecrets: [] };
  if (current.Secret === secret) return { Secret: secret, PreviousSecrets: current.PreviousSecrets.filter((p) => p.ExpiresAt > now) };
  const kept = current.PreviousSecrets.filter((p) => p.ExpiresAt > now && p.Secret !== secret);
  return { Secret: secret, PreviousSecrets: [{ Secret: current.Secret, ExpiresAt: now + PREVIOUS_SECRET_GRACE_MS }, ...kept] };
}

/** The REMOVE clause of a configuration write: what the new configuration no longer has. */
function removals(enable: boolean, config: SinkConfig): string {
  const names = [...(enable ? ["DisabledReason", "DisabledAt"] : []), ...(config.Team === undefined ? ["Team"] : []), ...(config.Namespaces === undefined ? ["Namespaces"] : [])];
  return names.length > 0 ? ` REMOVE ${names.join(", ")}` : "";
}

export class DynamoSinkStore implements SinkStore {
  private readonly client: DynamoDBClient;
  private readonly tableName: string;
  private readonly maxAttempts: number;
  private readonly scanPageSize: number | undefined;
  private readonly counter: IndexCounter;

  constructor(options: DynamoSinkStoreOptions) {
    this.scanPageSize = options.scanPageSize;
    this.tableName = options.tableName;
    this.client = options.client ?? new LeanDynamoDBClient(options.clientConfig ?? {});
    this.maxAttempts = options.maxAttempts ?? DEFAULT_WRITE_ATTEMPTS;
    this.counter = new IndexCounter(this.client, this.tableName);
  }

  /** Moves after every landed sink or token write: unchanged means the configuration is as it was. */
  changeVersion(): Promise<number> {
    return this.counter.version();
  }

  /** After each sink or token write this process lands in the table (through any store of it). */
  onChange(listener: () => void): () => void {
    return onLanded(this.tableName, listener);
  }

  async list(): Promise<Written<Sink[]>> {
    // The index is read first, so it never claims more than the listed data reflects.
    const index = await this.counter.current();
    const sinks = await scanBySortKey(this.client, this.tableName, SINK_SORT_KEY, sinkFromItem, this.scanPageSize);
    sinks.sort(bySinkId);
    return { value: sinks, index };
  }

  async get(id: string): Promise<Written<Sink | undefined>> {
    const [index, sink] = await Promise.all([this.counter.current(), this.find(id)]);
    return { value: sink, index: Math.max(index, sink?.ModifyIndex ?? 0) };
  }

  put(registration: SinkRegistration, now = Date.now(), guard?: SinkGuard): Promise<Written<Sink>> {
    return this.mutate(registration.ID, { enable: true }, (current) => {
      guard?.(current);
      const team = registration.Team ?? current?.Team ?? "";
      const namespaces = registration.Namespaces;
      return {
        Type: registration.Type,
        Topics: registration.Topics,
        Address: registration.Address,
        ...(team !== "" ? { Team: team } : {}),
        ...(namespaces !== undefined ? { Namespaces: namespaces } : {}),
        ...(registration.Secret !== undefined
          ? replaceSecret(current, registration.Secret, now)
          : current !== undefined
            ? { Secret: current.Secret, PreviousSecrets: current.PreviousSecrets.filter((p) => p.ExpiresAt > now) }
            : { Secret: generateSecret(), PreviousSecrets: [] }),
      };
    });
  }

  rotateSecret(id: string, now = Date.now(), guard?: SinkGuard): Promise<Written<Sink>> {
    return this.mutate(id, { enable: false }, (current) => {
      guard?.(current);
      if (current === undefined) throw new NotFoundError(SINK_NOT_FOUND);
      return { ...current, ...replaceSecret(current, generateSecret(), now) };
    });
  }

  async delete(id: string, guard?: SinkGuard): Promise<Written<undefined>> {
    if (guard === undefined) {
      const index = await this.counter.next();
      await this.client.send(new DeleteItemCommand({ TableName: this.tableName, Key: sinkKey(id) }));
      await this.counter.landed();
      return { value: undefined, index };
    }
    // Guarded: deleted only as the guard saw it, so an owner change in between is not missed.
    return this.counter.conditionalWrite(this.maxAttempts, { subject: `event sink ${JSON.stringify(id)}`, verb: "delete" }, async (next) => {
      const current = await this.find(id);
      guard(current);
      if (current === undefined) return { value: undefined, index: await this.counter.current() };
      const index = await next();
      await this.client.send(
        new DeleteItemCommand({ TableName: this.tableName, Key: sinkKey(id), ConditionExpression: "ModifyIndex = :observed", ExpressionAttributeValues: { ":observed": { N: String(current.ModifyIndex) } } }),
      );
      return { value: undefined, index };
    });
  }

  async disable(id: string, reason: string, now = Date.now(), createIndex?: number): Promise<boolean> {
    const disabled = await this.updateIf(id, "SET DisabledReason = :reason, DisabledAt = :at", "attribute_exists(pk)", { ":reason": { S: reason }, ":at": { N: String(now) } }, createIndex);
    // The fan-out stops queueing for it from its next batch.
    if (disabled) await this.counter.landed();
    return disabled;
  }

  advanceLatestIndex(id: string, index: number, createIndex?: number): Promise<boolean> {
    return this.updateIf(id, "SET LatestIndex = :index", "attribute_exists(pk) AND LatestIndex < :index", { ":index": { N: String(index) } }, createIndex);
  }

  /**
   * One conditional update of a sink's item; false when the condition does not hold. With
   * `createIndex`, it must also still be that registration of the ID.
   */
  private async updateIf(id: string, update: string, condition: string, values: Record<string, AttributeValue>, createIndex?: number): Promise<boolean> {
    if (createIndex !== undefined) {
      condition = `${condition} AND CreateIndex = :createIndex`;
      values = { ...values, ":createIndex": { N: String(createIndex) } };
    }
    try {
      await this.client.send(new UpdateItemCommand({ TableName: this.tableName, Key: sinkKey(id), UpdateExpression: update, ConditionExpression: condition, ExpressionAttributeValues: values }));
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw error;
    }
  }

  async find(id: string): Promise<Sink | undefined> {
    const result = await this.client.send(new GetItemCommand({ TableName: this.tableName, Key: sinkKey(id), ConsistentRead: true }));
    return result.Item ? sinkFromItem(result.Item) : undefined;
  }

  /**
   * Read, decide, write on the condition that nobody changed the configuration in
   * between; on a lost race, read again and retry with a fresh index. `LatestIndex` is
   * never written here (the delivery side owns it), so no advance is ever lost.
   */
  private async mutate(id: string, how: { readonly enable: boolean }, change: (current: Sink | undefined) => SinkConfig): Promise<Written<Sink>> {
    return this.counter.conditionalWrite(this.maxAttempts, { subject: `event sink ${JSON.stringify(id)}`, verb: "update" }, async (next) => {
      const current = await this.find(id);
      const config = change(current);
      const index = await next();
      const result = await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: sinkKey(id),
          UpdateExpression:
            "SET ID = :id, #type = :type, Topics = :topics, Address = :address, Secret = :secret, PreviousSecrets = :previous, " +
            "ModifyIndex = :index, CreateIndex = if_not_exists(CreateIndex, :index), LatestIndex = if_not_exists(LatestIndex, :zero)" +
            (config.Team !== undefined ? ", Team = :team" : "") +
            (config.Namespaces !== undefined ? ", Namespaces = :namespaces" : "") +
            removals(how.enable, config),
          ConditionExpression: current === undefined ? "attribute_not_exists(pk)" : "ModifyIndex = :observed",
          ExpressionAttributeNames: { "#type": "Type" },
          ExpressionAttributeValues: {
            ":id": { S: id },
            ":type": { S: config.Type },
            ":topics": topicsToAttribute(config.Topics),
            ":address": { S: config.Address },
            ":secret": { S: config.Secret },
            ":previous": previousSecretsToAttribute(config.PreviousSecrets),
            ":index": { N: String(index) },
            ":zero": { N: "0" },
            ...(config.Team !== undefined ? { ":team": { S: config.Team } } : {}),
            ...(config.Namespaces !== undefined ? { ":namespaces": { L: config.Namespaces.map((n) => ({ S: n })) } } : {}),
            ...(current !== undefined ? { ":observed": { N: String(current.ModifyIndex) } } : {}),
          },
          ReturnValues: "ALL_NEW",
        }),
      );
      return { value: sinkFromItem(result.Attributes ?? {}), index };
    });
  }
}
