import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { startDynamoDbLocal } from "../../infra/local/dynamodb-local";
import { startLocalEventBridge } from "../../infra/local/eventbridge/local-eventbridge";
import { freePort } from "../../infra/local/free-port";
import { localAwsEnvironment } from "../../infra/local/local-aws";
import { createEventFactory } from "../../infra/local/nomad/fixture-frames";
import { startNomadProtocolServer } from "../../infra/local/nomad/protocol-server";
import { ensureStreamerTable } from "../../shared/streamer/streamer-table";
import { buildAll } from "../../scripts/build";
import { cpuSeconds, report } from "./harness";
import { until } from "../support/until";

const factory = createEventFactory();

/** Peak resident memory of a process so far (Linux's VmHWM), in MB. */
function peakRssMb(pid: number): number {
  const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return match ? Number(match[1]) / 1024 : Number.NaN;
}

/** CPU time (user + system) a process has used so far, in seconds (Linux's /proc/<pid>/stat). */

/**
 * Extra Node flags for the streamer process, for investigating a run, e.g.
 * `BENCH_STREAMER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" npm run bench -- streamer`.
 */
const streamerNodeArgs = (process.env.BENCH_STREAMER_NODE_ARGS ?? "").split(" ").filter(Boolean);


/**
 * The streamer runs as it does in its container: the esbuild bundle, its own process. The
 * Nomad protocol server and the local PutEvents endpoint run in this process, on loopback.
 */
