import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import {
  BatchWriteItemCommand,
  ConditionalCheckFailedException,
  CreateTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  ResourceNotFoundException,
  ScanCommand,
  TransactionCanceledException,
  TransactWriteItemsCommand,
  UpdateItemCommand,
  type AttributeValue,
} from "@aws-sdk/client-dynamodb";
import { CreateQueueCommand, DeleteMessageBatchCommand, QueueDoesNotExist, ReceiveMessageCommand, SendMessageBatchCommand, SendMessageCommand, SQSClient, type Message, type ReceiveMessageCommandInput } from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LeanDynamoDBClient, LeanSQSClient } from "../../shared/aws/lean-clients";
import { USER_AGENT } from "../../shared/version";
import { uniqueName } from "../support/names";

/**
 * The lean clients against DynamoDB Local and fauxqs, each answer compared with the SDK's
 * own answer to the same command; retries against a loopback server that fails on purpose.
 */

const sdk = new DynamoDBClient({});
const lean = new LeanDynamoDBClient({});
const table = uniqueName("lean");

/** An answer without `$metadata` (the SDK's carries cfId and extendedRequestId fields the lean one does not). */
function withoutMetadata<T extends object>(output: T): Omit<T, "$metadata"> {
  const { $metadata: _, ...rest } = output as T & { $metadata?: unknown };
  return rest;
}

async function rejection(promise: Promise<unknown>): Promise<Error & Record<string, unknown>> {
  try {
    await promise;
  } catch (error) {
    return error as Error & Record<string, unknown>;
  }
  throw new Error("expected a rejection");
}

const item = (pk: string, sk: string, n: number): Record<string, AttributeValue> => ({
  pk: { S: pk },
  sk: { S: sk },
  n: { N: String(n) },
  bytes: { B: new Uint8Array([0, 1, 2, 250, 255]) },
  set: { BS: [new Uint8Array([1]), new Uint8Array([2, 3])] },
  nested: { M: { list: { L: [{ S: "ä€𝄞" }, { N: "1.5" }, { BOOL: true }, { NULL: true }] }, B: { S: "a map member named B" } } },
  tags: { SS: ["a", "b"] },
});

beforeAll(async () => {
  await sdk.send(
    new CreateTableCommand({
      TableName: table,
      BillingMode: "PAY_PER_REQUEST",
      AttributeDefinitions: [
        { AttributeName: "pk", AttributeType: "S" },
        { AttributeName: "sk", AttributeType: "S" },
      ],
      KeySchema: [
        { AttributeName: "pk", KeyType: "HASH" },
        { AttributeName: "sk", KeyType: "RANGE" },
      ],
    }),
  );
});

afterAll(() => {
  sdk.destroy();
  lean.destroy();
});

