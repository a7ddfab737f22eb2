import { spawn, type ChildProcess } from "node:child_process";
import { hash } from "node:crypto";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { Logger } from "@aws-lambda-powertools/logger";
import { Agent, request } from "undici";
import { createEventFactory } from "../../infra/local/nomad/fixture-frames";
import { Deliverer, type DeliveryQueueControl, type QueuedMessage } from "../../shared/delivery/deliverer";
import type { DeliveryAttempt, DeliveryLog } from "../../shared/delivery/delivery-log";
import { DeliveryMessageSchema, deliveryMessage, webhookId } from "../../shared/delivery/delivery-message";
import { DEFAULT_RETRY_POLICY } from "../../shared/delivery/retry-policy";
import { signatureHeaders } from "../../shared/delivery/signature";
import { AddressGuard } from "../../shared/delivery/ssrf-guard";
import { WebhookClient } from "../../shared/delivery/webhook-client";
import { NomadEventSchema, type NomadEvent } from "../../shared/nomad/event";
import type { MetricKind, MetricsSink } from "../../shared/observability/metrics";
import { generateSecret } from "../../shared/sinks/secret";
import type { Sink } from "../../shared/sinks/sink";
import type { SinkStore } from "../../shared/sinks/sink-store";
import type { NomadBusDetail } from "../../shared/streamer/event-contract";
import { USER_AGENT } from "../../shared/version";
import { TLS_CERT, TLS_KEY } from "../support/tls-fixture";
import { cpuSeconds, report, type Figure } from "./harness";

/**
 * Deliveries per second through the deliver path (the real `Deliverer`, `WebhookClient` and
 * the SSRF-guarded undici dispatcher) against a loopback webhook server, as a ratio to raw
 * `undici.request` POSTs of the same bytes to the same server in the same run.
 *
 * - The webhook server is a child process (node:http, 204 at once, keep-alive), so its CPU
 *   does not share the bench's event loop; every arm talks to that one server.
 * - Unit: events delivered per second. Each event is one Nomad Evaluation event (1,433 bytes
 *   as a one-event body `{"Index":…,"Events":[…]}`). 8 sinks, 8 requests in flight in every arm.
 * - Baseline: raw `undici.request` on a keep-alive `undici.Agent`, one POST per event, with
 *   the very body and header names/sizes the deliver path sends for a one-event POST
 *   (signature headers precomputed), answer body dumped. Nothing else.
 * - Deliver arm: `Deliverer.handle()` fed FIFO batches of 10 consecutive messages of one sink
 *   (as the SQS event source hands them over), one batch per sink at a time, so 8 in flight.
 *   With `maxEventsPerRequest: 1` it makes one POST per event: the fair comparison with the
 *   baseline, and the goal figure. With the default (10) consecutive messages are coalesced
 *   into one POST: reported as an extra figure.
 * - DynamoDB (sink store, delivery log) and SQS (retry/dead-letter control) are in-memory
 *   stand-ins: the ratio prices the deliver code path, not AWS round-trips. Metrics are summed in
 *   memory instead of written as EMF on stdout.
 * - Signing: the same uncoalesced deliver arm with `sign` replaced by a function returning
 *   the same header names with fixed values (no HMAC), vs real Standard Webhooks signing
 *   (the goal figure: one HMAC per event, the worst case); the same pair coalesced as an extra.
 *   A floor arm (no goal) runs only the two SHA-256 passes that any HMAC-SHA256 of the body
 *   needs, with the fixed headers: how close to 1 the signing ratio could get on this machine.
 * - Over HTTPS (no goal; how webhooks are reached in practice): a second server of the same
 *   kind behind TLS (the test certificate for `webhook.test`, a P-256 key; the name resolved
 *   to 127.0.0.1 by the guard's injected resolver, the certificate checked against it), with
 *   raw `undici.request`, the deliver arm signed and unsigned at 1 event/POST.
 * - Reference (no goal): the same POSTs through undici's `dispatch` with a bare handler, the
 *   API the deliver path's WebhookClient uses (no response stream), so the report shows the
 *   deliver path against the leanest client too, not only against `undici.request`.
 *
 * Noise: a warm-up of every arm, then ROUNDS rounds in which every arm runs ROUND_MS, in
 * forward order one round and reverse order the next (so no arm always follows the same
 * one), with a full GC before each arm so none pays for another's garbage; each figure is
 * the best round of its arm (median-round ratios and CPU time per event are printed too).
 * `BENCH_DELIVERY_SERVER_NODE_ARGS` passes Node flags to the server process (e.g. --cpu-prof);
 * to profile the deliver path itself: `node --cpu-prof --import tsx test/bench/run.ts delivery`.
 */

