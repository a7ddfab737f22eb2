import { DynamoDBClient, GetItemCommand, PutItemCommand, type AttributeValue } from "@aws-sdk/client-dynamodb";
import { IndexCounter } from "../dynamo/index-counter";
import { scanBySortKey } from "../dynamo/pk-sk-table";
import { REPLAY_STATES, type Replay, type ReplayState } from "./replay";

type Item = Record<string, AttributeValue>;

/**
 * Replays live in the sinks table (single-table design, see sinks-table.ts):
 * `pk = REPLAY#<ID>`, `sk = REPLAY`, the Replay's fields. They take the table's write index
 * like sinks and tokens do.
 */
export const REPLAY_SORT_KEY = "REPLAY";

function replayKey(id: string): Item {
  return { pk: { S: `REPLAY#${id}` }, sk: { S: REPLAY_SORT_KEY } };
}

const optionalNumber = (name: string, value: number | undefined): Item => (value !== undefined ? { [name]: { N: String(value) } } : {});
const optionalString = (name: string, value: string | undefined): Item => (value !== undefined ? { [name]: { S: value } } : {});

function toItem(replay: Replay): Item {
  return {
    ...replayKey(replay.ID),
    ID: { S: replay.ID },
    ...optionalString("SinkID", replay.SinkID),
    ...optionalString("Team", replay.Team),
    From: { N: String(replay.From) },
    To: { N: String(replay.To) },
    State: { S: replay.State },
    StartedAt: { N: String(replay.StartedAt) },
    ...optionalNumber("EndedAt", replay.EndedAt),
    ...optionalNumber("EventsReplayed", replay.EventsReplayed),
    ...optionalNumber("LastReplayedTime", replay.LastReplayedTime),
    ...optionalString("Error", replay.Error),
    CreateIndex: { N: String(replay.CreateIndex) },
  };
}

function fromItem(item: Item): Replay {
  const state = item.State?.S as ReplayState;
  const num = (name: string) => (item[name]?.N !== undefined ? Number(item[name].N) : undefined);
  return {
    ID: item.ID?.S ?? "",
    ...(item.SinkID?.S !== undefined ? { SinkID: item.SinkID.S } : {}),
    ...(item.Team?.S !== undefined ? { Team: item.Team.S } : {}),
    From: num("From") ?? 0,
    To: num("To") ?? 0,
    State: REPLAY_STATES.includes(state) ? state : "failed",
    StartedAt: num("StartedAt") ?? 0,
    ...(num("EndedAt") !== undefined ? { EndedAt: num("EndedAt")! } : {}),
    ...(num("EventsReplayed") !== undefined ? { EventsReplayed: num("EventsReplayed")! } : {}),
    ...(num("LastReplayedTime") !== undefined ? { LastReplayedTime: num("LastReplayedTime")! } : {}),
    ...(item.Error?.S !== undefined ? { Error: item.Error.S } : {}),
    CreateIndex: num("CreateIndex") ?? 0,
  };
}

export class DynamoReplayStore {
  private readonly counter: IndexCounter;

  constructor(
    private readonly options: { readonly tableName: string; readonly client: DynamoDBClient },
  ) {
    this.counter = new IndexCounter(options.client, options.tableName);
  }

  /** Records a new replay; its CreateIndex is the table's next index. */
  async create(replay: Omit<Replay, "CreateIndex">): Promise<Replay> {
    const stored: Replay = { ...replay, CreateIndex: await this.counter.next() };
    await this.options.client.send(new PutItemCommand({ TableName: this.options.tableName, Item: toItem(stored), ConditionExpression: "attribute_not_exists(pk)" }));
    return stored;
  }

  /** Saves a replay's progress or end (it only ever leaves "running"). */
  async save(replay: Replay): Promise<void> {
    await this.options.client.send(
      new PutItemCommand({ TableName: this.options.tableName, Item: toItem(replay), ConditionExpression: "attribute_exists(pk) AND #state = :running", ExpressionAttributeNames: { "#state": "State" }, ExpressionAttributeValues: { ":running": { S: "running" } } }),
    );
  }

  async get(id: string): Promise<Replay | undefined> {
    const { Item } = await this.options.client.send(new GetItemCommand({ TableName: this.options.tableName, Key: replayKey(id), ConsistentRead: true }));
    return Item ? fromItem(Item) : undefined;
  }

  /** Every replay, newest first. */
  async list(): Promise<Replay[]> {
    const replays = await scanBySortKey(this.options.client, this.options.tableName, REPLAY_SORT_KEY, fromItem);
    return replays.sort((a, b) => b.CreateIndex - a.CreateIndex);
  }
}
