import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { EventBridgeClient, PutEventsCommand, type EventBridgeClientConfig, type PutEventsRequestEntry } from "@aws-sdk/client-eventbridge";
import type { HttpRequest } from "@smithy/types";
import { afterEach, describe, expect, it } from "vitest";
import { startLocalEventBridge, type LocalEventBridge } from "../../infra/local/eventbridge/local-eventbridge";
import { PutEventsError, PutEventsSender, putEventsBody, type PutEventsEntry } from "../../shared/aws/put-events-sender";
import { SigV4Signer } from "../../shared/aws/sigv4";

// AWS itself is never reached: the local PutEvents endpoint and recording servers on
// loopback stand in for it; the credentials are made up.
const CREDENTIALS = { accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", sessionToken: "session-token-example" };
const FIXED = Date.parse("2026-11-21T06:49:12.345Z");

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
  body: string;
}

const servers: Server[] = [];
const senders: PutEventsSender[] = [];
const clients: EventBridgeClient[] = [];
const buses: LocalEventBridge[] = [];
const savedEnv = { ...process.env };

afterEach(async () => {
  for (const s of senders.splice(0)) s.destroy();
  for (const c of clients.splice(0)) c.destroy();
  await Promise.all(buses.splice(0).map((b) => b.close()));
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((resolve) => (s.closeAllConnections(), s.close(() => resolve())))));
  for (const name of Object.keys(process.env)) if (!(name in savedEnv)) delete process.env[name];
  Object.assign(process.env, savedEnv);
});

/** A loopback server that records each request and answers with `respond` (by default a PutEvents success for one entry). */
async function recorder(respond: (res: ServerResponse, seen: Seen) => void = (res) => answer(res, 200, { FailedEntryCount: 0, Entries: [{ EventId: "e-1" }] })): Promise<{ endpoint: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const s = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const record = { method: req.method ?? "", url: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks).toString("utf8") };
      seen.push(record);
      respond(res, record);
    });
  });
  servers.push(s);
  await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", () => resolve()));
  return { endpoint: `http://127.0.0.1:${(s.address() as AddressInfo).port}`, seen };
}

function answer(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = typeof body === "string" ? body : JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/x-amz-json-1.1", ...headers });
  res.end(text);
}

function sender(options: ConstructorParameters<typeof PutEventsSender>[0] = {}): PutEventsSender {
  const s = new PutEventsSender(options);
  senders.push(s);
  return s;
}

function sdkClient(config: EventBridgeClientConfig): EventBridgeClient {
  const c = new EventBridgeClient(config);
  clients.push(c);
  return c;
}

async function bus(): Promise<LocalEventBridge> {
  const b = await startLocalEventBridge({ busNames: ["nomad"] });
  buses.push(b);
  return b;
}

/** Entries whose details need escaping: quotes, backslashes, non-ASCII, U+2028, control characters. */
const entries = (n: number): PutEventsEntry[] =>
  Array.from({ length: n }, (_, i) => ({
    Source: "nomad",
    DetailType: "Job",
    Detail: JSON.stringify({ id: `e${i}`, text: `quote " backslash \\ é ✓ \u2028 tab\t nul\u0000 ${i}` }),
    EventBusName: "nomad",
  }));

/** The request a loopback server saw, as the signer sees one (no Authorization). */
function asRequest(seen: Seen, endpoint: string): HttpRequest {
  const url = new URL(endpoint);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(seen.headers)) if (name !== "authorization" && name !== "connection" && typeof value === "string") headers[name] = value;
  return { method: seen.method, protocol: url.protocol, hostname: url.hostname, port: Number(url.port), path: seen.url, query: {}, headers, body: seen.body };
}

function signedHeaders(authorization: string | undefined): Set<string> {
  return new Set(/SignedHeaders=([^,]+)/.exec(authorization ?? "")?.[1]?.split(";") ?? []);
}

