import { spawn } from "node:child_process";
import { hash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { startDynamoDbLocal } from "../../infra/local/dynamodb-local";
import { freePort } from "../../infra/local/free-port";
import { localAwsEnvironment } from "../../infra/local/local-aws";
import { createEventFactory } from "../../infra/local/nomad/fixture-frames";
import { startNomadProtocolServer } from "../../infra/local/nomad/protocol-server";
import { putEventsBody } from "../../shared/aws/put-events-sender";
import { putEventsEntrySize } from "../../shared/eventbridge/entry-size";
import { scanFrame } from "../../shared/nomad/frame-scan";
import { busEntryOfScanned, type BusEntry } from "../../shared/streamer/event-contract";
import { EventIdAssigner } from "../../shared/streamer/event-id";
import { ensureStreamerTable } from "../../shared/streamer/streamer-table";
import { buildAll } from "../../scripts/build";
import { cpuSeconds, report } from "./harness";
import { startPutEventsEndpointProcess } from "./put-events-endpoint-process";

const factory = createEventFactory();

/** Peak resident memory of a process so far (Linux's VmHWM), in MB. */
function peakRssMb(pid: number): number {
  const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return match ? Number(match[1]) / 1024 : Number.NaN;
}

/**
 * Extra Node flags for the streamer process, for investigating a run, e.g.
 * `BENCH_STREAMER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" npm run bench -- streamer`.
 */
const streamerNodeArgs = (process.env.BENCH_STREAMER_NODE_ARGS ?? "").split(" ").filter(Boolean);

/**
 * The container's NODE_OPTIONS (functions/streamer/Dockerfile; none today), so the figures are
 * those of what ships: `ENV NODE_OPTIONS=…` or a continued `ENV` line, the value quoted or not.
 */
function containerNodeOptions(root: string): string {
  const match = /^\s*(?:ENV\s+)?NODE_OPTIONS=(?:"([^"]*)"|(\S+))/m.exec(readFileSync(join(root, "functions/streamer/Dockerfile"), "utf8"));
  return match?.[1] ?? match?.[2] ?? "";
}

/**
 * Events per second through the CPU work the streamer must do for each event whatever its
 * I/O, with the streamer's own functions, on the lines as the stream gives them (Buffers):
 * scan each line, assign the event IDs, build each bus entry and its size, and for every 10
 * entries the PutEvents body, its UTF-8 bytes and their SHA-256 (SigV4's payload hash). Best
 * of 3 rounds. Against the bare parse this is the ceiling of the throughput ratio.
 */
function publishWorkRate(ndjson: string): number {
  const lines = ndjson.split("\n").map((line) => Buffer.from(line));
  let best = 0;
  let sink = 0;
  for (let round = 0; round < 3; round++) {
    const ids = new EventIdAssigner("bench");
    const t = performance.now();
    let events = 0;
    let batch: BusEntry[] = [];
    for (const line of lines) {
      const frame = scanFrame(line)!;
      const frameEvents = frame.Events ?? [];
      const eventIds = ids.assign(frame.Index, frameEvents);
      for (let i = 0; i < frameEvents.length; i++) {
        const entry = busEntryOfScanned("nomad", eventIds[i]!, "bench", frame.Index, frameEvents[i]!);
        sink += putEventsEntrySize(entry);
        batch.push(entry);
        if (batch.length === 10) {
          sink += hash("sha256", Buffer.from(putEventsBody(batch)), "hex").length;
          batch = [];
        }
      }
      events += frameEvents.length;
    }
    if (batch.length > 0) sink += hash("sha256", Buffer.from(putEventsBody(batch)), "hex").length;
    best = Math.max(best, events / ((performance.now() - t) / 1000));
  }
  if (sink === 0) throw new Error("the publishing work produced nothing");
  return best;
}

/**
 * The streamer runs as it does in its container: the esbuild bundle, its own process, the
 * container's NODE_OPTIONS, if it sets any. The
 * local PutEvents endpoint runs in a process of its own (put-events-endpoint-process.ts),
 * where the times are taken as calls are accepted; the Nomad protocol server runs in this
 * process, which does nothing else while the streamer streams. All on loopback.
 */
