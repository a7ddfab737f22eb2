import http from "node:http";
import https from "node:https";
import type { AddressInfo } from "node:net";
import type { TLSSocket } from "node:tls";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Agent, request } from "undici";
import { AddressGuard, BlockedAddressError, findBlockedAddressError } from "../../shared/delivery/ssrf-guard";
import { TLS_CERT, TLS_KEY } from "../support/tls-fixture";

// Everything here stays on 127.0.0.1: names are answered by injected resolvers, and blocked
// addresses (10.0.0.1, 93.184.216.34 next to a blocked one) are refused before any dial.

interface TestServer {
  readonly port: number;
  /** Connections the server accepted. */
  connections: number;
  /** TLS server names (SNI) the server saw. */
  readonly serverNames: (string | false | null)[];
  close(): Promise<void>;
}

async function startServer(kind: "http" | "https"): Promise<TestServer> {
  const handler: http.RequestListener = (_req, res) => res.end("hello from loopback");
  const server = kind === "http" ? http.createServer(handler) : https.createServer({ key: TLS_KEY, cert: TLS_CERT }, handler);
  const state = { connections: 0, serverNames: [] as (string | false | null)[] };
  server.on("connection", () => state.connections++);
  server.on("secureConnection", (socket: TLSSocket) => state.serverNames.push(socket.servername));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(state, {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}

/** The request's rejection, which must carry a BlockedAddressError somewhere in its cause chain. */
async function refusal(promise: Promise<unknown>): Promise<BlockedAddressError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, "the request should have been refused").toBeDefined();
  const blocked = findBlockedAddressError(error);
  expect(blocked, `expected a BlockedAddressError in the cause chain of ${String(error)}`).toBeInstanceOf(BlockedAddressError);
  return blocked!;
}

describe("AddressGuard.dispatcher against loopback servers", () => {
  let server: TestServer;
  const agents: Agent[] = [];
  const track = (agent: Agent) => (agents.push(agent), agent);

  beforeEach(async () => {
    server = await startServer("http");
  });
  afterEach(async () => {
    await Promise.all(agents.splice(0).map((agent) => agent.destroy()));
    await server.close();
  });

  it("reaches an allowlisted loopback server", async () => {
    const dispatcher = track(new AddressGuard({ allowedCidrs: ["127.0.0.0/8"] }).dispatcher({ connectTimeout: 5_000 }));
    const response = await request(`http://127.0.0.1:${server.port}/hook`, { method: "POST", body: "{}", dispatcher });
    expect(response.statusCode).toBe(200);
    expect(await response.body.text()).toBe("hello from loopback");
    expect(server.connections).toBe(1);
  });

  it.each(["127.0.0.1", "0x7f.1", "2130706433", "[::ffff:127.0.0.1]"])(
    "refuses the IP-literal host %s without the allowlist, before dialling",
    async (host) => {
      const dispatcher = track(new AddressGuard().dispatcher());
      const blocked = await refusal(request(`http://${host}:${server.port}/hook`, { dispatcher }));
      expect(blocked.range).toBe("127.0.0.0/8");
      expect(blocked.reason).toContain("loopback (127.0.0.0/8)");
      expect(server.connections).toBe(0);
    },
  );

  it("refuses a name that resolves to loopback without the allowlist", async () => {
    const dispatcher = track(new AddressGuard({ resolve: async () => ["127.0.0.1"] }).dispatcher());
    const blocked = await refusal(request(`http://webhook.test:${server.port}/hook`, { dispatcher }));
    expect(blocked.host).toBe("webhook.test");
    expect(blocked.address).toBe("127.0.0.1");
    expect(blocked.message).toContain('webhook host "webhook.test" resolves to 127.0.0.1, which is loopback (127.0.0.0/8)');
    expect(server.connections).toBe(0);
  });

  it("refuses a name that resolves to a public and a loopback address", async () => {
    const dispatcher = track(new AddressGuard({ resolve: async () => ["93.184.216.34", "127.0.0.1"] }).dispatcher());
    const blocked = await refusal(request(`http://mixed.test:${server.port}/hook`, { dispatcher }));
    expect(blocked.address).toBe("127.0.0.1");
    expect(blocked.message).toContain("one of its 2 addresses: 93.184.216.34, 127.0.0.1");
    expect(server.connections).toBe(0);
  });

  it("checks the address at every connection, so DNS rebinding is refused", async () => {
    const answers = [["127.0.0.1"], ["10.0.0.1"]];
    const asked: string[] = [];
    const guard = new AddressGuard({
      allowedCidrs: ["127.0.0.0/8"],
      resolve: async (hostname) => {
        asked.push(hostname);
        return answers[asked.length - 1] ?? ["10.0.0.1"];
      },
    });
    // pipelining 0 turns keep-alive off, so the second request needs a second connection.
    const dispatcher = track(guard.dispatcher({ pipelining: 0, connectTimeout: 5_000 }));
    const url = `http://rebind.test:${server.port}/hook`;

    const first = await request(url, { dispatcher });
    expect(first.statusCode).toBe(200);
    await first.body.text();
    expect(server.connections).toBe(1);

    const blocked = await refusal(request(url, { dispatcher }));
    expect(blocked.host).toBe("rebind.test");
    expect(blocked.address).toBe("10.0.0.1");
    expect(blocked.range).toBe("10.0.0.0/8");
    expect(asked).toEqual(["rebind.test", "rebind.test"]);
    expect(server.connections).toBe(1);
  });

  it("with the allowlist, reaches a name whose addresses are all allowed", async () => {
    const guard = new AddressGuard({ allowedCidrs: ["127.0.0.0/8", "::1/128"], resolve: async () => ["127.0.0.1"] });
    const dispatcher = track(guard.dispatcher());
    const response = await request(`http://webhook.test:${server.port}/hook`, { dispatcher });
    expect(response.statusCode).toBe(200);
    await response.body.text();
  });
});

describe("AddressGuard.dispatcher over TLS", () => {
  let server: TestServer;
  let dispatcher: Agent | undefined;

  beforeEach(async () => {
    server = await startServer("https");
  });
  afterEach(async () => {
    await dispatcher?.destroy();
    await server.close();
  });

  it("dials the checked address but keeps the hostname for SNI and certificate checks", async () => {
    const guard = new AddressGuard({ allowedCidrs: ["127.0.0.0/8"], resolve: async () => ["127.0.0.1"] });
    dispatcher = guard.dispatcher({ connect: { ca: TLS_CERT } });
    // The certificate is only valid for webhook.test: success proves it was verified against the name.
    const response = await request(`https://webhook.test:${server.port}/hook`, { dispatcher });
    expect(response.statusCode).toBe(200);
    expect(await response.body.text()).toBe("hello from loopback");
    expect(server.serverNames).toEqual(["webhook.test"]);
  });

  it("refuses a TLS host that resolves to a blocked address before the handshake", async () => {
    const guard = new AddressGuard({ resolve: async () => ["127.0.0.1"] });
    dispatcher = guard.dispatcher({ connect: { ca: TLS_CERT } });
    const blocked = await refusal(request(`https://webhook.test:${server.port}/hook`, { dispatcher }));
    expect(blocked.address).toBe("127.0.0.1");
    expect(server.connections).toBe(0);
  });
});
