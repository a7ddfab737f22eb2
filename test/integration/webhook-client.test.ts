import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { AddressGuard } from "../../shared/delivery/ssrf-guard";
import { WebhookClient } from "../../shared/delivery/webhook-client";
import { until } from "../support/until";

// Real HTTP servers on 127.0.0.1 answering as each test needs; the client is the deliver
// function's, on the SSRF-guarded dispatcher (loopback allowed unless a test says otherwise).

interface Seen {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function serve(answer: (req: IncomingMessage, res: ServerResponse, seen: Seen) => void) {
  const seen: Seen[] = [];
  let connections = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const s = { method: req.method ?? "", url: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks).toString("utf8") };
      seen.push(s);
      answer(req, res, s);
    });
  });
  server.on("connection", () => connections++);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    seen,
    get connections() {
      return connections;
    },
  };
}

function client(options: { timeoutMs?: number; allowedCidrs?: string[]; connections?: number } = {}) {
  const dispatcher = new AddressGuard({ allowedCidrs: options.allowedCidrs ?? ["127.0.0.0/8"] }).dispatcher({ connectTimeout: 2_000, keepAliveTimeout: 30_000, ...(options.connections ? { connections: options.connections } : {}) });
  cleanups.push(() => dispatcher.destroy());
  return new WebhookClient({ dispatcher, timeoutMs: options.timeoutMs ?? 5_000, userAgent: "nomad-event-sinks-test/1" });
}

const signed = { "webhook-id": "msg_1", "webhook-timestamp": "1700000000", "webhook-signature": "v1,abc=" };