export async function runStreamerBench(): Promise<boolean> {
  const root = resolve(import.meta.dirname, "../..");
  const nodeOptions = containerNodeOptions(root);
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
      // The rate is taken in the endpoint's process from the first call accepted on the bus to
      // the last, so the streamer's start (module loading, the lease, the checkpoint read) is
      // not counted as streaming; from spawn is noted too.
      const bus = await startPutEventsEndpointProcess(["nomad"]);
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
      const floor = publishWorkRate(ndjson);
      notes.push(
        `the publishing work alone, in this process on the same lines, no I/O (scan, event IDs, entries and sizes, PutEvents bodies of 10, ` +
          `UTF-8, SHA-256 for SigV4; best of 3): ${floor.toFixed(0)} events/s, ${(1e6 / floor).toFixed(1)} µs/event = ${(floor / best).toFixed(2)} × the bare parse: ` +
          `the most the ratio could be if reading the socket, sending, the endpoint, the checkpoint and the process's scheduling and GC cost nothing`,
      );
      const child = spawn(process.execPath, [...streamerNodeArgs, join(outDir, "streamer", "index.mjs")], {
        env: { ...process.env, ...aws, NODE_OPTIONS: nodeOptions, NOMAD_ADDR: nomad.url, AWS_ENDPOINT_URL_EVENTBRIDGE: bus.endpoint, EVENT_BUS_NAME: "nomad", STREAMER_TABLE: table, HEALTH_PORT: String(await freePort()), POWERTOOLS_LOG_LEVEL: "ERROR", EVENTBRIDGE_MAX_IN_FLIGHT: "8" },
        stdio: "ignore",
      });
      const streamerPid = child.pid!;
      const spawnedAt = performance.timeOrigin + performance.now();
      const reaching = bus.waitFor(frames, 180_000);
      const start = await bus.first;
      const startCpu = { streamer: cpuSeconds(streamerPid), endpoint: cpuSeconds(bus.pid), bench: process.cpuUsage() };
      const done = await reaching;
      const streamerCpu = cpuSeconds(streamerPid) - startCpu.streamer;
      const endpointCpu = cpuSeconds(bus.pid) - startCpu.endpoint;
      const benchCpu = process.cpuUsage(startCpu.bench);
      const seconds = (done.at - start.at) / 1000;
      const rate = (frames - start.count) / seconds;
      notes.push(`throughput run: streamer peak RSS ${peakRssMb(streamerPid).toFixed(0)} MB; spawn to first event on the bus ${(start.at - spawnedAt).toFixed(0)} ms; from spawn to the last event ${(frames / ((done.at - spawnedAt) / 1000)).toFixed(0)} events/s`);
      // Which side is the bottleneck: a process near 100 % of a core is saturated.
      const share = (cpu: number) => `${((cpu / seconds) * 100).toFixed(0)} %`;
      notes.push(
        `throughput run CPU (share of one core while streaming, ${seconds.toFixed(2)} s): streamer process ${share(streamerCpu)} ` +
          `(${((streamerCpu * 1e6) / (frames - start.count)).toFixed(0)} µs/event; bare parse ${(1e6 / best).toFixed(0)} µs/event), ` +
          `PutEvents endpoint process ${share(endpointCpu)} (${((endpointCpu * 1e6) / (frames - start.count)).toFixed(0)} µs/event), ` +
          `bench process (Nomad server) ${share((benchCpu.user + benchCpu.system) / 1e6)}; load average ${loadavg()[0]!.toFixed(1)} on ${availableParallelism()} cores`,
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
      const bus = await startPutEventsEndpointProcess(["nomad"]);
      const table = `bench-memory-${Date.now()}`;
      await ensureStreamerTable(client, table);
      const child = spawn(process.execPath, [...streamerNodeArgs, join(outDir, "streamer", "index.mjs")], {
        env: { ...process.env, ...aws, NODE_OPTIONS: nodeOptions, NOMAD_ADDR: nomad.url, AWS_ENDPOINT_URL_EVENTBRIDGE: bus.endpoint, EVENT_BUS_NAME: "nomad", STREAMER_TABLE: table, HEALTH_PORT: String(await freePort()), POWERTOOLS_LOG_LEVEL: "ERROR", EVENTBRIDGE_MAX_IN_FLIGHT: "8", EVENTBRIDGE_MAX_ENTRY_BYTES: "1048576" },
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
      await bus.waitFor(sent, 120_000);
      steadyPeak = peakRssMb(child.pid!);
      const bigStart = performance.now();
      nomad.publish(factory.planResult({ jobId: "big", namespace: "default", allocations: 4_000 }));
      const big = nomad.emitted().at(-1)!;
      const bigMb = JSON.stringify(big).length / 1024 / 1024;
      await bus.waitFor(sent + big.Events.length, 120_000);
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