describe("LeanDynamoDBClient answers as the SDK does", () => {
  it("is a DynamoDBClient whose item operations return the SDK's shapes, bytes included", async () => {
    expect(lean).toBeInstanceOf(DynamoDBClient);
    const put = await lean.send(new PutItemCommand({ TableName: table, Item: item("p1", "a", 1), ReturnConsumedCapacity: "TOTAL" }));
    expect(put.$metadata.httpStatusCode).toBe(200);
    expect(put.$metadata.attempts).toBe(1);

    const key = { pk: { S: "p1" }, sk: { S: "a" } };
    const bySdk = await sdk.send(new GetItemCommand({ TableName: table, Key: key, ConsistentRead: true }));
    const byLean = await lean.send(new GetItemCommand({ TableName: table, Key: key, ConsistentRead: true }));
    expect(withoutMetadata(byLean)).toEqual(withoutMetadata(bySdk));
    expect(byLean.Item!.bytes!.B).toBeInstanceOf(Uint8Array);
    expect([...byLean.Item!.bytes!.B!]).toEqual([0, 1, 2, 250, 255]);
    expect(byLean.Item!.nested!.M!.B).toEqual({ S: "a map member named B" });

    const update = (client: DynamoDBClient, n: number) =>
      client.send(new UpdateItemCommand({ TableName: table, Key: key, UpdateExpression: "SET n = :n", ExpressionAttributeValues: { ":n": { N: String(n) } }, ReturnValues: "ALL_NEW" }));
    const updatedBySdk = await update(sdk, 7);
    const updatedByLean = await update(lean, 7);
    expect(withoutMetadata(updatedByLean)).toEqual(withoutMetadata(updatedBySdk));
  });

  it("pages a Query, writes in batches and scans as the SDK does", async () => {
    const pk = uniqueName("page");
    const writes = Array.from({ length: 7 }, (_, i) => ({ PutRequest: { Item: item(pk, `s${i}`, i) } }));
    const written = await lean.send(new BatchWriteItemCommand({ RequestItems: { [table]: writes } }));
    expect(written.UnprocessedItems).toEqual({});

    const pages = async (client: DynamoDBClient) => {
      const out: unknown[] = [];
      let start: Record<string, AttributeValue> | undefined;
      do {
        const page = await client.send(new QueryCommand({ TableName: table, KeyConditionExpression: "pk = :pk", ExpressionAttributeValues: { ":pk": { S: pk } }, Limit: 3, ...(start ? { ExclusiveStartKey: start } : {}) }));
        out.push(withoutMetadata(page));
        start = page.LastEvaluatedKey;
      } while (start !== undefined);
      return out;
    };
    const leanPages = await pages(lean);
    expect(leanPages).toEqual(await pages(sdk));
    expect(leanPages).toHaveLength(3);

    const scan = (client: DynamoDBClient) => client.send(new ScanCommand({ TableName: table, FilterExpression: "pk = :pk", ExpressionAttributeValues: { ":pk": { S: pk } } }));
    expect(withoutMetadata(await scan(lean))).toEqual(withoutMetadata(await scan(sdk)));
  });

  it("rejects with the SDK's exceptions: a failed condition with its item, a cancelled transaction with its reasons, a missing table", async () => {
    const key = { pk: { S: "p1" }, sk: { S: "a" } };
    const conditional = (client: DynamoDBClient) =>
      rejection(client.send(new PutItemCommand({ TableName: table, Item: item("p1", "a", 9), ConditionExpression: "attribute_not_exists(pk)", ReturnValuesOnConditionCheckFailure: "ALL_OLD" })));
    const [fromSdk, fromLean] = [await conditional(sdk), await conditional(lean)];
    expect(fromLean).toBeInstanceOf(ConditionalCheckFailedException);
    expect(fromLean.name).toBe(fromSdk.name);
    expect(fromLean.message).toBe(fromSdk.message);
    expect(fromLean.$fault).toBe("client");
    expect((fromLean.$metadata as { httpStatusCode: number }).httpStatusCode).toBe(400);
    expect(fromLean.Item).toEqual(fromSdk.Item);

    const transaction = (client: DynamoDBClient) =>
      rejection(
        client.send(
          new TransactWriteItemsCommand({
            TransactItems: [
              { ConditionCheck: { TableName: table, Key: key, ConditionExpression: "attribute_not_exists(pk)" } },
              { Put: { TableName: table, Item: item("p2", "b", 1) } },
            ],
          }),
        ),
      );
    const [txSdk, txLean] = [await transaction(sdk), await transaction(lean)];
    expect(txLean).toBeInstanceOf(TransactionCanceledException);
    expect(txLean.CancellationReasons).toEqual(txSdk.CancellationReasons);
    expect((txLean.CancellationReasons as Array<{ Code: string }>).map((r) => r.Code)).toEqual(["ConditionalCheckFailed", "None"]);

    const missing = await rejection(lean.send(new GetItemCommand({ TableName: uniqueName("absent"), Key: key })));
    expect(missing).toBeInstanceOf(ResourceNotFoundException);
    expect(missing).not.toBeInstanceOf(ConditionalCheckFailedException);
  });
});

