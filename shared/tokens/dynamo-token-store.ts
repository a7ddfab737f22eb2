import {
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  TransactWriteItemsCommand,
  type AttributeValue,
} from "@aws-sdk/client-dynamodb";
import { DEFAULT_WRITE_ATTEMPTS, IndexCounter } from "../dynamo/index-counter";
import { scanBySortKey } from "../dynamo/pk-sk-table";
import { NotFoundError } from "../errors";
import type { Written } from "../sinks/sink-store";
import { hashSecret, TOKEN_TYPE_MANAGEMENT, TOKEN_TYPE_TEAM, type Token, type TokenChange, type TokenSpec } from "./token";
import { LeanDynamoDBClient } from "../aws/lean-clients";

type Item = Record<string, AttributeValue>;

/**
 * Tokens live in the sinks table (single-table design, see sinks-table.ts) and share its
 * write counter, so `X-Nomad-Index` orders sink and token writes alike:
 *
 * | item         | pk                     | sk            | attributes                                    |
 * |--------------|------------------------|---------------|-----------------------------------------------|
 * | token        | `TOKEN#<AccessorID>`   | `TOKEN`       | the Token fields, SecretHash (never a secret) |
 * | secret index | `TOKENSECRET#<sha256>` | `TOKENSECRET` | AccessorID                                    |
 *
 * A request's token is found by the hash of its secret (two consistent reads); both items
 * are written and deleted in one transaction, so a deleted token is refused at once.
 */
export const TOKEN_SORT_KEY = "TOKEN";
const SECRET_SORT_KEY = "TOKENSECRET";

export function tokenKey(accessorId: string): Item {
  return { pk: { S: `TOKEN#${accessorId}` }, sk: { S: TOKEN_SORT_KEY } };
}

function secretKey(hash: string): Item {
  return { pk: { S: `TOKENSECRET#${hash}` }, sk: { S: SECRET_SORT_KEY } };
}

export class CorruptTokenItemError extends Error {
  override readonly name = "CorruptTokenItemError";
}

export function tokenFromItem(item: Item): Token {
  const str = (name: string) => {
    const value = item[name]?.S;
    if (value === undefined) throw new CorruptTokenItemError(`token item ${JSON.stringify(item.pk?.S)} has no string attribute ${name}`);
    return value;
  };
  const num = (name: string) => {
    const value = item[name]?.N;
    if (value === undefined) throw new CorruptTokenItemError(`token item ${JSON.stringify(item.pk?.S)} has no number attribute ${name}`);
    return Number(value);
  };
  const type = str("Type");
  if (type !== TOKEN_TYPE_MANAGEMENT && type !== TOKEN_TYPE_TEAM) throw new CorruptTokenItemError(`token item ${JSON.stringify(item.pk?.S)} has unknown Type ${JSON.stringify(type)}`);
  return {
    AccessorID: str("AccessorID"),
    Name: item.Name?.S ?? "",
    Type: type,
    ...(item.Team?.S !== undefined ? { Team: item.Team.S } : {}),
    Namespaces: (item.Namespaces?.L ?? []).map((n) => n.S ?? ""),
    ClusterTopics: item.ClusterTopics?.BOOL ?? false,
    CreateTime: num("CreateTime"),
    ...(item.ExpiresAt?.N !== undefined ? { ExpiresAt: Number(item.ExpiresAt.N) } : {}),
    CreateIndex: num("CreateIndex"),
    ModifyIndex: num("ModifyIndex"),
    SecretHash: str("SecretHash"),
  };
}

function tokenToItem(token: Token): Item {
  return {
    ...tokenKey(token.AccessorID),
    AccessorID: { S: token.AccessorID },
    Name: { S: token.Name },
    Type: { S: token.Type },
    ...(token.Team !== undefined ? { Team: { S: token.Team } } : {}),
    Namespaces: { L: token.Namespaces.map((n) => ({ S: n })) },
    ClusterTopics: { BOOL: token.ClusterTopics },
    CreateTime: { N: String(token.CreateTime) },
    ...(token.ExpiresAt !== undefined ? { ExpiresAt: { N: String(token.ExpiresAt) } } : {}),
    CreateIndex: { N: String(token.CreateIndex) },
    ModifyIndex: { N: String(token.ModifyIndex) },
    SecretHash: { S: token.SecretHash },
  };
}

/** Refuses a change after seeing the token as read for it (ownership); throws NotFoundError. */
export type TokenGuard = (current: Token | undefined) => void;

export interface DynamoTokenStoreOptions {
  readonly tableName: string;
  readonly client?: DynamoDBClient;
  /** Attempts for a write that keeps losing races. @default 25 */
  readonly maxAttempts?: number;
}

export class DynamoTokenStore {
  private readonly client: DynamoDBClient;
  private readonly tableName: string;
  private readonly maxAttempts: number;
  private readonly counter: IndexCounter;