const SINKS = 8;
const BATCH = 10;
const ROUNDS = 8;
const ROUND_MS = 1_500;
const WARMUP_MS = 1_000;

/** The webhook server, run as `node -e` (HTTPS when given a key and certificate): counts requests and body bytes, answers 204 when the body is in. */
const SERVER_SOURCE = `
const tls = process.env.BENCH_TLS_KEY ? { key: process.env.BENCH_TLS_KEY, cert: process.env.BENCH_TLS_CERT } : undefined;
let requests = 0, bytes = 0;
const handler = (req, res) => {
  req.on("data", (c) => { bytes += c.length; });
  req.on("end", () => { requests++; res.writeHead(204); res.end(); });
};
const server = tls ? require("node:https").createServer(tls, handler) : require("node:http").createServer(handler);
server.keepAliveTimeout = 60000;
server.listen(0, "127.0.0.1", () => process.send({ port: server.address().port }));
process.on("message", (m) => { if (m === "stats") process.send({ requests, bytes }); });
process.on("disconnect", () => process.exit(0));
`;

interface ServerStats {
  readonly requests: number;
  readonly bytes: number;
}

interface WebhookServer {
  readonly url: string;
  readonly pid: number;
  stats(): Promise<ServerStats>;
  close(): Promise<void>;
}

/** HTTPS: the server presents the test certificate, valid for `webhook.test` only. */
const TLS_HOST = "webhook.test";

async function startServer(kind: "http" | "https" = "http"): Promise<WebhookServer> {
  const nodeArgs = (process.env.BENCH_DELIVERY_SERVER_NODE_ARGS ?? "").split(" ").filter(Boolean);
  const env = kind === "https" ? { ...process.env, BENCH_TLS_KEY: TLS_KEY, BENCH_TLS_CERT: TLS_CERT } : process.env;
  const child: ChildProcess = spawn(process.execPath, [...nodeArgs, "-e", SERVER_SOURCE], { stdio: ["ignore", "inherit", "inherit", "ipc"], env });
  let exited: Error | undefined;
  const waiting = new Set<(error: Error) => void>();
  child.once("exit", (code) => {
    exited = new Error(`the webhook server exited (${code})`);
    for (const fail of waiting) fail(exited);
  });
  const next = <T>() =>
    new Promise<T>((resolve, reject) => {
      if (exited) return reject(exited);
      waiting.add(reject);
      child.once("message", (m) => {
        waiting.delete(reject);
        resolve(m as T);
      });
    });
  const { port } = await next<{ port: number }>();
  return {
    url: kind === "https" ? `https://${TLS_HOST}:${port}/hook` : `http://127.0.0.1:${port}/hook`,
    pid: child.pid!,
    stats: () => {
      const answer = next<ServerStats>();
      child.send("stats");
      return answer;
    },
    close: () => {
      const exited = new Promise((r) => child.once("exit", r));
      child.disconnect();
      return exited.then(() => undefined);
    },
  };
}

/** CPU time (user + system) a process has used so far, in seconds (Linux's /proc/<pid>/stat). */