describe("PutEventsSender signs as the SDK does", () => {
  it("its requests carry the signature the SDK's own signer computes for them", async () => {
    const rec = await recorder();
    await sender({ clientConfig: { endpoint: rec.endpoint, region: "eu-west-1", credentials: CREDENTIALS }, now: () => FIXED }).putEvents(entries(3));
    const seen = rec.seen[0]!;
    expect(seen.headers["x-amz-date"]).toBe("20261121T064912Z");
    expect(seen.headers["x-amz-security-token"]).toBe(CREDENTIALS.sessionToken);
    expect(seen.headers["x-amz-target"]).toBe("AWSEvents.PutEvents");
    expect(seen.headers["content-type"]).toBe("application/x-amz-json-1.1");
    expect(seen.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/20261121\/eu-west-1\/events\/aws4_request, SignedHeaders=content-length;content-type;host;x-amz-content-sha256;x-amz-date;x-amz-security-token;x-amz-target, Signature=[0-9a-f]{64}$/);

    // The SDK client's own signer (the one its PutEventsCommand uses), same credentials and clock.
    const sdk = sdkClient({ endpoint: rec.endpoint, region: "eu-west-1", credentials: CREDENTIALS });
    const sdkSigner = await sdk.config.signer({ name: "sigv4", signingName: "events", signingRegion: "eu-west-1", properties: {} });
    const bySdk = await sdkSigner.sign(asRequest(seen, rec.endpoint), { signingDate: new Date(FIXED), signableHeaders: signedHeaders(seen.headers.authorization) });
    expect(bySdk.headers.authorization).toBe(seen.headers.authorization);
  });

  it("sends to a custom endpoint's path as the SDK client does, signed as the SDK's signer signs it", async () => {
    const rec = await recorder();
    const endpoint = `${rec.endpoint}/base/x`;
    await sdkClient({ endpoint, region: "eu-west-1", credentials: CREDENTIALS, maxAttempts: 1 }).send(new PutEventsCommand({ Entries: entries(1) as PutEventsRequestEntry[] }));
    await sender({ clientConfig: { endpoint, region: "eu-west-1", credentials: CREDENTIALS }, now: () => FIXED }).putEvents(entries(1));
    const [bySdkClient, seen] = [rec.seen[0]!, rec.seen[1]!];
    expect(seen.url).toBe(bySdkClient.url);
    expect(seen.url).toBe("/base/x/");
    const sdkSigner = await sdkClient({ region: "eu-west-1", credentials: CREDENTIALS }).config.signer({ name: "sigv4", signingName: "events", signingRegion: "eu-west-1", properties: {} });
    const bySdk = await sdkSigner.sign(asRequest(seen, rec.endpoint), { signingDate: new Date(FIXED), signableHeaders: signedHeaders(seen.headers.authorization) });
    expect(bySdk.headers.authorization).toBe(seen.headers.authorization);
  });

  it("signs the SDK's own PutEvents request to the same Authorization the SDK sent", async () => {
    const rec = await recorder();
    const sdk = sdkClient({ endpoint: rec.endpoint, region: "eu-west-1", credentials: CREDENTIALS, maxAttempts: 1 });
    await sdk.send(new PutEventsCommand({ Entries: entries(3) as PutEventsRequestEntry[] }));
    const seen = rec.seen[0]!;
    const sdkDate = seen.headers["x-amz-date"]!;
    const date = new Date(`${sdkDate.slice(0, 4)}-${sdkDate.slice(4, 6)}-${sdkDate.slice(6, 8)}T${sdkDate.slice(9, 11)}:${sdkDate.slice(11, 13)}:${sdkDate.slice(13, 15)}Z`);
    const lean = sender({ clientConfig: { endpoint: rec.endpoint, region: "eu-west-1", credentials: CREDENTIALS } });
    const request = asRequest(seen, rec.endpoint);
    // The SDK signs everything it sends but user-agent; so does the sender.
    expect(signedHeaders(seen.headers.authorization)).toEqual(new Set(Object.keys(request.headers).filter((h) => h !== "user-agent")));
    const signed = await lean.sign(request, date);
    expect(signed.headers.authorization).toBe(seen.headers.authorization);
    // A different clock or secret gives a different signature: the comparison can fail.
    expect((await lean.sign(request, new Date(date.getTime() + 1000))).headers.authorization).not.toBe(seen.headers.authorization);
  });

  it("writes the same body the SDK's serializer writes for the same entries", async () => {
    const rec = await recorder();
    const time = new Date("2026-01-02T03:04:05.678Z");
    const list: PutEventsEntry[] = [...entries(2), { Source: "nomad", DetailType: "Job", Detail: "{}", Resources: ["arn:aws:x:1", "r2"], Time: time, TraceHeader: "Root=1-abc" }];
    await sdkClient({ endpoint: rec.endpoint, region: "eu-west-1", credentials: CREDENTIALS, maxAttempts: 1 }).send(new PutEventsCommand({ Entries: list.map((e): PutEventsRequestEntry => ({ ...e, Resources: e.Resources ? [...e.Resources] : undefined })) }));
    await sender({ clientConfig: { endpoint: rec.endpoint, region: "eu-west-1", credentials: CREDENTIALS } }).putEvents(list);
    expect(rec.seen[1]!.body).toBe(rec.seen[0]!.body);
    expect(putEventsBody(list)).toBe(rec.seen[0]!.body);
    expect(JSON.parse(rec.seen[1]!.body).Entries[2].Time).toBe(time.getTime() / 1000);
  });

  it("SigV4Signer agrees with the SDK's signer on odd paths, queries, folded header values, bodies and keys without a session token", async () => {
    const sdk = sdkClient({ region: "eu-central-1", credentials: CREDENTIALS });
    const bySdk = await sdk.config.signer({ name: "sigv4", signingName: "events", signingRegion: "eu-central-1", properties: {} });
    const ours = new SigV4Signer("eu-central-1", "events");
    const date = new Date(FIXED);
    const requests: HttpRequest[] = [
      { method: "POST", protocol: "https:", hostname: "h.example", path: "/base/./a b/../c%2Fd/", query: { z: "1", "a key": ["y", "x"], empty: "", gone: null as unknown as string }, headers: { host: "h.example", "X-Custom": "  two   spaces\tand tab  ", "content-type": "application/x-amz-json-1.1" }, body: "{}" },
      { method: "POST", protocol: "http:", hostname: "127.0.0.1", port: 8, path: "/", query: {}, headers: { host: "127.0.0.1:8", "user-agent": "not signed", "x-amz-target": "AWSEvents.PutEvents" }, body: Buffer.from("é ✓ body bytes") },
    ];
    for (const [i, request] of requests.entries()) {
      const expected = await bySdk.sign({ ...request, headers: { ...request.headers } }, { signingDate: date });
      for (const credentials of [CREDENTIALS, { accessKeyId: "AKID2", secretAccessKey: "other" }]) {
        const sdkFor = credentials === CREDENTIALS ? expected : await (await sdkClient({ region: "eu-central-1", credentials }).config.signer({ name: "sigv4", signingName: "events", signingRegion: "eu-central-1", properties: {} })).sign({ ...request, headers: { ...request.headers } }, { signingDate: date });
        const mine = ours.sign(request, credentials, date);
        expect(mine.authorization, `request ${i}`).toBe(sdkFor.headers.authorization);
        expect(mine["x-amz-security-token"]).toBe(credentials === CREDENTIALS ? CREDENTIALS.sessionToken : undefined);
      }
    }
  });

  it("takes credentials from the SDK's provider chain (here the environment) when none are given", async () => {
    const rec = await recorder();
    Object.assign(process.env, { AWS_ACCESS_KEY_ID: "AKIDFROMENV", AWS_SECRET_ACCESS_KEY: "secret-from-env", AWS_SESSION_TOKEN: "token-from-env", AWS_REGION: "ap-southeast-2" });
    await sender({ clientConfig: { endpoint: rec.endpoint } }).putEvents(entries(1));
    expect(rec.seen[0]!.headers.authorization).toContain("Credential=AKIDFROMENV/");
    expect(rec.seen[0]!.headers.authorization).toContain("/ap-southeast-2/events/aws4_request");
    expect(rec.seen[0]!.headers["x-amz-security-token"]).toBe("token-from-env");
  });

  it("corrects its signing clock from the server's Date when they are 5 minutes or more apart, as the SDK does", async () => {
    const serverTime = FIXED + 3_600_000;
    let calls = 0;
    const rec = await recorder((res) => {
      calls++;
      if (calls === 1) answer(res, 400, { __type: "InvalidSignatureException", message: "Signature expired" }, { date: new Date(serverTime).toUTCString() });
      else answer(res, 200, { FailedEntryCount: 0, Entries: [{ EventId: "e-1" }] }, { date: new Date(serverTime).toUTCString() });
    });
    const lean = sender({ clientConfig: { endpoint: rec.endpoint, region: "eu-west-1", credentials: CREDENTIALS }, now: () => FIXED });
    await expect(lean.putEvents(entries(1))).rejects.toMatchObject({ name: "InvalidSignatureException" });
    await lean.putEvents(entries(1));
    expect(rec.seen[0]!.headers["x-amz-date"]).toBe("20261121T064912Z");
    expect(rec.seen[1]!.headers["x-amz-date"]).toBe("20261121T074912Z");
  });
});

