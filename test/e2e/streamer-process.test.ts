import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { afterEach, describe, expect, it } from "vitest";
import { request } from "undici";
import { startLocalEventBridge, type LocalEventBridge } from "../../infra/local/eventbridge/local-eventbridge";
import { freePort } from "../../infra/local/free-port";
import { createEventFactory } from "../../infra/local/nomad/fixture-frames";
import { startNomadProtocolServer, type NomadProtocolServer } from "../../infra/local/nomad/protocol-server";
import { DynamoLease } from "../../shared/streamer/lease";
import { DynamoCheckpointStore } from "../../shared/streamer/checkpoint-store";
import { newStreamerTable } from "../streamer-state/streamer-fixtures";
import { startNodeProcess } from "../support/local-runtime-process";
import { uniqueName } from "../support/names";
import { until } from "../support/until";

const factory = createEventFactory({ fixturesDir: null });
const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});


/** The streamer's entry as its own process, with the test's stand-ins in its environment. */
function startProcess(env: Record<string, string>) {
  const proc = startNodeProcess("functions/streamer/index.ts", { ...process.env, POWERTOOLS_LOG_LEVEL: "WARN", ...env });
  cleanups.push(() => proc.stop("SIGKILL"));
  return { ...proc, healthPort: Number(env.HEALTH_PORT), exit: proc.exited() };
}

async function health(port: number): Promise<{ status: number; body: Record<string, unknown> } | undefined> {
  try {
    const response = await request(`http://127.0.0.1:${port}/health`);
    return { status: response.statusCode, body: (await response.body.json()) as Record<string, unknown> };
  } catch {
    return undefined;
  }
}

async function setup() {
  const nomad: NomadProtocolServer = await startNomadProtocolServer({ era: "hijacked", heartbeatMs: 200 });
  const bus: LocalEventBridge = await startLocalEventBridge({ busNames: ["nomad"] });
  cleanups.push(() => nomad.close(), () => bus.close());
  const table = await newStreamerTable();
  const cluster = uniqueName("c");
  const env = async () => ({
    NOMAD_ADDR: nomad.url,
    AWS_ENDPOINT_URL_EVENTBRIDGE: bus.endpoint,
    EVENT_BUS_NAME: "nomad",
    STREAMER_TABLE: table.tableName,
    STREAMER_CLUSTER: cluster,
    LEASE_DURATION_SECONDS: "3",
    STREAM_LIVENESS_SECONDS: "5",
    HEALTH_PORT: String(await freePort()),
  });
  const ids = () => new Set(bus.accepted().map((e) => JSON.parse(e.detail).id as string));
  const observer = new DynamoLease({ tableName: table.tableName, client: new DynamoDBClient({}), cluster, holder: "observer" });
  return { nomad, bus, table, cluster, env, ids, observer };
}

describe("streamer process (node functions/streamer/index.ts)", () => {
  it("exits 2 naming a missing variable", async () => {
    const p = startProcess({ HEALTH_PORT: "0", EVENT_BUS_NAME: "", STREAMER_TABLE: "t" });
    expect(await p.exit).toBe(2);
    expect(p.output()).toContain("Environment variable EVENT_BUS_NAME is required");
  });

  it("streams, reports health, and on SIGTERM flushes, checkpoints and releases the lease", async () => {
    const w = await setup();
    for (let i = 0; i < 5; i++) w.nomad.publish(factory.jobRegistered({ jobId: `j${i}`, namespace: "default" }));
    const p = startProcess(await w.env());
    await until(() => w.ids().size === 10);
    const report = await health(p.healthPort);
    expect(report?.status).toBe(200);
    expect(report?.body).toMatchObject({ healthy: true, role: "active", leaseHeld: true, connected: true, cluster: w.cluster });
    w.nomad.publish(factory.nodeRegistration({ nodeId: "last" }));
    await until(() => w.ids().size === 11);
    const stopped = Date.now();
    p.child.kill("SIGTERM");
    expect(await p.exit).toBe(0);
    expect(Date.now() - stopped).toBeLessThan(25_000);
    const lease = await w.observer.describe();
    expect(lease?.expiresAt).toBe(0);
    const store = new DynamoCheckpointStore({ tableName: w.table.tableName, client: w.table.client, cluster: w.cluster, lease: w.observer });
    expect((await store.load())?.index).toBeGreaterThanOrEqual(w.nomad.emitted()[8]!.Index);
  }, 60_000);

  it("one of two streamers publishes; when it is killed, the standby takes over within the lease", async () => {
    const w = await setup();
    const a = startProcess(await w.env());
    await until(async () => (await health(a.healthPort))?.body.role === "active");
    const b = startProcess(await w.env());
    await until(async () => (await health(b.healthPort))?.body.role === "standby");
    for (let i = 0; i < 3; i++) w.nomad.publish(factory.nodeRegistration({ nodeId: `n${i}` }));
    await until(() => w.ids().size === 3);
    expect((await health(b.healthPort))?.body.role).toBe("standby");
    a.child.kill("SIGKILL");
    const killedAt = Date.now();
    await until(async () => (await health(b.healthPort))?.body.role === "active", 15_000);
    expect(Date.now() - killedAt).toBeLessThan(3_000 + 2_000);
    for (let i = 3; i < 6; i++) w.nomad.publish(factory.nodeRegistration({ nodeId: `n${i}` }));
    await until(() => w.ids().size === 6);
    b.child.kill("SIGTERM");
    expect(await b.exit).toBe(0);
  }, 90_000);
});