describe("LeanSQSClient", () => {
  // The SDK's own client (sqsClient() gives a lean one), pointed where sqsClient() points.
  const sdkSqs = new SQSClient({ useQueueUrlAsEndpoint: false });
  const leanSqs = new LeanSQSClient({ useQueueUrlAsEndpoint: false });
  afterAll(() => {
    sdkSqs.destroy();
    leanSqs.destroy();
  });

  it("sends batches and attributes (bytes included) that the SDK receives intact, and names a missing queue's error as the SDK does", async () => {
    expect(leanSqs).toBeInstanceOf(SQSClient);
    const { QueueUrl } = await sdkSqs.send(new CreateQueueCommand({ QueueName: uniqueName("lean") }));
    const sent = await leanSqs.send(
      new SendMessageBatchCommand({
        QueueUrl,
        Entries: [
          { Id: "a", MessageBody: '{"n":1,"text":"ä€"}', MessageAttributes: { kind: { DataType: "String", StringValue: "json" }, raw: { DataType: "Binary", BinaryValue: new Uint8Array([9, 8, 7]) } } },
          { Id: "b", MessageBody: "two", DelaySeconds: 0 },
        ],
      }),
    );
    expect(sent.Failed ?? []).toEqual([]);
    expect(sent.Successful!.map((entry) => entry.Id).sort()).toEqual(["a", "b"]);

    const received: Message[] = [];
    for (let i = 0; i < 10 && received.length < 2; i++) {
      const { Messages = [] } = await sdkSqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, MessageAttributeNames: ["All"], WaitTimeSeconds: 1 }));
      received.push(...Messages);
    }
    const first = received.find((m) => m.Body !== "two")!;
    expect(first.Body).toBe('{"n":1,"text":"ä€"}');
    expect(first.MessageAttributes!.kind!.StringValue).toBe("json");
    expect([...first.MessageAttributes!.raw!.BinaryValue!]).toEqual([9, 8, 7]);
    expect(received.map((m) => m.Body).sort()).toEqual(["two", '{"n":1,"text":"ä€"}'].sort());

    const absent = QueueUrl!.replace(/[^/]+$/, uniqueName("absent"));
    const [bySdk, byLean] = [await rejection(sdkSqs.send(new SendMessageCommand({ QueueUrl: absent, MessageBody: "x" }))), await rejection(leanSqs.send(new SendMessageCommand({ QueueUrl: absent, MessageBody: "x" })))];
    expect(byLean.name).toBe(bySdk.name);
    expect(byLean).toBeInstanceOf(QueueDoesNotExist);
    expect(byLean.Code).toBe(bySdk.Code);
  });

  const RECEIVE: Omit<ReceiveMessageCommandInput, "QueueUrl"> = { MaxNumberOfMessages: 1, WaitTimeSeconds: 0, MessageSystemAttributeNames: ["All"], MessageAttributeNames: ["All"] };

  it("receives messages in the shape the SDK gives them (binary attributes as bytes), and deletes them", async () => {
    const { QueueUrl } = await sdkSqs.send(new CreateQueueCommand({ QueueName: uniqueName("lean-receive") }));
    await sdkSqs.send(
      new SendMessageBatchCommand({
        QueueUrl,
        Entries: [1, 2].map((n) => ({ Id: `e${n}`, MessageBody: `{"n":${n},"text":"naïve ✓"}`, MessageAttributes: { kind: { DataType: "String", StringValue: `k${n}` }, raw: { DataType: "Binary", BinaryValue: new Uint8Array([n, 255]) } } })),
      }),
    );
    const viaLean = (await leanSqs.send(new ReceiveMessageCommand({ QueueUrl, ...RECEIVE }))).Messages ?? [];
    const viaSdk = (await sdkSqs.send(new ReceiveMessageCommand({ QueueUrl, ...RECEIVE }))).Messages ?? [];
    expect(viaLean).toHaveLength(1);
    expect(viaSdk).toHaveLength(1);
    const [a, b] = [viaLean[0]!, viaSdk[0]!];
    expect(Object.keys(a).sort()).toEqual(Object.keys(b).sort());
    expect(Object.keys(a.Attributes ?? {}).sort()).toEqual(Object.keys(b.Attributes ?? {}).sort());
    expect(a.Attributes?.ApproximateReceiveCount).toBe("1");
    expect([a.Body, b.Body].sort()).toEqual(['{"n":1,"text":"naïve ✓"}', '{"n":2,"text":"naïve ✓"}']);
    const n = a.Body!.includes('"n":1') ? 1 : 2;
    expect(a.MessageAttributes?.kind?.StringValue).toBe(`k${n}`);
    expect(a.MessageAttributes?.raw?.BinaryValue).toBeInstanceOf(Uint8Array);
    expect([...a.MessageAttributes!.raw!.BinaryValue!]).toEqual([n, 255]);

    const deleted = await leanSqs.send(new DeleteMessageBatchCommand({ QueueUrl, Entries: [a, b].map((m, i) => ({ Id: `d${i}`, ReceiptHandle: m.ReceiptHandle })) }));
    expect(deleted.Successful?.map((s) => s.Id).sort()).toEqual(["d0", "d1"]);
    const after = await sdkSqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 0, VisibilityTimeout: 0 }));
    expect(after.Messages ?? []).toEqual([]);
  });

  it("names a receive from a missing queue's error and what SQS said", async () => {
    const error = await rejection(leanSqs.send(new ReceiveMessageCommand({ QueueUrl: `${process.env.AWS_ENDPOINT_URL_SQS}/000000000000/${uniqueName("missing")}`, ...RECEIVE })));
    expect(error).toBeInstanceOf(QueueDoesNotExist);
    expect((error.$metadata as { httpStatusCode: number }).httpStatusCode).toBe(400);
    expect(error.message).toMatch(/does not exist/);
  });

  it("gives up a long poll when its abort signal fires, without retrying it", async () => {
    const { QueueUrl } = await sdkSqs.send(new CreateQueueCommand({ QueueName: uniqueName("lean-abort") }));
    const stop = new AbortController();
    const polling = leanSqs.send(new ReceiveMessageCommand({ QueueUrl, ...RECEIVE, WaitTimeSeconds: 20 }), { abortSignal: stop.signal });
    setTimeout(() => stop.abort(), 50);
    const started = Date.now();
    await expect(polling).rejects.toThrow();
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});

