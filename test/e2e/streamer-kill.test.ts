import { spawn } from "node:child_process";
import { join } from "node:path";
import { describe, expect, inject, it } from "vitest";
import { startLocalEventBridge } from "../../infra/local/eventbridge/local-eventbridge";
import { createEventFactory } from "../../infra/local/nomad/fixture-frames";
import { startNomadProtocolServer } from "../../infra/local/nomad/protocol-server";
import { EventIdAssigner } from "../../shared/streamer/event-id";
import { newStreamerTable } from "../streamer-state/streamer-fixtures";
import { uniqueName } from "../support/names";
import { Rng } from "../support/rng";

const KILLS = 20;
const factory = createEventFactory({ fixturesDir: null });

const SEED = 20261121;

// The bundle is what runs in the container; SIGKILL gives it no chance to flush or checkpoint.
describe(`streamer under SIGKILL (seed ${SEED})`, () => {
  // Built once for the run by the global setup.
  const outDir = inject("bundleDir");

  it(`publishes exactly the emitted events, with stable IDs, across ${KILLS} kills`, async () => {
    const rng = new Rng(SEED);
    // A buffer large enough that nothing is evicted: every emitted event must reach the bus.
    const nomad = await startNomadProtocolServer({ era: "hijacked", heartbeatMs: 200, bufferSize: 100_000 });
    const bus = await startLocalEventBridge({ busNames: ["nomad"] });
    const table = await newStreamerTable();
    const cluster = uniqueName("kill");
    let n = 0;
    const emitter = setInterval(() => {
      const i = n++;
      nomad.publish(i % 3 === 0 ? factory.jobRegistered({ jobId: `j${i}`, namespace: "default" }) : factory.allocationUpdated({ allocId: `a${i}`, jobId: `j${i % 7}`, namespace: "default" }));
    }, 10);
    const env = {
      ...process.env,
      NOMAD_ADDR: nomad.url,
      AWS_ENDPOINT_URL_EVENTBRIDGE: bus.endpoint,
      EVENT_BUS_NAME: "nomad",
      STREAMER_TABLE: table.tableName,
      STREAMER_CLUSTER: cluster,
      LEASE_DURATION_SECONDS: "1",
      HEALTH_PORT: "0",
      POWERTOOLS_LOG_LEVEL: "ERROR",
    };
    const run = () => {
      const child = spawn(process.execPath, [join(outDir, "streamer", "index.mjs")], { env, stdio: "ignore" });
      const exited = new Promise<void>((done) => child.once("exit", () => done()));
      return { child, exited };
    };
    let progressed = 0;
    try {
      for (let kill = 0; kill < KILLS; kill++) {
        const before = bus.accepted().length;
        const p = run();
        // Kill it mid-stream: once it has taken the lease (up to 1 s after the last kill) and
        // published something, after a further random delay.
        const deadline = Date.now() + 10_000;
        while (bus.accepted().length === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
        await new Promise((r) => setTimeout(r, rng.next() * 500));
        p.child.kill("SIGKILL");
        await p.exited;
        if (bus.accepted().length > before) progressed++;
      }
      clearInterval(emitter);
      const last = run();
      const ids = new EventIdAssigner(cluster);
      const expected = new Set(nomad.emitted().flatMap((f) => ids.assign(f.Index, f.Events)));
      const deadline = Date.now() + 30_000;
      const onBus = () => new Set(bus.accepted().map((e) => JSON.parse(e.detail).id as string));
      while (onBus().size < expected.size && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      last.child.kill("SIGTERM");
      await last.exited;
      const published = onBus();
      expect(expected.size).toBeGreaterThan(500);
      // Nothing missing, and nothing that is not an emitted event's ID: a re-send under another ID would show here.
      expect([...expected].filter((id) => !published.has(id))).toEqual([]);
      expect([...published].filter((id) => !expected.has(id))).toEqual([]);
      // The kills landed mid-stream: (nearly) every killed process had published something.
      expect(progressed).toBeGreaterThanOrEqual(KILLS - 2);
    } finally {
      clearInterval(emitter);
      await nomad.close();
      await bus.close();
    }
  }, 180_000);
});