export async function runStreamerBench(): Promise<boolean> {
  const root = resolve(import.meta.dirname, "../..");
  const outDir = mkdtempSync(join(tmpdir(), "nes-bench-"));
  await buildAll(root, outDir);
  const dynamo = await startDynamoDbLocal();
  const aws = localAwsEnvironment({ dynamodb: dynamo.endpoint });
  Object.assign(process.env, aws);
  const client = new DynamoDBClient({});
  const figures: Parameters<typeof report>[1][number][] = [];
  let steadyPeak = Number.NaN;
  const notes: string[] = [];
  try {
    // 1. Throughput: a backlog of allocation updates streamed from index 0 onto the bus.
    const frames = 20_000;
    {
      const nomad = await startNomadProtocolServer({ era: "hijacked", heartbeatMs: 30_000, bufferSize: 1_000_000 });
      // Counted as accepted, not by copying `accepted()` on every poll: the bench process serves the bus too.
      // The rate is taken from the first call on the bus to the last, so the process's start (module
      // loading, the lease, the checkpoint read) is not counted as streaming; from spawn is noted too.
      let acceptedCount = 0;
      let first: { at: number; count: number; streamerCpu: number; benchCpu: NodeJS.CpuUsage } | undefined;
      let streamerPid = 0;
      const bus = await startLocalEventBridge({
        busNames: ["nomad"],
        onAccepted: (events) => {
          first ??= { at: performance.now(), count: events.length, streamerCpu: cpuSeconds(streamerPid), benchCpu: process.cpuUsage() };
          acceptedCount += events.length;
        },
      });
      const table = `bench-throughput-${Date.now()}`;
      await ensureStreamerTable(client, table);
      for (let i = 0; i < frames; i++) nomad.publish(factory.allocationUpdated({ allocId: `a${i}`, jobId: `j${i % 50}`, namespace: "default" }));
      const ndjson = nomad.emitted().map((f) => JSON.stringify({ Index: f.Index, Events: f.Events })).join("\n");
      // Baseline: parsing the same bytes as bare NDJSON (best of 3).
      let best = 0;
      for (let round = 0; round < 3; round++) {
        const t = performance.now();
        let events = 0;
        for (const line of ndjson.split("\n")) events += (JSON.parse(line) as { Events: unknown[] }).Events.length;
        best = Math.max(best, events / ((performance.now() - t) / 1000));
      }
      const child = spawn(process.execPath, [...streamerNodeArgs, join(outDir, "streamer", "index.mjs")], {
        env: { ...process.env, ...aws, NOMAD_ADDR: nomad.url, AWS_ENDPOINT_URL_EVENTBRIDGE: bus.endpoint, EVENT_BUS_NAME: "nomad", STREAMER_TABLE: table, HEALTH_PORT: String(await freePort()), POWERTOOLS_LOG_LEVEL: "ERROR", EVENTBRIDGE_MAX_IN_FLIGHT: "8" },
        stdio: "ignore",
      });
      streamerPid = child.pid!;
      const spawned = performance.now();
      await until(() => acceptedCount >= frames, 180_000);
      const done = performance.now();
      const start = first!;
      const seconds = (done - start.at) / 1000;
      const rate = (frames - start.count) / seconds;
      const benchCpu = process.cpuUsage(start.benchCpu);
      const streamerCpu = cpuSeconds(streamerPid) - start.streamerCpu;
      notes.push(`throughput run: streamer peak RSS ${peakRssMb(streamerPid).toFixed(0)} MB; spawn to first event on the bus ${(start.at - spawned).toFixed(0)} ms; from spawn to the last event ${(frames / ((done - spawned) / 1000)).toFixed(0)} events/s`);
      // Which side is the bottleneck: a process near 100 % of a core is saturated.
      notes.push(
        `throughput run CPU (share of one core while streaming, ${seconds.toFixed(1)} s): streamer process ${((streamerCpu / seconds) * 100).toFixed(0)} % ` +
          `(${((streamerCpu * 1e6) / (frames - start.count)).toFixed(0)} µs/event; bare parse ${(1e6 / best).toFixed(0)} µs/event), ` +
          `bench process (Nomad server + PutEvents endpoint) ${(((benchCpu.user + benchCpu.system) / 1e6 / seconds) * 100).toFixed(0)} %`,
      );
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
      await nomad.close();
      await bus.close();
      figures.push({ name: `events/s, Nomad stream → streamer process → local PutEvents, ${frames} events (vs bare NDJSON parse of the same bytes)`, value: rate, baseline: best, unit: "events/s", goal: { atLeast: 0.6 } });
    }

    // 2. Memory: a steady 5,000 events/s for 10 s, then one ~10 MB PlanResult frame.
    {
      const nomad = await startNomadProtocolServer({ era: "hijacked", heartbeatMs: 30_000, bufferSize: 1_000_000 });
      let acceptedCount = 0;
      const bus = await startLocalEventBridge({ busNames: ["nomad"], onAccepted: (events) => void (acceptedCount += events.length) });
      const table = `bench-memory-${Date.now()}`;
      await ensureStreamerTable(client, table);
      const child = spawn(process.execPath, [...streamerNodeArgs, join(outDir, "streamer", "index.mjs")], {
        env: { ...process.env, ...aws, NOMAD_ADDR: nomad.url, AWS_ENDPOINT_URL_EVENTBRIDGE: bus.endpoint, EVENT_BUS_NAME: "nomad", STREAMER_TABLE: table, HEALTH_PORT: String(await freePort()), POWERTOOLS_LOG_LEVEL: "ERROR", EVENTBRIDGE_MAX_IN_FLIGHT: "8", EVENTBRIDGE_MAX_ENTRY_BYTES: "1048576" },
        stdio: "ignore",
      });
      await new Promise((r) => setTimeout(r, 1_500));
      const idle = peakRssMb(child.pid!);
      let sent = 0;
      const start = Date.now();
      while (Date.now() - start < 10_000) {
        const due = Math.floor(((Date.now() - start) / 1000) * 5_000);
        while (sent < due) nomad.publish(factory.allocationUpdated({ allocId: `m${sent++}`, jobId: "mem", namespace: "default" }));
        await new Promise((r) => setTimeout(r, 5));
      }
      const sustained = sent / ((Date.now() - start) / 1000);
      await until(() => acceptedCount >= sent, 120_000);
      steadyPeak = peakRssMb(child.pid!);
      const bigStart = performance.now();
      nomad.publish(factory.planResult({ jobId: "big", namespace: "default", allocations: 4_000 }));
      const big = nomad.emitted().at(-1)!;
      const bigMb = JSON.stringify(big).length / 1024 / 1024;
      await until(() => acceptedCount >= sent + big.Events.length, 120_000);
      const bigMs = performance.now() - bigStart;
      const bigPeak = peakRssMb(child.pid!);
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
      await nomad.close();
      await bus.close();
      notes.push(`streamer RSS idle ${idle.toFixed(0)} MB; peak ${steadyPeak.toFixed(0)} MB at ${sustained.toFixed(0)} events/s offered for 10 s (goal ≤ 150 MB)`);
      notes.push(`one ${bigMb.toFixed(1)} MB PlanResult frame (${big.Events.length} events) onto the bus in ${bigMs.toFixed(0)} ms; peak RSS then ${bigPeak.toFixed(0)} MB`);
    }
  } finally {
    client.destroy();
    await dynamo.stop();
    rmSync(outDir, { recursive: true, force: true });
  }
  const ok = report("streamer", figures);
  for (const note of notes) process.stdout.write(`- ${note}\n`);
  return ok && steadyPeak <= 150;
}