describe("LeanDynamoDBClient on the wire", () => {
  let server: Server;
  let url: string;
  const seen: Array<{ headers: IncomingMessage["headers"]; body: string }> = [];
  /** What the server answers next (status, body, error-type header); the last one repeats. */
  let script: Array<{ status: number; body: string; type?: string; query?: string }> = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => (body += c.toString()));
      req.on("end", () => {
        seen.push({ headers: req.headers, body });
        const next = script.length > 1 ? script.shift()! : script[0]!;
        res.writeHead(next.status, { "content-type": "application/x-amz-json-1.0", "x-amzn-requestid": `req-${seen.length}`, ...(next.type ? { "x-amzn-errortype": next.type } : {}), ...(next.query ? { "x-amzn-query-error": next.query } : {}) });
        res.end(next.body);
      });
    });
    await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((done) => (server.closeAllConnections(), server.close(() => done()))));

  const client = (maxAttempts: number) => new LeanDynamoDBClient({ endpoint: url, region: "us-east-1", credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" }, maxAttempts });
  const get = new GetItemCommand({ TableName: "t", Key: { pk: { S: "k" } } });

  it("sends the input as the JSON body, signed, with its own user agent; table management goes through the SDK", async () => {
    seen.length = 0;
    script = [{ status: 200, body: '{"Item":{"pk":{"S":"k"}}}' }];
    const c = client(3);
    const out = await c.send(get);
    expect(out.Item).toEqual({ pk: { S: "k" } });
    expect(out.$metadata).toMatchObject({ httpStatusCode: 200, requestId: "req-1", attempts: 1, totalRetryDelay: 0 });
    expect(JSON.parse(seen[0]!.body)).toEqual({ TableName: "t", Key: { pk: { S: "k" } } });
    expect(seen[0]!.headers["x-amz-target"]).toBe("DynamoDB_20120810.GetItem");
    expect(seen[0]!.headers["content-type"]).toBe("application/x-amz-json-1.0");
    expect(seen[0]!.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/us-east-1\/dynamodb\/aws4_request, SignedHeaders=.*x-amz-target.*, Signature=[0-9a-f]{64}$/);
    expect(seen[0]!.headers["user-agent"]).toBe(USER_AGENT);

    script = [{ status: 200, body: '{"TableDescription":{"TableName":"t"}}' }];
    await c.send(new CreateTableCommand({ TableName: "t", BillingMode: "PAY_PER_REQUEST", AttributeDefinitions: [{ AttributeName: "pk", AttributeType: "S" }], KeySchema: [{ AttributeName: "pk", KeyType: "HASH" }] }));
    expect(seen[1]!.headers["x-amz-target"]).toBe("DynamoDB_20120810.CreateTable");
    expect(seen[1]!.headers["user-agent"]).not.toBe(USER_AGENT);

    // Per-call HTTP options other than an abort signal are the SDK handler's to honour: such a call goes through the SDK.
    script = [{ status: 200, body: '{"Item":{"pk":{"S":"k"}}}' }];
    const viaSdk = await c.send(get, { requestTimeout: 5_000 });
    expect(viaSdk.Item).toEqual({ pk: { S: "k" } });
    expect(seen[2]!.headers["x-amz-target"]).toBe("DynamoDB_20120810.GetItem");
    expect(seen[2]!.headers["user-agent"]).not.toBe(USER_AGENT);
    // An abort signal alone stays on the lean path, which honours it.
    const withSignal = await c.send(get, { abortSignal: new AbortController().signal });
    expect(withSignal.Item).toEqual({ pk: { S: "k" } });
    expect(seen[3]!.headers["user-agent"]).toBe(USER_AGENT);
    c.destroy();
  });

  it("retries a refused connection as the SDK does, then rejects with the network error", async () => {
    const closed = createServer();
    await new Promise<void>((done) => closed.listen(0, "127.0.0.1", done));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((done) => closed.close(() => done()));
    const c = new LeanDynamoDBClient({ endpoint: `http://127.0.0.1:${port}`, region: "us-east-1", credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" }, maxAttempts: 2 });
    const started = performance.now();
    const error = await rejection(c.send(get));
    expect(error.code).toBe("ECONNREFUSED");
    expect(error.$metadata).toMatchObject({ attempts: 2 });
    // One backoff (0–100 ms, full jitter) between the two attempts: fast, but not instant retries forever.
    expect(performance.now() - started).toBeLessThan(5_000);
    c.destroy();
  });

  it("retries server errors and throttling up to maxAttempts, then rejects with the last error", async () => {
    seen.length = 0;
    script = [
      { status: 500, body: '{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"boom"}' },
      { status: 400, body: '{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"slow down"}' },
      { status: 200, body: '{"Item":{"pk":{"S":"k"}}}' },
    ];
    const c = client(3);
    const out = await c.send(get);
    expect(seen).toHaveLength(3);
    expect(out.$metadata.attempts).toBe(3);
    expect(out.$metadata.totalRetryDelay).toBeGreaterThanOrEqual(0);

    seen.length = 0;
    script = [{ status: 503, body: "", type: "ServiceUnavailable" }];
    const error = await rejection(client(2).send(get));
    expect(seen).toHaveLength(2);
    expect(error.name).toBe("ServiceUnavailable");
    expect(error.$fault).toBe("server");
    expect((error.$metadata as { attempts: number; httpStatusCode: number }).httpStatusCode).toBe(503);
    c.destroy();
  });

  it("retries exactly what the SDK retries, and names errors as it does (each case run through both)", async () => {
    const creds = { region: "us-east-1", credentials: { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "secret" } };
    const cases: Array<{ answer: { status: number; body: string; type?: string; query?: string }; sqs?: boolean }> = [
      { answer: { status: 400, body: '{"__type":"com.amazon.coral.service#AccessDeniedException","message":"not allowed"}' } },
      { answer: { status: 501, body: '{"__type":"com.amazonaws.dynamodb.v20120810#NotImplemented","message":"no"}' } },
      { answer: { status: 400, body: '{"__type":"com.amazonaws.dynamodb.v20120810#ReplicatedWriteConflictException","message":"conflict"}' } },
      { answer: { status: 400, body: '{"__type":"com.amazon.coral.service#AccessDeniedException","message":"not allowed"}', query: "AccessDenied;Sender" }, sqs: true },
      { answer: { status: 400, body: '{"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":"no queue"}', query: "AWS.SimpleQueueService.NonExistentQueue;Sender" }, sqs: true },
    ];
    for (const { answer, sqs } of cases) {
      const outcome = async (lean: boolean) => {
        seen.length = 0;
        script = [{ ...answer }];
        const config = { ...creds, endpoint: url, maxAttempts: 3 };
        const client = sqs ? (lean ? new LeanSQSClient({ ...config, useQueueUrlAsEndpoint: false }) : new SQSClient({ ...config, useQueueUrlAsEndpoint: false })) : lean ? new LeanDynamoDBClient(config) : new DynamoDBClient(config);
        const command = sqs ? new SendMessageCommand({ QueueUrl: `${url}/000000000000/q`, MessageBody: "x" }) : get;
        const error = await rejection((client.send as (c: unknown) => Promise<unknown>)(command));
        client.destroy();
        return { requests: seen.length, name: error.name, code: error.Code, fault: error.$fault };
      };
      expect(await outcome(true), JSON.stringify(answer)).toEqual(await outcome(false));
    }
  });

  it("gives a transaction one idempotency token, the same on its retry, as the SDK does", async () => {
    seen.length = 0;
    script = [
      { status: 500, body: '{"__type":"com.amazonaws.dynamodb.v20120810#InternalServerError","message":"answer lost"}' },
      { status: 200, body: "{}" },
    ];
    const c = client(3);
    await c.send(new TransactWriteItemsCommand({ TransactItems: [{ Put: { TableName: "t", Item: { pk: { S: "k" } } } }] }));
    const tokens = seen.map((request) => (JSON.parse(request.body) as { ClientRequestToken?: string }).ClientRequestToken);
    expect(tokens).toHaveLength(2);
    expect(tokens[0]).toMatch(/^[0-9a-f-]{36}$/);
    expect(tokens[1]).toBe(tokens[0]);
    c.destroy();
  });

  it("sends the Lambda invocation's trace header, as the SDK's recursion detection does", async () => {
    const saved = { name: process.env.AWS_LAMBDA_FUNCTION_NAME, trace: process.env._X_AMZN_TRACE_ID };
    const trace = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";
    try {
      seen.length = 0;
      script = [{ status: 200, body: "{}" }];
      const c = client(1);
      await c.send(get);
      expect(seen[0]!.headers["x-amzn-trace-id"]).toBeUndefined();
      Object.assign(process.env, { AWS_LAMBDA_FUNCTION_NAME: "deliver", _X_AMZN_TRACE_ID: trace });
      await c.send(get);
      expect(seen[1]!.headers["x-amzn-trace-id"]).toBe(trace);
      c.destroy();
    } finally {
      for (const [key, value] of [["AWS_LAMBDA_FUNCTION_NAME", saved.name], ["_X_AMZN_TRACE_ID", saved.trace]] as const) {
        if (value === undefined) delete process.env[key];
        else process.env[key] = value;
      }
    }
  });

  it("does not retry what a retry cannot fix: a validation error is thrown after one request", async () => {
    seen.length = 0;
    script = [{ status: 400, body: '{"__type":"com.amazon.coral.validate#ValidationException","message":"One or more parameter values were invalid"}' }];
    const error = await rejection(client(5).send(get));
    expect(seen).toHaveLength(1);
    expect(error.name).toBe("ValidationException");
    expect(error.message).toBe("One or more parameter values were invalid");
  });
});