  constructor(options: DynamoTokenStoreOptions) {
    this.tableName = options.tableName;
    this.client = options.client ?? new LeanDynamoDBClient({});
    this.maxAttempts = options.maxAttempts ?? DEFAULT_WRITE_ATTEMPTS;
    this.counter = new IndexCounter(this.client, this.tableName);
  }

  /** Stores a new token for `secret` (only its hash is kept). */
  async create(spec: TokenSpec, ids: { accessorId: string; secret: string }, now: number): Promise<Written<Token>> {
    const index = await this.counter.next();
    const token: Token = { AccessorID: ids.accessorId, ...spec, CreateTime: now, CreateIndex: index, ModifyIndex: index, SecretHash: hashSecret(ids.secret) };
    await this.client.send(
      new TransactWriteItemsCommand({
        TransactItems: [
          { Put: { TableName: this.tableName, Item: tokenToItem(token), ConditionExpression: "attribute_not_exists(pk)" } },
          { Put: { TableName: this.tableName, Item: { ...secretKey(token.SecretHash), AccessorID: { S: token.AccessorID } }, ConditionExpression: "attribute_not_exists(pk)" } },
        ],
      }),
    );
    await this.counter.landed();
    return { value: token, index };
  }

  async get(accessorId: string): Promise<Token | undefined> {
    const { Item } = await this.client.send(new GetItemCommand({ TableName: this.tableName, Key: tokenKey(accessorId), ConsistentRead: true }));
    return Item ? tokenFromItem(Item) : undefined;
  }

  /** The token whose secret this is, or undefined: expiry is the caller's to judge. */
  async bySecret(secret: string): Promise<Token | undefined> {
    const hash = hashSecret(secret);
    const { Item } = await this.client.send(new GetItemCommand({ TableName: this.tableName, Key: secretKey(hash), ConsistentRead: true }));
    const accessorId = Item?.AccessorID?.S;
    if (accessorId === undefined) return undefined;
    const token = await this.get(accessorId);
    return token?.SecretHash === hash ? token : undefined;
  }

  /** Every token, sorted by creation, and the table's current index. */
  async list(): Promise<Written<Token[]>> {
    const index = await this.counter.current();
    const tokens = await scanBySortKey(this.client, this.tableName, TOKEN_SORT_KEY, tokenFromItem);
    tokens.sort((a, b) => a.CreateIndex - b.CreateIndex);
    return { value: tokens, index };
  }

  /** Applies `change` to the token as read; `check` sees the token and the result and may refuse (throw). */
  async update(accessorId: string, change: (current: Token) => TokenChange, check?: (current: Token, next: Token) => void): Promise<Written<Token>> {
    return this.counter.conditionalWrite(this.maxAttempts, { subject: `ACL token ${JSON.stringify(accessorId)}`, verb: "update" }, async (next) => {
      const current = await this.get(accessorId);
      if (current === undefined) throw new NotFoundError("ACL token not found");
      const delta = change(current);
      const { ExpiresAt: _dropped, ...rest } = current;
      const changed: Token = {
        ...(delta.ExpiresAt === null ? rest : current),
        ...(delta.Name !== undefined ? { Name: delta.Name } : {}),
        ...(delta.Namespaces !== undefined ? { Namespaces: delta.Namespaces } : {}),
        ...(delta.ClusterTopics !== undefined ? { ClusterTopics: delta.ClusterTopics } : {}),
        ...(typeof delta.ExpiresAt === "number" ? { ExpiresAt: delta.ExpiresAt } : {}),
      };
      check?.(current, changed);
      const index = await next();
      const written: Token = { ...changed, ModifyIndex: index };
      await this.client.send(
        new PutItemCommand({ TableName: this.tableName, Item: tokenToItem(written), ConditionExpression: "ModifyIndex = :observed", ExpressionAttributeValues: { ":observed": { N: String(current.ModifyIndex) } } }),
      );
      return { value: written, index };
    });
  }

  /** Deletes the token and its secret index together; NotFoundError when absent or refused by `guard`. */
  async delete(accessorId: string, guard?: TokenGuard): Promise<Written<undefined>> {
    return this.counter.conditionalWrite(this.maxAttempts, { subject: `ACL token ${JSON.stringify(accessorId)}`, verb: "delete" }, async (next) => {
      const current = await this.get(accessorId);
      guard?.(current);
      if (current === undefined) throw new NotFoundError("ACL token not found");
      const index = await next();
      await this.client.send(
        new TransactWriteItemsCommand({
          TransactItems: [
            { Delete: { TableName: this.tableName, Key: tokenKey(accessorId), ConditionExpression: "ModifyIndex = :observed", ExpressionAttributeValues: { ":observed": { N: String(current.ModifyIndex) } } } },
            { Delete: { TableName: this.tableName, Key: secretKey(current.SecretHash) } },
          ],
        }),
      );
      return { value: undefined, index };
    });
  }
}