describe("PutEventsSender against the local PutEvents endpoint", () => {
  const config = (b: LocalEventBridge) => ({ clientConfig: { endpoint: b.endpoint, region: "us-east-1", credentials: CREDENTIALS } });

  it("puts entries on the bus in order and answers each with its EventId", async () => {
    const b = await bus();
    const list = entries(10);
    const result = await sender(config(b)).putEvents(list);
    expect(result.FailedEntryCount).toBe(0);
    expect(result.$metadata.httpStatusCode).toBe(200);
    expect(result.$metadata.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(b.accepted().map((e) => e.detail)).toEqual(list.map((e) => e.Detail));
    expect(result.Entries.map((e) => e.EventId)).toEqual(b.accepted().map((e) => e.id));
    expect(b.accepted().every((e) => e.source === "nomad" && e.detailType === "Job" && e.bus === "nomad")).toBe(true);
  });

  it("carries Time and Resources as the bus reads them", async () => {
    const b = await bus();
    await sender(config(b)).putEvents([{ Source: "nomad", DetailType: "Job", Detail: "{}", EventBusName: "nomad", Time: new Date("2026-01-02T03:04:05.678Z"), Resources: ["arn:aws:x:1"] }]);
    expect(b.accepted()[0]).toMatchObject({ time: "2026-01-02T03:04:05Z", resources: ["arn:aws:x:1"] });
  });

  it("reports a partial failure entry by entry (FailedEntryCount, ErrorCode, ErrorMessage)", async () => {
    const b = await bus();
    b.failEntries((_entry, index) => (index === 1 ? { code: "ThrottlingException", message: "slow down" } : index === 3 ? { code: "InternalFailure" } : undefined));
    const result = await sender(config(b)).putEvents(entries(4));
    expect(result.FailedEntryCount).toBe(2);
    expect(result.Entries[0]!.EventId).toBeDefined();
    expect(result.Entries[1]).toEqual({ ErrorCode: "ThrottlingException", ErrorMessage: "slow down" });
    expect(result.Entries[2]!.EventId).toBeDefined();
    expect(result.Entries[3]).toMatchObject({ ErrorCode: "InternalFailure" });
    expect(b.accepted()).toHaveLength(2);
  });

  it("rejects a call the bus fails whole with the SDK's error shape, and works again once it heals", async () => {
    const b = await bus();
    const lean = sender(config(b));
    b.failCalls({ count: 1, type: "ThrottlingException" });
    await expect(lean.putEvents(entries(1))).rejects.toMatchObject({ name: "ThrottlingException", message: "Rate exceeded", $fault: "client", $metadata: { httpStatusCode: 400 } });
    b.failCalls({ count: 1, status: 503 });
    const outage = await lean.putEvents(entries(1)).catch((error: unknown) => error);
    expect(outage).toBeInstanceOf(PutEventsError);
    expect(outage).toMatchObject({ name: "ServiceUnavailable", $fault: "server", $metadata: { httpStatusCode: 503 } });
    b.failCalls({ count: 1, status: 500 });
    await expect(lean.putEvents(entries(1))).rejects.toMatchObject({ name: "InternalException", $metadata: { httpStatusCode: 500 } });
    await expect(lean.putEvents(entries(11))).rejects.toMatchObject({ name: "ValidationException", $metadata: { httpStatusCode: 400 } });
    expect((await lean.putEvents(entries(2))).FailedEntryCount).toBe(0);
    expect(b.accepted()).toHaveLength(2);
  });

  it("rejects with the signal's reason when aborted mid-call", async () => {
    const b = await bus();
    b.delay(5_000);
    const abort = new AbortController();
    setTimeout(() => abort.abort(new Error("shutting down")), 50);
    const started = Date.now();
    await expect(sender(config(b)).putEvents(entries(1), abort.signal)).rejects.toThrow("shutting down");
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it("fails a call whose connection is refused with undici's error (the caller retries it)", async () => {
    const rec = await recorder();
    const endpoint = rec.endpoint;
    await Promise.all(servers.splice(0).map((s) => new Promise<void>((resolve) => (s.closeAllConnections(), s.close(() => resolve())))));
    await expect(sender({ clientConfig: { endpoint, region: "us-east-1", credentials: CREDENTIALS } }).putEvents(entries(1))).rejects.toMatchObject({ code: "ECONNREFUSED" });
  });
});

describe("PutEventsSender reads error answers as the SDK does", () => {
  const config = (endpoint: string) => ({ clientConfig: { endpoint, region: "us-east-1", credentials: CREDENTIALS } });

  it("takes the type from X-Amzn-ErrorType, then code, then __type, cut to the bare name", async () => {
    const answers: Array<(res: ServerResponse) => void> = [
      (res) => answer(res, 403, { Message: "not allowed" }, { "x-amzn-errortype": "AccessDeniedException:http://internal.amazon.com/coral/com.amazon.coral.service/" }),
      (res) => answer(res, 400, { code: "ResourceNotFoundException", message: "no bus" }),
      (res) => answer(res, 500, { __type: "com.amazonaws.eventbridge#InternalException", message: "oops" }),
    ];
    const rec = await recorder((res) => answers.shift()!(res));
    const lean = sender(config(rec.endpoint));
    await expect(lean.putEvents(entries(1))).rejects.toMatchObject({ name: "AccessDeniedException", message: "not allowed", $metadata: { httpStatusCode: 403 } });
    await expect(lean.putEvents(entries(1))).rejects.toMatchObject({ name: "ResourceNotFoundException", message: "no bus" });
    await expect(lean.putEvents(entries(1))).rejects.toMatchObject({ name: "InternalException", message: "oops", $fault: "server" });
  });

  it("names an answer that is not JSON by its status (a proxy's 502), and a 200 that is not a result a SerializationError", async () => {
    const answers: Array<(res: ServerResponse) => void> = [
      (res) => answer(res, 502, "<html>Bad Gateway</html>", { "content-type": "text/html" }),
      (res) => answer(res, 200, "not json"),
      (res) => answer(res, 200, { Entries: "nope" }),
    ];
    const rec = await recorder((res) => answers.shift()!(res));
    const lean = sender(config(rec.endpoint));
    await expect(lean.putEvents(entries(1))).rejects.toMatchObject({ name: "Unknown", message: "EventBridge answered HTTP 502: <html>Bad Gateway</html>", $fault: "server", $metadata: { httpStatusCode: 502 } });
    await expect(lean.putEvents(entries(1))).rejects.toMatchObject({ name: "SerializationError", $metadata: { httpStatusCode: 200 } });
    await expect(lean.putEvents(entries(1))).rejects.toMatchObject({ name: "SerializationError" });
  });
});

describe("PutEventsSender resolves its endpoint as the SDK client does", () => {
  function clearEndpointEnv(): void {
    for (const name of Object.keys(process.env)) if (name.startsWith("AWS_ENDPOINT_URL") || name === "AWS_USE_FIPS_ENDPOINT" || name === "AWS_USE_DUALSTACK_ENDPOINT") delete process.env[name];
  }

  it("AWS_ENDPOINT_URL_EVENTBRIDGE, then AWS_ENDPOINT_URL; an endpoint in the config wins over both", async () => {
    clearEndpointEnv();
    process.env.AWS_ENDPOINT_URL = "http://127.0.0.1:4001";
    expect(await sender({ clientConfig: { region: "us-east-1" } }).endpoint()).toBe("http://127.0.0.1:4001/");
    process.env.AWS_ENDPOINT_URL_EVENTBRIDGE = "http://127.0.0.1:4002";
    expect(await sender({ clientConfig: { region: "us-east-1" } }).endpoint()).toBe("http://127.0.0.1:4002/");
    expect(await sender({ clientConfig: { region: "us-east-1", endpoint: "http://127.0.0.1:4003/base" } }).endpoint()).toBe("http://127.0.0.1:4003/base/");
  });

  it("without one, AWS's own endpoint for the region, partition, FIPS and dual-stack (resolved, not called)", async () => {
    clearEndpointEnv();
    process.env.AWS_REGION = "eu-west-1";
    expect(await sender().endpoint()).toBe("https://events.eu-west-1.amazonaws.com/");
    expect(await sender({ clientConfig: { region: "cn-north-1" } }).endpoint()).toBe("https://events.cn-north-1.amazonaws.com.cn/");
    expect(await sender({ clientConfig: { region: "us-east-1", useFipsEndpoint: true } }).endpoint()).toBe("https://events-fips.us-east-1.amazonaws.com/");
    expect(await sender({ clientConfig: { region: "us-east-1", useDualstackEndpoint: true } }).endpoint()).toBe("https://events.us-east-1.api.aws/");
    // The same answers the SDK client's resolution gives.
    const sdk = sdkClient({ region: "cn-north-1" });
    const viaSdk = await sdk.config.endpointProvider({ Region: "cn-north-1", UseFIPS: false, UseDualStack: false });
    expect(viaSdk.url.href).toBe("https://events.cn-north-1.amazonaws.com.cn/");
  });

  it("sends to the resolved endpoint: AWS_ENDPOINT_URL_EVENTBRIDGE reaches the local bus", async () => {
    clearEndpointEnv();
    const b = await bus();
    process.env.AWS_ENDPOINT_URL_EVENTBRIDGE = b.endpoint;
    await sender({ clientConfig: { region: "us-east-1", credentials: CREDENTIALS } }).putEvents(entries(2));
    expect(b.accepted()).toHaveLength(2);
  });
});
