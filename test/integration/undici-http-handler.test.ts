import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Readable } from "node:stream";
import type { HttpRequest } from "@smithy/types";
import { EventBridgeClient, PutEventsCommand } from "@aws-sdk/client-eventbridge";
import { afterEach, describe, expect, it } from "vitest";
import { startLocalEventBridge, type LocalEventBridge } from "../../infra/local/eventbridge/local-eventbridge";
import { UndiciHttpHandler } from "../../shared/aws/undici-http-handler";

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
  body: string;
}

const servers: Server[] = [];
const handlers: UndiciHttpHandler[] = [];
const buses: LocalEventBridge[] = [];
afterEach(async () => {
  for (const h of handlers.splice(0)) h.destroy();
  await Promise.all(buses.splice(0).map((b) => b.close()));
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((resolve) => (s.closeAllConnections(), s.close(() => resolve())))));
});

/** A loopback server that records each request and answers with `respond`. */
async function server(respond: (req: IncomingMessage, res: ServerResponse, seen: Seen) => void): Promise<{ port: number; seen: Seen[] }> {
  const seen: Seen[] = [];
  const s = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const record = { method: req.method ?? "", url: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks).toString("utf8") };
      seen.push(record);
      respond(req, res, record);
    });
  });
  servers.push(s);
  await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", () => resolve()));
  return { port: (s.address() as AddressInfo).port, seen };
}

function handler(options?: ConstructorParameters<typeof UndiciHttpHandler>[0]): UndiciHttpHandler {
  const h = new UndiciHttpHandler(options);
  handlers.push(h);
  return h;
}

const request = (port: number, extra: Partial<HttpRequest> = {}): HttpRequest => ({
  protocol: "http:",
  hostname: "127.0.0.1",
  port,
  method: "POST",
  path: "/",
  headers: { "content-type": "application/json", "x-custom": "1" },
  body: '{"a":1}',
  ...extra,
});

async function text(body: unknown): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of body as Readable) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

describe("UndiciHttpHandler", () => {
  it("sends method, path, sorted query, headers and body; answers status, lower-case headers and a body stream", async () => {
    const { port, seen } = await server((_req, res) => {
      res.setHeader("X-Amzn-RequestId", "r-1");
      res.setHeader("Set-Cookie", ["a=1", "b=2"]);
      res.writeHead(201, { "content-type": "application/json" });
      res.end('{"ok":true}');
    });
    const { response } = await handler().handle(request(port, { path: "/p", query: { z: "last", a: ["x y", "!"], flag: null }, body: Buffer.from('{"a":1}') }));
    expect(response.statusCode).toBe(201);
    expect(response.headers["x-amzn-requestid"]).toBe("r-1");
    expect(response.headers["set-cookie"]).toBe("a=1, b=2");
    expect(await text(response.body)).toBe('{"ok":true}');
    expect(seen[0]).toMatchObject({ method: "POST", url: "/p?a=x%20y&a=%21&flag&z=last", body: '{"a":1}' });
    expect(seen[0]!.headers["x-custom"]).toBe("1");
  });

  it("sends a Readable body", async () => {
    const { port, seen } = await server((_req, res) => res.end("done"));
    const { response } = await handler().handle(request(port, { body: Readable.from([Buffer.from("part1-"), Buffer.from("part2")]) }));
    expect(await text(response.body)).toBe("done");
    expect(seen[0]!.body).toBe("part1-part2");
  });

  it("reuses keep-alive connections for consecutive calls", async () => {
    const sockets = new Set<unknown>();
    const { port, seen } = await server((req, res) => {
      sockets.add(req.socket);
      res.end("done");
    });
    const h = handler();
    for (let i = 0; i < 10; i++) {
      const { response } = await h.handle(request(port, { body: `body-${i}` }));
      await text(response.body);
    }
    expect(seen.map((s) => s.body)).toEqual(Array.from({ length: 10 }, (_, i) => `body-${i}`));
    // undici may open a second connection while the first is being released; never one per call.
    expect(sockets.size).toBeLessThanOrEqual(2);
  });

  it("rejects with an AbortError carrying the reason when the signal aborts, before or during the call", async () => {
    const { port } = await server(() => undefined); // never answers
    const reason = new Error("shutting down");
    const early = new AbortController();
    early.abort(reason);
    await expect(handler().handle(request(port), { abortSignal: early.signal })).rejects.toMatchObject({ name: "AbortError", cause: reason });
    const late = new AbortController();
    const pending = handler().handle(request(port), { abortSignal: late.signal });
    setTimeout(() => late.abort(reason), 50);
    await expect(pending).rejects.toMatchObject({ name: "AbortError", cause: reason });
  });

  it("rejects with a TimeoutError when no response head arrives within requestTimeout", async () => {
    const { port } = await server(() => undefined);
    await expect(handler({ requestTimeout: 100 }).handle(request(port))).rejects.toMatchObject({ name: "TimeoutError" });
    await expect(handler().handle(request(port), { requestTimeout: 100 })).rejects.toMatchObject({ name: "TimeoutError" });
  });

  it("marks a connection dropped mid-request as retryable and keeps undici's error", async () => {
    const { port } = await server((req) => req.socket.destroy());
    const error = (await handler()
      .handle(request(port))
      .catch((e: unknown) => e)) as Error & { code?: string; $retryable?: unknown };
    expect(error.code).toBe("UND_ERR_SOCKET");
    expect(error.$retryable).toBeDefined();
  });

  it("passes a refused connection through with its code", async () => {
    const { port } = await server(() => undefined);
    await new Promise<void>((resolve) => servers.pop()!.close(() => resolve()));
    await expect(handler().handle(request(port))).rejects.toMatchObject({ code: "ECONNREFUSED" });
  });

  it("carries an AWS SDK client: PutEvents against the local endpoint, errors deserialised as by the default handler", async () => {
    const bus = await startLocalEventBridge({ busNames: ["nomad"] });
    buses.push(bus);
    const client = new EventBridgeClient({ endpoint: bus.endpoint, region: "us-east-1", credentials: { accessKeyId: "x", secretAccessKey: "y" }, maxAttempts: 1, requestHandler: handler() });
    const result = await client.send(new PutEventsCommand({ Entries: [{ Source: "nomad", DetailType: "Job", Detail: '{"a":"é"}', EventBusName: "nomad" }] }));
    expect(result.FailedEntryCount).toBe(0);
    expect(bus.accepted()[0]!.detail).toBe('{"a":"é"}');
    bus.failCalls({ count: 1, type: "ThrottlingException" });
    await expect(client.send(new PutEventsCommand({ Entries: [{ Source: "nomad", DetailType: "Job", Detail: "{}", EventBusName: "nomad" }] }))).rejects.toMatchObject({
      name: "ThrottlingException",
      $metadata: { httpStatusCode: 400 },
    });
  });
});