describe("WebhookClient", () => {
  it("POSTs the body with its headers to the address's path and query (not its fragment), and reuses the connection", async () => {
    const server = await serve((_req, res) => {
      res.writeHead(204);
      res.end();
    });
    const webhooks = client();
    const body = JSON.stringify({ Index: 1, Events: [{ Key: "wéb ✓" }] });
    for (let i = 0; i < 10; i++) {
      const result = await webhooks.post(`${server.url}/hook/a?x=1&y=2#fragment`, body, signed);
      expect(result).toEqual({ outcome: "delivered", status: 204, latencyMs: expect.any(Number) });
    }
    expect(server.seen).toHaveLength(10);
    for (const s of server.seen) {
      expect(s.method).toBe("POST");
      expect(s.url).toBe("/hook/a?x=1&y=2");
      expect(s.body).toBe(body);
      expect(s.headers).toMatchObject({ "content-type": "application/json", "user-agent": "nomad-event-sinks-test/1", ...signed, "content-length": String(Buffer.byteLength(body)) });
    }
    // Each answer was read to its end, so the keep-alive connections were reused (undici's pool
    // opens a second one when the next request comes before it has put the first back).
    expect(server.connections).toBeLessThanOrEqual(2);
  });

  it("reads a 2xx answer's body and still counts it delivered; passes over 1xx interim answers", async () => {
    const server = await serve((req, res, seen) => {
      if (req.url === "/hints") res.writeEarlyHints({ link: "</style.css>; rel=preload" });
      res.writeHead(200, { "content-type": "text/plain" });
      res.end(`thanks for ${seen.body.length} bytes`);
    });
    const webhooks = client();
    expect(await webhooks.post(`${server.url}/hints`, "{}", signed)).toMatchObject({ outcome: "delivered", status: 200 });
    for (let i = 0; i < 8; i++) expect(await webhooks.post(`${server.url}/plain`, "{}", signed)).toMatchObject({ outcome: "delivered", status: 200 });
    expect(server.connections).toBeLessThanOrEqual(2);
  });

  it("stops reading a 2xx answer after 128 KiB: delivered, without waiting for a body that never ends", async () => {
    const server = await serve((_req, res) => {
      res.writeHead(200);
      // 256 KiB at once, then nothing more and no end: a client reading to the end would wait for its timeout.
      res.write(Buffer.alloc(256 * 1024, 0x61));
    });
    const webhooks = client({ timeoutMs: 3_000 });
    const result = await webhooks.post(`${server.url}/big`, "{}", signed);
    expect(result).toMatchObject({ outcome: "delivered", status: 200 });
    expect(result.latencyMs).toBeLessThan(2_000);
    // That connection was closed, not left half-read: the next POST gets an answer too.
    expect(await webhooks.post(`${server.url}/big`, "{}", signed)).toMatchObject({ outcome: "delivered", status: 200 });
  });

  it("classifies error answers with an excerpt of their body: 500, 410 Gone, 3xx not followed", async () => {
    const target = await serve((_req, res) => res.end("should never be called"));
    const long = "x".repeat(5_000);
    const server = await serve((req, res) => {
      if (req.url === "/500") res.writeHead(500).end("  something\n\n   broke \t badly  ");
      else if (req.url === "/500-long") res.writeHead(500).end(long);
      else if (req.url === "/410") res.writeHead(410).end("unsubscribed");
      else if (req.url === "/410-empty") res.writeHead(410).end();
      else if (req.url === "/302") res.writeHead(302, { location: `${target.url}/elsewhere` }).end("moved");
      else res.writeHead(308).end();
    });
    const webhooks = client();
    expect(await webhooks.post(`${server.url}/500`, "{}", signed)).toEqual({ outcome: "failed", status: 500, latencyMs: expect.any(Number), error: "HTTP 500: something broke badly" });
    expect(await webhooks.post(`${server.url}/500-long`, "{}", signed)).toMatchObject({ outcome: "failed", status: 500, error: `HTTP 500: ${"x".repeat(200)}` });
    expect(await webhooks.post(`${server.url}/410`, "{}", signed)).toEqual({ outcome: "gone", status: 410, latencyMs: expect.any(Number), error: "410 Gone: unsubscribed" });
    expect(await webhooks.post(`${server.url}/410-empty`, "{}", signed)).toMatchObject({ outcome: "gone", error: "410 Gone" });
    expect(await webhooks.post(`${server.url}/302`, "{}", signed)).toMatchObject({ outcome: "failed", status: 302, error: `302 redirect to ${JSON.stringify(`${target.url}/elsewhere`)} not followed (register the final address)` });
    expect(await webhooks.post(`${server.url}/308`, "{}", signed)).toMatchObject({ outcome: "failed", status: 308, error: '308 redirect to "" not followed (register the final address)' });
    expect(target.seen).toHaveLength(0);
    // Error bodies are read to the end too: the connections were reused.
    expect(server.connections).toBeLessThanOrEqual(2);
  });

  it("reads Retry-After on 429 and 503 only, in seconds or as an HTTP date", async () => {
    const now = Date.UTC(2026, 0, 1, 12, 0, 0);
    const server = await serve((req, res) => {
      if (req.url === "/429") res.writeHead(429, { "retry-after": "7" }).end();
      else if (req.url === "/503") res.writeHead(503, { "retry-after": "Thu, 01 Jan 2026 12:00:30 GMT" }).end("busy");
      else if (req.url === "/503-bad") res.writeHead(503, { "retry-after": "soon" }).end();
      else res.writeHead(500, { "retry-after": "7" }).end();
    });
    const dispatcher = new AddressGuard({ allowedCidrs: ["127.0.0.0/8"] }).dispatcher();
    cleanups.push(() => dispatcher.destroy());
    const webhooks = new WebhookClient({ dispatcher, userAgent: "t", now: () => now });
    expect(await webhooks.post(`${server.url}/429`, "{}", signed)).toMatchObject({ outcome: "failed", status: 429, error: "HTTP 429", retryAfterMs: 7_000 });
    expect(await webhooks.post(`${server.url}/503`, "{}", signed)).toMatchObject({ outcome: "failed", status: 503, error: "HTTP 503: busy", retryAfterMs: 30_000 });
    const bad = await webhooks.post(`${server.url}/503-bad`, "{}", signed);
    expect(bad).toMatchObject({ outcome: "failed", status: 503 });
    expect(bad).not.toHaveProperty("retryAfterMs");
    const other = await webhooks.post(`${server.url}/500`, "{}", signed);
    expect(other).not.toHaveProperty("retryAfterMs");
  });

  it("bounds the whole exchange: no answer, or an answer whose body never ends, fails at the timeout", async () => {
    const server = await serve((req, res) => {
      if (req.url === "/hang") return;
      // Headers at once, then a byte every 50 ms, for ever: each chunk is in time, the whole is not.
      res.writeHead(200);
      const drip = setInterval(() => res.write("."), 50);
      res.on("close", () => clearInterval(drip));
    });
    const webhooks = client({ timeoutMs: 400 });
    for (const path of ["/hang", "/drip"]) {
      const started = performance.now();
      const result = await webhooks.post(`${server.url}${path}`, "{}", signed);
      const took = performance.now() - started;
      expect(result, path).toMatchObject({ outcome: "failed", status: undefined, error: "no complete answer within 400 ms" });
      expect(took, path).toBeGreaterThanOrEqual(390);
      expect(took, path).toBeLessThan(2_000);
    }
  });

  it("times out a request still waiting for a connection, and never sends it afterwards", async () => {
    const server = await serve((req, res) => {
      if (req.url === "/hang") return;
      res.writeHead(204).end();
    });
    // One connection, shared by two clients: the short-timeout POST waits behind the long one, which hangs.
    const dispatcher = new AddressGuard({ allowedCidrs: ["127.0.0.0/8"] }).dispatcher({ connections: 1 });
    cleanups.push(() => dispatcher.destroy());
    const patient = new WebhookClient({ dispatcher, timeoutMs: 1_000, userAgent: "t" });
    const hasty = new WebhookClient({ dispatcher, timeoutMs: 300, userAgent: "t" });
    const first = patient.post(`${server.url}/hang`, "{}", signed);
    await until(() => server.seen.length === 1);
    const started = performance.now();
    const second = await hasty.post(`${server.url}/queued`, "{}", signed);
    expect(second).toMatchObject({ outcome: "failed", status: undefined, error: "no complete answer within 300 ms" });
    expect(performance.now() - started).toBeLessThan(900);
    expect(await first).toMatchObject({ outcome: "failed", error: "no complete answer within 1000 ms" });
    // The connection is free again: the queued POST, already given up, is not sent now.
    expect(await hasty.post(`${server.url}/after`, "{}", signed)).toMatchObject({ outcome: "delivered", status: 204 });
    expect(server.seen.map((s) => s.url)).toEqual(["/hang", "/after"]);
  });

  it("describes network failures: a reset connection, a refused one, a blocked address, a bad address", async () => {
    const server = await serve((req) => req.socket.destroy());
    const webhooks = client();
    const reset = await webhooks.post(`${server.url}/reset`, "{}", signed);
    expect(reset).toMatchObject({ outcome: "failed", status: undefined });
    expect((reset as { error: string }).error).toMatch(/socket|ECONNRESET|closed/i);

    // A port that was just free: nothing listens there.
    const closed = await serve(() => undefined);
    const port = closed.port;
    await cleanups.pop()!();
    const refused = await webhooks.post(`http://127.0.0.1:${port}/`, "{}", signed);
    expect((refused as { error: string }).error).toMatch(/ECONNREFUSED/);

    const guarded = client({ allowedCidrs: [] });
    const target = await serve((_req, res) => res.end());
    const blocked = await guarded.post(`${target.url}/`, "{}", signed);
    expect(blocked).toMatchObject({ outcome: "failed", status: undefined });
    expect((blocked as { error: string }).error).toMatch(/127\.0\.0\.1.*loopback/);
    expect(target.connections).toBe(0);

    for (const address of ["not a url", "ftp://127.0.0.1/x"]) {
      const bad = await webhooks.post(address, "{}", signed);
      expect(bad, address).toMatchObject({ outcome: "failed", status: undefined, error: expect.stringContaining(`the webhook address ${JSON.stringify(address)} is not`) });
    }
  });

  it("turns what undici refuses to send (a bad header value, a closed pool) into failed attempts", async () => {
    const server = await serve((_req, res) => res.writeHead(204).end());
    const dispatcher = new AddressGuard({ allowedCidrs: ["127.0.0.0/8"] }).dispatcher();
    const webhooks = new WebhookClient({ dispatcher, timeoutMs: 1_000, userAgent: "t" });
    const bad = await webhooks.post(`${server.url}/`, "{}", { ...signed, "webhook-id": "msg_1\r\nx-injected: 1" });
    expect(bad).toMatchObject({ outcome: "failed", status: undefined, error: expect.stringMatching(/invalid webhook-id header/) });
    await dispatcher.close();
    const closed = await webhooks.post(`${server.url}/`, "{}", signed);
    expect(closed).toMatchObject({ outcome: "failed", status: undefined, error: expect.stringMatching(/closed|destroyed/i) });
    expect(server.seen).toHaveLength(0);
  });

  it("settles each of many concurrent POSTs with its own answer", async () => {
    const server = await serve((req, res) => {
      const n = Number(req.url!.slice(1));
      res.writeHead(n % 5 === 0 ? 503 : 200).end(String(n));
    });
    const webhooks = client();
    const results = await Promise.all(Array.from({ length: 60 }, (_, n) => webhooks.post(`${server.url}/${n}`, JSON.stringify({ n }), signed)));
    results.forEach((r, n) => {
      if (n % 5 === 0) expect(r).toMatchObject({ outcome: "failed", status: 503, error: `HTTP 503: ${n}` });
      else expect(r).toMatchObject({ outcome: "delivered", status: 200 });
    });
    expect(server.seen).toHaveLength(60);
  });
});
