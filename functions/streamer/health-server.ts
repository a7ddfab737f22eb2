import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";

/** Serves `GET /health` on `host` (HEALTH_HOST): 200 with the report when healthy, 503 when not. */
export async function startHealthServer(port: number, report: () => { healthy: boolean } & Record<string, unknown>, host: string): Promise<{ port: number; close(): Promise<void> }> {
  const server: Server = createServer((request, response) => {
    if (request.method !== "GET" || (request.url ?? "").split("?")[0] !== "/health") {
      response.writeHead(404, { "content-type": "text/plain; charset=utf-8" }).end("not found; try GET /health");
      return;
    }
    const body = report();
    response.writeHead(body.healthy ? 200 : 503, { "content-type": "application/json" }).end(JSON.stringify(body));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
