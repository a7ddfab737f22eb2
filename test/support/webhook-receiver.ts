import { Webhook } from "standardwebhooks";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";

export interface ReceivedRequest {
  readonly n: number;
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
  readonly at: number;
}

/** How the receiver answers one request: a status (with headers and body), a hang, or a reset connection. */
export type Reply = { status: number; headers?: Record<string, string>; body?: string } | "hang" | "reset";

/**
 * A real webhook server on 127.0.0.1 that records every request and answers as told.
 * `received` holds every request; `accepted` those answered with 2xx.
 */
export async function startWebhookReceiver(reply: (request: ReceivedRequest) => Reply = () => ({ status: 200 })) {
  const received: ReceivedRequest[] = [];
  const accepted: ReceivedRequest[] = [];
  let answer = reply;
  let connections = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const request: ReceivedRequest = { n: received.length + 1, method: req.method ?? "", url: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks).toString("utf8"), at: Date.now() };
      received.push(request);
      const r = answer(request);
      if (r === "hang") return; // never answers; the client's timeout must end it
      if (r === "reset") {
        req.socket.destroy();
        return;
      }
      if (r.status >= 200 && r.status < 300) accepted.push(request);
      res.writeHead(r.status, r.headers ?? {});
      res.end(r.body ?? "");
    });
  });
  server.on("connection", () => connections++);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/hook`,
    port,
    received,
    accepted,
    get connections() {
      return connections;
    },
    setReply(next: (request: ReceivedRequest) => Reply) {
      answer = next;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
export type WebhookReceiver = Awaited<ReturnType<typeof startWebhookReceiver>>;

/**
 * The bodies of the requests `receiver` accepted, each verified once with the official
 * Standard Webhooks library (it throws on a bad signature) as it is first asked for: tests
 * poll this, and a request is not verified again on every poll.
 */
export function verifiedBodies<T>(receiver: Pick<WebhookReceiver, "accepted">, secret: string): () => Array<{ webhookId: string; body: T }> {
  const verified: Array<{ webhookId: string; body: T }> = [];
  const webhook = new Webhook(secret);
  return () => {
    for (const r of receiver.accepted.slice(verified.length)) verified.push({ webhookId: String(r.headers["webhook-id"]), body: webhook.verify(r.body, r.headers as Record<string, string>) as T });
    return verified;
  };
}