/** In-memory stand-in for the DynamoDB sink store: the three calls the deliverer makes. */
class MemorySinks implements Pick<SinkStore, "find" | "advanceLatestIndex" | "disable"> {
  readonly sinks = new Map<string, Sink>();
  async find(id: string) {
    return this.sinks.get(id);
  }
  async advanceLatestIndex(id: string, index: number) {
    const sink = this.sinks.get(id);
    if (!sink || sink.LatestIndex >= index) return false;
    this.sinks.set(id, { ...sink, LatestIndex: index });
    return true;
  }
  async disable(id: string, reason: string, now = Date.now()) {
    const sink = this.sinks.get(id);
    if (!sink) return false;
    this.sinks.set(id, { ...sink, Disabled: { Reason: reason, At: now } });
    return true;
  }
}

/** In-memory stand-in for the DynamoDB delivery log: counts what it is given. */
class MemoryLog implements DeliveryLog {
  recorded = 0;
  async recordAll(attempts: readonly DeliveryAttempt[]) {
    this.recorded += attempts.length;
  }
  async list() {
    return { attempts: [] };
  }
  async pending() {
    return undefined;
  }
  async savePending() {}
  async clearPending() {}
}

/** In-memory stand-in for SQS visibility changes and the dead-letter queue: none should happen. */
const queue: DeliveryQueueControl = {
  retryLater: async () => {
    throw new Error("bench: a delivery was retried");
  },
  deadLetter: async () => {
    throw new Error("bench: a delivery was dead-lettered");
  },
};

/** In-memory metrics: totals and sums only (EMF would print to stdout; CountingMetrics keeps lists). */
class SummingMetrics implements MetricsSink {
  readonly totals = new Map<string, number>();
  add(name: string, _kind: MetricKind, value: number): void {
    this.totals.set(name, (this.totals.get(name) ?? 0) + value);
  }
  flush(): void {}
}

/**
 * The same header names as `signatureHeaders`, fixed values of the same length, no HMAC.
 * With `hashing`, it also runs the two SHA-256 passes an HMAC-SHA256 cannot do without (the
 * body, and a 96-byte outer input) and throws their digests away: a floor for any Standard
 * Webhooks signer, which hashes those bytes and a little more (the key block, `id.timestamp.`).
 */
function fakeSign(hashing = false): typeof signatureHeaders {
  const signature = `v1,${Buffer.alloc(32, 1).toString("base64")}`;
  const outer = Buffer.alloc(96, 0x5c);
  return (_secrets, id, timestampSeconds, body) => {
    if (hashing) {
      hash("sha256", body, "binary");
      hash("sha256", outer, "binary");
    }
    return { "webhook-id": id, "webhook-timestamp": String(timestampSeconds), "webhook-signature": signature };
  };
}

interface ArmTotals {
  best: number;
  rates: number[];
  events: number;
  seconds: number;
  benchCpu: number;
  serverCpu: number;
  requests: number;
  bytes: number;
}

type Arm = { readonly name: string; readonly server: WebhookServer; run(deadline: number): Promise<number> };

/** A full GC between arms (`gc` exposed at run time, as the bench runs under tsx without flags). */
function exposedGc(): () => void {
  setFlagsFromString("--expose-gc");
  return runInNewContext("gc") as () => void;
}

export async function runDeliveryBench(): Promise<boolean> {
  // One ~1.3 KB Nomad event: the Evaluation event of a JobRegistered transaction.
  const factory = createEventFactory();
  const template = factory.jobRegistered({ jobId: "web", namespace: "default" })[1]![0]!;
  const server = await startServer();
  const tlsServer = await startServer("https");
  const gc = exposedGc();
  const sinks = new MemorySinks();
  const tlsSinks = new MemorySinks();
  const sinkIds = Array.from({ length: SINKS }, (_, s) => `team-${s}.deploys`);
  for (const id of sinkIds) {
    const sink: Sink = { ID: id, Type: "webhook", Topics: { "*": ["*"] }, Address: server.url, LatestIndex: 0, CreateIndex: 1, ModifyIndex: 1, Secret: generateSecret(), PreviousSecrets: [] };
    sinks.sinks.set(id, sink);
    tlsSinks.sinks.set(id, { ...sink, Address: tlsServer.url });
  }

  // FIFO messages as the fan-out queues them: per sink, batches of 10 consecutive events.
  const BATCHES_PER_SINK = 20;
  const batches: QueuedMessage[][][] = sinkIds.map((sinkId) =>
    Array.from({ length: BATCHES_PER_SINK }, (_, b) =>
      Array.from({ length: BATCH }, (_, m) => {
        const index = 1_000 + b * BATCH + m;
        const event: NomadEvent = NomadEventSchema.parse(JSON.parse(JSON.stringify({ ...template, Index: index })));
        const detail: NomadBusDetail = { id: `${index}-${event.Topic}-${event.Key}`, cluster: "bench", frameIndex: index, event };
        const body = JSON.stringify(deliveryMessage(sinkId, detail));
        return { messageId: `${sinkId}-${index}`, receiptHandle: `rh-${sinkId}-${index}`, groupId: sinkId, body, sentAt: Date.now(), receiveCount: 1 };
      }),
    ),
  );

  // The baseline's requests: byte for byte what the deliver path sends for a one-event POST.
  const rawRequests = batches.flat(2).map((queued) => {
    const message = DeliveryMessageSchema.parse(JSON.parse(queued.body));
    const body = JSON.stringify({ Index: message.detail.event.Index, Events: [message.detail.event] });
    const signed = signatureHeaders([sinks.sinks.get(queued.groupId)!.Secret], webhookId([message.deliveryId]), Math.floor(Date.now() / 1000), body);
    return { body, headers: { "content-type": "application/json", "user-agent": USER_AGENT, ...signed } };
  });
  const eventBytes = rawRequests[0]!.body.length;

  const logger = new Logger({ serviceName: "deliver-bench", logLevel: "ERROR" });
  const log = new MemoryLog();
  const metrics = new SummingMetrics();
  const guard = new AddressGuard({ allowedCidrs: ["127.0.0.0/8"] });
  // As functions/deliver/app.ts builds it (connect timeout 5 s is the config default).
  const webhooks = new WebhookClient({ dispatcher: guard.dispatcher({ connectTimeout: 5_000, keepAliveTimeout: 30_000 }), timeoutMs: 15_000, userAgent: USER_AGENT });
  // Over TLS: the name is checked by the guard (resolved to loopback here) and the certificate against it.
  const tlsGuard = new AddressGuard({ allowedCidrs: ["127.0.0.0/8"], resolve: async () => ["127.0.0.1"] });
  const tlsWebhooks = new WebhookClient({ dispatcher: tlsGuard.dispatcher({ connectTimeout: 5_000, keepAliveTimeout: 30_000, connect: { ca: TLS_CERT } }), timeoutMs: 15_000, userAgent: USER_AGENT });
  const deliverer = (maxEventsPerRequest: number, sign?: typeof signatureHeaders, over: "http" | "https" = "http") =>
    new Deliverer({ sinks: over === "https" ? tlsSinks : sinks, log, webhooks: over === "https" ? tlsWebhooks : webhooks, queue, policy: DEFAULT_RETRY_POLICY, maxEventsPerRequest, logger, metrics, ...(sign ? { sign } : {}) });

  /** An arm that keeps one call in flight per sink until the deadline; `once(lane)` returns the events the call carried. */
  const laneArm = (name: string, once: (lane: number) => Promise<number>, at: WebhookServer = server): Arm => ({
    name,
    server: at,
    async run(deadline) {
      let events = 0;
      await Promise.all(
        sinkIds.map(async (_, lane) => {
          while (performance.now() < deadline) {
            const carried = await once(lane);
            events += carried;
          }
        }),
      );
      return events;
    },
  });

  const rawAgent = new Agent({ keepAliveTimeout: 30_000 });
  // The name is dialled at 127.0.0.1 and the certificate checked against it (servername), as the guarded pool does.
  const tlsRawAgent = new Agent({ keepAliveTimeout: 30_000, connect: { ca: TLS_CERT, servername: TLS_HOST } });
  const tlsRawUrl = tlsServer.url.replace(TLS_HOST, "127.0.0.1");
  const rawArm = (name: string, url: string, dispatcher: Agent, at: WebhookServer) => {
    let next = 0;
    return laneArm(
      name,
      async () => {
        const r = rawRequests[next++ % rawRequests.length]!;
        const response = await request(url, { method: "POST", dispatcher, headers: r.headers, body: r.body });
        if (response.statusCode !== 204) throw new Error(`bench: raw POST answered ${response.statusCode}`);
        await response.body.dump();
        return 1;
      },
      at,
    );
  };
  const raw = rawArm("raw", server.url, rawAgent, server);
  // A reference, not the baseline: the same POSTs through undici's lowest public API, `dispatch`
  // with a handler that only waits for the end of the answer (no response stream, no timer),
  // as the deliver path's WebhookClient does with its own handler.
  const dispatchAgent = new Agent({ keepAliveTimeout: 30_000 });
  const target = new URL(server.url);
  let dispatchNext = 0;
  const dispatchOnce = (r: (typeof rawRequests)[number]) =>
    new Promise<void>((resolve, reject) => {
      dispatchAgent.dispatch(
        { origin: target.origin, path: target.pathname, method: "POST", headers: r.headers, body: r.body },
        {
          onRequestStart: () => {},
          onResponseStart: (_controller, status) => {
            if (status !== 204) reject(new Error(`bench: dispatched POST answered ${status}`));
          },
          onResponseEnd: () => resolve(),
          onResponseError: (_controller, error) => reject(error),
        },
      );
    });
  const rawDispatch = laneArm("raw dispatch (reference)", async () => {
    await dispatchOnce(rawRequests[dispatchNext++ % rawRequests.length]!);
    return 1;
  });
  const deliverArm = (name: string, d: Deliverer, at: WebhookServer = server): Arm => {
    const next = sinkIds.map(() => 0);
    return laneArm(
      name,
      async (s) => {
        const batch = batches[s]![next[s]!++ % BATCHES_PER_SINK]!;
        const failed = await d.handle(batch);
        if (failed.length > 0) throw new Error(`bench: ${failed.length} messages not delivered`);
        return batch.length;
      },
      at,
    );
  };
  const arms: Arm[] = [
    raw,
    deliverArm("deliver, 1 event/POST, signed", deliverer(1)),
    deliverArm("deliver, 1 event/POST, unsigned", deliverer(1, fakeSign())),
    deliverArm("deliver, coalesced (≤ 10 events/POST), signed", deliverer(10)),
    deliverArm("deliver, coalesced (≤ 10 events/POST), unsigned", deliverer(10, fakeSign())),
    rawDispatch,
    rawArm("raw, HTTPS", tlsRawUrl, tlsRawAgent, tlsServer),
    deliverArm("deliver, HTTPS, 1 event/POST, signed", deliverer(1, undefined, "https"), tlsServer),
    deliverArm("deliver, HTTPS, 1 event/POST, unsigned", deliverer(1, fakeSign(), "https"), tlsServer),
    deliverArm("deliver, 1 event/POST, SHA-256 passes only (floor)", deliverer(1, fakeSign(true))),
  ];
  const totals = new Map<string, ArmTotals>(arms.map((a) => [a.name, { best: 0, rates: [], events: 0, seconds: 0, benchCpu: 0, serverCpu: 0, requests: 0, bytes: 0 }]));

  const runArm = async (arm: Arm, ms: number, record: boolean) => {
    gc();
    const { server } = arm;
    const before = await server.stats();
    const serverCpu = cpuSeconds(server.pid);
    const benchCpu = process.cpuUsage();
    const start = performance.now();
    const events = await arm.run(start + ms);
    const seconds = (performance.now() - start) / 1000;
    const usage = process.cpuUsage(benchCpu);
    const serverUsed = cpuSeconds(server.pid) - serverCpu;
    const after = await server.stats();
    if (!record) return;
    const t = totals.get(arm.name)!;
    const rate = events / seconds;
    t.rates.push(rate);
    t.best = Math.max(t.best, rate);
    t.events += events;
    t.seconds += seconds;
    t.benchCpu += (usage.user + usage.system) / 1e6;
    t.serverCpu += serverUsed;
    t.requests += after.requests - before.requests;
    t.bytes += after.bytes - before.bytes;
  };

  try {
    for (const arm of arms) await runArm(arm, WARMUP_MS, false);
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? arms : [...arms].reverse();
      for (const arm of order) await runArm(arm, ROUND_MS, true);
    }
  } finally {
    await rawAgent.close();
    await tlsRawAgent.close();
    await dispatchAgent.close();
    await Promise.all([server.close(), tlsServer.close()]);
  }
  if ((metrics.totals.get("Delivered") ?? 0) === 0 || log.recorded === 0) throw new Error("bench: the deliver arms delivered nothing");

  const t = (name: string) => totals.get(name)!;
  const [rawT, signed1, unsigned1, coalesced, coalescedUnsigned, dispatchT, tlsRawT, tlsSigned, tlsUnsigned, hashFloor] = arms.map((a) => t(a.name)) as [ArmTotals, ArmTotals, ArmTotals, ArmTotals, ArmTotals, ArmTotals, ArmTotals, ArmTotals, ArmTotals, ArmTotals];
  const cpuPerEvent = (x: ArmTotals) => (x.benchCpu * 1e6) / x.events;
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const figures: Figure[] = [
    { name: `events/s, deliver path, 1 event/POST, ${SINKS} sinks × batches of ${BATCH} (vs raw undici.request, same bytes, ${SINKS} in flight)`, value: signed1.best, baseline: rawT.best, unit: "events/s", goal: { atLeast: 0.5 } },
    { name: `events/s, deliver path, coalesced ≤ ${BATCH} events/POST (vs raw undici.request, 1 event/POST)`, value: coalesced.best, baseline: rawT.best, unit: "events/s" },
    { name: "events/s, deliver path 1 event/POST, Standard Webhooks signing (vs fixed signature headers, no HMAC)", value: signed1.best, baseline: unsigned1.best, unit: "events/s", goal: { atLeast: 0.95 } },
    { name: `events/s, deliver path coalesced ≤ ${BATCH} events/POST, signing (vs fixed signature headers, no HMAC)`, value: coalesced.best, baseline: coalescedUnsigned.best, unit: "events/s" },
    { name: "events/s, deliver path 1 event/POST (vs raw undici dispatch with a bare handler, same bytes: a reference, not the goal's baseline)", value: signed1.best, baseline: dispatchT.best, unit: "events/s" },
    { name: "events/s, deliver path 1 event/POST, only the two SHA-256 passes any HMAC-SHA256 signer makes, no signer (vs fixed signature headers, no hashing): the ceiling of the signing ratio", value: hashFloor.best, baseline: unsigned1.best, unit: "events/s" },
    { name: "events/s over HTTPS, deliver path 1 event/POST (vs raw undici.request over HTTPS, same bytes)", value: tlsSigned.best, baseline: tlsRawT.best, unit: "events/s" },
    { name: "events/s over HTTPS, deliver path 1 event/POST, Standard Webhooks signing (vs fixed signature headers, no HMAC)", value: tlsSigned.best, baseline: tlsUnsigned.best, unit: "events/s" },
  ];
  const ok = report("delivery", figures);
  const notes = [
    `webhook servers: child processes on 127.0.0.1 (one plain HTTP, one HTTPS with a P-256 certificate), 204 at once, keep-alive; each event ${eventBytes} bytes as a one-event body; ${ROUNDS} rounds × ${ROUND_MS / 1000} s per arm after a ${WARMUP_MS / 1000} s warm-up, forward/reverse order by round, full GC before each arm, best round shown`,
    `DynamoDB (sink store, delivery log) and SQS (retry/dead-letter) are in-memory stand-ins: the ratio prices the deliver code path, not AWS round-trips`,
    `CPU time per event in the bench process (steadier than rates on a shared machine): deliver 1 event/POST ${cpuPerEvent(signed1).toFixed(0)} µs vs raw ${cpuPerEvent(rawT).toFixed(0)} µs (ratio ${(cpuPerEvent(rawT) / cpuPerEvent(signed1)).toFixed(3)}); signed ${cpuPerEvent(signed1).toFixed(0)} µs vs unsigned ${cpuPerEvent(unsigned1).toFixed(0)} µs (ratio ${(cpuPerEvent(unsigned1) / cpuPerEvent(signed1)).toFixed(3)}); coalesced signed ${cpuPerEvent(coalesced).toFixed(1)} µs vs unsigned ${cpuPerEvent(coalescedUnsigned).toFixed(1)} µs (ratio ${(cpuPerEvent(coalescedUnsigned) / cpuPerEvent(coalesced)).toFixed(3)})`,
    `the signing ratio's ceiling: the two SHA-256 passes alone cost ${cpuPerEvent(hashFloor).toFixed(1)} µs/event vs unsigned ${cpuPerEvent(unsigned1).toFixed(1)} µs (ratio ${(cpuPerEvent(unsigned1) / cpuPerEvent(hashFloor)).toFixed(3)}; median round ${(median(hashFloor.rates) / median(unsigned1.rates)).toFixed(3)}); the signer ${cpuPerEvent(signed1).toFixed(1)} µs (ratio ${(cpuPerEvent(unsigned1) / cpuPerEvent(signed1)).toFixed(3)}; median round ${(median(signed1.rates) / median(unsigned1.rates)).toFixed(3)})`,
    `CPU time per event, deliver 1 event/POST vs raw dispatch: ${cpuPerEvent(signed1).toFixed(0)} µs vs ${cpuPerEvent(dispatchT).toFixed(0)} µs (ratio ${(cpuPerEvent(dispatchT) / cpuPerEvent(signed1)).toFixed(3)})`,
    `CPU time per event over HTTPS: deliver signed ${cpuPerEvent(tlsSigned).toFixed(0)} µs vs raw ${cpuPerEvent(tlsRawT).toFixed(0)} µs (ratio ${(cpuPerEvent(tlsRawT) / cpuPerEvent(tlsSigned)).toFixed(3)}); signed vs unsigned ${cpuPerEvent(tlsSigned).toFixed(0)} vs ${cpuPerEvent(tlsUnsigned).toFixed(0)} µs (ratio ${(cpuPerEvent(tlsUnsigned) / cpuPerEvent(tlsSigned)).toFixed(3)}); median-round signed/unsigned ${(median(tlsSigned.rates) / median(tlsUnsigned.rates)).toFixed(3)}`,
    `median-round ratios: 1 event/POST ${(median(signed1.rates) / median(rawT.rates)).toFixed(3)}, coalesced ${(median(coalesced.rates) / median(rawT.rates)).toFixed(3)}, signed/unsigned ${(median(signed1.rates) / median(unsigned1.rates)).toFixed(3)} (coalesced ${(median(coalesced.rates) / median(coalescedUnsigned.rates)).toFixed(3)}); paired per-round signed/unsigned ${signed1.rates.map((r, i) => (r / unsigned1.rates[i]!).toFixed(2)).join(", ")}`,
  ];
  for (const [name, x] of totals) {
    notes.push(
      `${name}: rounds ${x.rates.map((r) => r.toFixed(0)).join(", ")} events/s; bench process ${((x.benchCpu / x.seconds) * 100).toFixed(0)} % of a core (${((x.benchCpu * 1e6) / x.events).toFixed(0)} µs/event), ` +
        `server ${((x.serverCpu / x.seconds) * 100).toFixed(0)} % (${((x.serverCpu * 1e6) / x.requests).toFixed(0)} µs/request); ${(x.events / x.requests).toFixed(1)} events and ${(x.bytes / x.requests).toFixed(0)} body bytes per POST`,
    );
  }
  for (const note of notes) process.stdout.write(`- ${note}\n`);
  return ok;
}
