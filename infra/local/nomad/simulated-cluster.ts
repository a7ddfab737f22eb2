/**
 * The local runtime's Nomad: a protocol server (protocol-server.ts) fed a steady, plausible
 * flow of raft writes, so the streamer has a real event stream to follow without a cluster.
 *
 * ```ts
 * const nomad = await startSimulatedCluster({ eventsPerSecond: 20, stateFile: ".data/nomad.json" });
 * // NOMAD_ADDR=nomad.url; nomad.server.emitted() shows what was published
 * nomad.setRate(0);   // paused: only what a caller publishes itself through nomad.server
 * await nomad.stop(); // saves the state file, then closes the server
 * ```
 *
 * Lifecycle: a few nodes register first (Node topic, Namespace ""). Then jobs are registered
 * in random namespaces (a Job and an Evaluation frame at one index), placed by a PlanResult
 * (their allocations, the deployment and the evaluation), their allocations move from
 * pending to running (sometimes failed), and the deployment ends successful (failed when an
 * allocation failed). A deployed job later sees an allocation complete or is deregistered
 * with purge; nodes occasionally re-register. At most MAX_LIVE_JOBS jobs live at a time, so
 * the simulation runs forever in bounded memory (the server's `emitted()` keeps only the
 * newest EMITTED_HISTORY (5 000) frames for the same reason). Each raft write is one
 * `server.publish` call, so one index.
 *
 * Rate: every TICK_MS the cluster earns `eventsPerSecond × elapsed` events and publishes
 * writes while it has credit; a write of several events leaves a debt that later ticks pay,
 * so the event count follows the rate over time without drift. After a stalled event loop
 * it catches up at most MAX_CATCH_UP_MS worth of events, not the whole stall.
 *
 * Persistence (`stateFile`): `stop()` writes the newest raft index, the frames the buffer
 * retains and the live nodes and jobs (atomically: a temporary file, then a rename). The
 * next start restores them, so a streamer resuming from its checkpoint finds that index in
 * the buffer, gets what followed it, and new writes continue above the saved index. A file
 * that cannot be read or is not a state file is ignored: the cluster starts fresh and says
 * why in `restoreError`, and `stop()` replaces it.
 *
 * A `seed` makes the sequence of writes (topics, types, namespaces, job, node, evaluation
 * and deployment IDs) reproducible; allocation IDs and timestamps come from the event
 * factory and are not. A restored cluster continues the saved generator instead.
 */
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import { performance } from "node:perf_hooks";
import { z } from "zod";
import { NomadEventSchema } from "../../../shared/nomad/event";
import { parseOrThrow } from "../../../shared/validation";
import { createEventFactory, type EventFactory } from "./fixture-frames";
import { startNomadProtocolServer, type NomadProtocolServer, type NomadStreamEra, type PublishFrame } from "./protocol-server";

export interface SimulatedClusterOptions {
  /** Events published per second, on average; 0 pauses the simulation. @default 20 */
  readonly eventsPerSecond?: number;
  /** Namespaces jobs are registered in, also listed by `GET /v1/namespaces`. @default ["default", "web", "batch"] */
  readonly namespaces?: readonly string[];
  /** The Nomad wire behaviour served (see protocol-server.ts). @default "hijacked" */
  readonly era?: NomadStreamEra;
  /** Interval of `{}` heartbeats on every stream. @default 30_000 */
  readonly heartbeatMs?: number;
  /** Nomad's `event_buffer_size`: frames a client can resume from. @default 100 */
  readonly bufferSize?: number;
  /** @default "127.0.0.1" */
  readonly host?: string;
  /** @default 0 (any free port) */
  readonly port?: number;
  /** ACL token streams must present. @default none: every request is allowed */
  readonly token?: string;
  /** Seeds the generator that picks each write, for reproducible runs. @default a random seed */
  readonly seed?: number;
  /** Where `stop()` saves the cluster and the next start restores it from. @default not persisted */
  readonly stateFile?: string;
  /** Frames `server.emitted()` keeps, newest first (a test comparing a long run raises it). @default 5_000 */
  readonly emittedHistory?: number;
}

export interface SimulatedClusterStats {
  /** Raft writes this run published (restored frames not counted). */
  readonly writes: number;
  /** Events in those writes. */
  readonly events: number;
  /** The server's newest raft index, restored history included. */
  readonly lastIndex: number;
}

export interface SimulatedCluster {
  /** `http://127.0.0.1:<port>`, the `NOMAD_ADDR`. */
  readonly url: string;
  /** The protocol server underneath: `emitted()`, `requests()`, `publish()`, fault injection. */
  readonly server: NomadProtocolServer;
  readonly namespaces: readonly string[];
  /** The raft index the state file was saved at, when this run continues from it. */
  readonly restoredFrom: number | undefined;
  /** Why an existing state file was not used (this run started fresh). */
  readonly restoreError: SimulatedStateError | undefined;
  /** Changes the average events per second from the next tick on; 0 pauses. */
  setRate(eventsPerSecond: number): void;
  stats(): SimulatedClusterStats;
  /** Stops publishing, saves the state file if there is one, and closes the server. */
  stop(): Promise<void>;
}

/** A state file that exists but cannot be used. */
export class SimulatedStateError extends Error {
  override readonly name = "SimulatedStateError";
}

export const DEFAULT_SIMULATED_NAMESPACES: readonly string[] = ["default", "web", "batch"];
/** Jobs alive at once; a full cluster retires a job before registering another. */
export const MAX_LIVE_JOBS = 8;
const NODE_COUNT = 3;
const TICK_MS = 50;
const MAX_CATCH_UP_MS = 1_000;
const EMITTED_HISTORY = 5_000;
const JOB_NAMES = ["api", "web", "worker", "cache", "ingest", "billing", "search", "report"] as const;
const STATE_FILE_VERSION = 1;

const LiveJobSchema = z.object({
  id: z.string(),
  namespace: z.string(),
  evalId: z.string(),
  deploymentId: z.string(),
  /** registered: awaiting its plan; placed: allocations settling; deployed: deployment ended. */
  stage: z.enum(["registered", "placed", "deployed"]),
  allocs: z.array(z.object({ id: z.string(), status: z.enum(["pending", "running", "failed", "complete"]) })),
});
type LiveJob = z.infer<typeof LiveJobSchema>;

const WorldSchema = z.object({
  nodes: z.array(z.object({ id: z.string(), name: z.string() })),
  jobs: z.array(LiveJobSchema),
  /** Jobs ever registered: the suffix that keeps job IDs unique. */
  jobsCreated: z.number().int().nonnegative(),
  /** The generator's whole state (mulberry32 is one uint32). */
  random: z.number().int().min(0).max(0xffff_ffff),
});
type World = z.infer<typeof WorldSchema>;

const StateFileSchema = z
  .object({
    version: z.literal(STATE_FILE_VERSION),
    lastIndex: z.number().int().nonnegative(),
    frames: z.array(z.object({ Index: z.number().int().positive(), Events: z.array(NomadEventSchema) })),
    world: WorldSchema,
  })
  .superRefine((state, context) => {
    let previous = 0;
    for (const [position, frame] of state.frames.entries()) {
      const consistent = frame.Index >= previous && frame.Index <= state.lastIndex && frame.Events.every((event) => event.Index === frame.Index);
      if (!consistent) context.addIssue({ code: "custom", path: ["frames", position], message: `frames must be in index order, up to lastIndex ${state.lastIndex}, each event carrying its frame's Index` });
      previous = frame.Index;
    }
  });
type StateFile = z.infer<typeof StateFileSchema>;

/** mulberry32: one uint32 of state, advanced in place in `world.random`. */
function nextRandom(world: World): number {
  world.random = (world.random + 0x6d2b79f5) >>> 0;
  let t = world.random;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 0x1_0000_0000;
}

/** Decides each raft write from the live nodes and jobs, and updates them as if it committed. */
class Lifecycle {
  constructor(
    private readonly world: World,
    private readonly factory: EventFactory,
    private readonly namespaces: readonly string[],
  ) {}

  /** The frames of the next write, which will be published at `index`. */
  nextWrite(index: number): PublishFrame[] {
    const { nodes, jobs } = this.world;
    if (nodes.length < NODE_COUNT) return this.#registerNode(index);
    const roll = this.#random();
    if (roll < 0.04) return this.#reregisterNode(index);
    const busy = jobs.filter((job) => job.stage !== "deployed");
    if (jobs.length < MAX_LIVE_JOBS && (busy.length === 0 || roll < 0.3)) return this.#registerJob(index);
    if (busy.length > 0 && (roll < 0.9 || busy.length === jobs.length)) return this.#advance(this.#pick(busy), index);
    return this.#retire(this.#pick(jobs.filter((job) => job.stage === "deployed")), index);
  }

  #registerNode(index: number): PublishFrame[] {
    const node = { id: this.#uuid(), name: `nomad-client-${this.world.nodes.length + 1}` };
    this.world.nodes.push(node);
    return this.factory.nodeRegistration({ nodeId: node.id, name: node.name, index });
  }

  #reregisterNode(index: number): PublishFrame[] {
    const node = this.#pick(this.world.nodes);
    return this.factory.nodeRegistration({ nodeId: node.id, name: node.name, index });
  }

  #registerJob(index: number): PublishFrame[] {
    this.world.jobsCreated++;
    const job: LiveJob = {
      id: `${this.#pick(JOB_NAMES)}-${this.world.jobsCreated}`,
      namespace: this.#pick(this.namespaces),
      evalId: this.#uuid(),
      deploymentId: this.#uuid(),
      stage: "registered",
      allocs: [],
    };
    this.world.jobs.push(job);
    return this.factory.jobRegistered({ jobId: job.id, namespace: job.namespace, evalId: job.evalId, index });
  }

  #advance(job: LiveJob, index: number): PublishFrame[] {
    const ids = { jobId: job.id, namespace: job.namespace, deploymentId: job.deploymentId, index };
    if (job.stage === "registered") {
      const frames = this.factory.planResult({ ...ids, evalId: job.evalId, allocations: 1 + Math.floor(this.#random() * 3), nodeId: this.#pick(this.world.nodes).id });
      job.allocs = frames.flat().flatMap((event) => (event.Topic === "Allocation" ? [{ id: event.Key, status: "pending" as const }] : []));
      job.stage = "placed";
      return frames;
    }
    const pending = job.allocs.find((alloc) => alloc.status === "pending");
    if (pending !== undefined) {
      pending.status = this.#random() < 0.12 ? "failed" : "running";
      return this.factory.allocationUpdated({ ...ids, allocId: pending.id, clientStatus: pending.status });
    }
    job.stage = "deployed";
    const status = job.allocs.some((alloc) => alloc.status === "failed") ? "failed" : "successful";
    return this.factory.deploymentStatusUpdate({ ...ids, status });
  }

  /** A deployed job's later life: a running allocation completes, or the job is purged. */
  #retire(job: LiveJob, index: number): PublishFrame[] {
    const running = job.allocs.find((alloc) => alloc.status === "running");
    if (running !== undefined && this.#random() < 0.5) {
      running.status = "complete";
      return this.factory.allocationUpdated({ allocId: running.id, jobId: job.id, namespace: job.namespace, clientStatus: "complete", deploymentId: job.deploymentId, index });
    }
    this.world.jobs = this.world.jobs.filter((live) => live !== job);
    return this.factory.jobDeregistered({ jobId: job.id, namespace: job.namespace, index });
  }

  #random(): number {
    return nextRandom(this.world);
  }

  #pick<T>(items: readonly T[]): T {
    const item = items[Math.floor(this.#random() * items.length)];
    if (item === undefined) throw new RangeError("cannot pick from an empty list");
    return item;
  }

  /** A version 4 UUID drawn from the seeded generator. */
  #uuid(): string {
    const hex = Array.from({ length: 32 }, () => Math.floor(this.#random() * 16).toString(16));
    hex[12] = "4";
    hex[16] = (8 + Math.floor(this.#random() * 4)).toString(16);
    const text = hex.join("");
    return `${text.slice(0, 8)}-${text.slice(8, 12)}-${text.slice(12, 16)}-${text.slice(16, 20)}-${text.slice(20)}`;
  }
}

function checkedRate(eventsPerSecond: number, what: string): number {
  if (!Number.isFinite(eventsPerSecond) || eventsPerSecond < 0) throw new RangeError(`${what} must be a finite number of events per second >= 0, but ${eventsPerSecond} was provided`);
  return eventsPerSecond;
}

function checkedNamespaces(namespaces: readonly string[]): readonly string[] {
  const invalid = namespaces.length === 0 || namespaces.some((name) => typeof name !== "string" || name === "" || name === "*") || new Set(namespaces).size !== namespaces.length;
  if (invalid) throw new RangeError(`namespaces must be distinct, non-empty names other than "*", but ${JSON.stringify(namespaces)} was provided`);
  return [...namespaces];
}

function freshWorld(seed: number | undefined): World {
  if (seed !== undefined && !Number.isSafeInteger(seed)) throw new RangeError(`seed must be an integer, but ${seed} was provided`);
  return { nodes: [], jobs: [], jobsCreated: 0, random: (seed ?? Math.floor(Math.random() * 0x1_0000_0000)) >>> 0 };
}

/** The saved state, undefined when there is no file, or why it cannot be used. */
async function readStateFile(path: string): Promise<{ state?: StateFile; error?: SimulatedStateError }> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return {};
    return { error: new SimulatedStateError(`the simulated cluster's state file ${path} cannot be read: ${(error as Error).message}`, { cause: error }) };
  }
  try {
    return { state: parseOrThrow(StateFileSchema, JSON.parse(text), `simulated cluster state file ${path}`, "state") };
  } catch (error) {
    return { error: new SimulatedStateError(`the simulated cluster's state file ${path} is not usable, starting fresh: ${(error as Error).message}`, { cause: error }) };
  }
}

async function writeStateFile(path: string, state: StateFile): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temporary = `${path}.${process.pid}.tmp`;
  try {
    await writeFile(temporary, JSON.stringify(state));
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

export async function startSimulatedCluster(options: SimulatedClusterOptions = {}): Promise<SimulatedCluster> {
  let rate = checkedRate(options.eventsPerSecond ?? 20, "eventsPerSecond");
  const namespaces = checkedNamespaces(options.namespaces ?? DEFAULT_SIMULATED_NAMESPACES);
  const world = freshWorld(options.seed);
  const saved = options.stateFile === undefined ? {} : await readStateFile(options.stateFile);
  if (saved.state !== undefined) {
    // Jobs of a namespace no longer configured are dropped: nothing could subscribe to them.
    Object.assign(world, saved.state.world, { jobs: saved.state.world.jobs.filter((job) => namespaces.includes(job.namespace)) });
  }

  const server = await startNomadProtocolServer({
    era: options.era ?? "hijacked",
    heartbeatMs: options.heartbeatMs ?? 30_000,
    bufferSize: options.bufferSize ?? 100,
    namespaces,
    host: options.host ?? "127.0.0.1",
    port: options.port ?? 0,
    emittedLimit: options.emittedHistory ?? EMITTED_HISTORY,
    ...(options.token === undefined ? {} : { token: options.token }),
    ...(saved.state === undefined ? {} : { restore: { lastIndex: saved.state.lastIndex, frames: saved.state.frames } }),
  });

  const lifecycle = new Lifecycle(world, createEventFactory(), namespaces);
  let writes = 0;
  let events = 0;

  function publishNextWrite(): number {
    const frames = lifecycle.nextWrite(server.lastIndex + 1);
    server.publish(frames);
    const count = frames.reduce((sum, frame) => sum + frame.length, 0);
    writes++;
    events += count;
    return count;
  }

  let credit = 0;
  let lastTick = performance.now();
  const ticker = setInterval(() => {
    const now = performance.now();
    credit += (rate * Math.min(now - lastTick, MAX_CATCH_UP_MS)) / 1000;
    lastTick = now;
    // Every write has at least one event, so this ends; a large write leaves a debt.
    while (credit > 0) credit -= publishNextWrite();
  }, TICK_MS);
  // The server keeps the process alive; the ticker alone should not.
  ticker.unref();

  function snapshot(): StateFile {
    const frames = server.retained().map((frame) => ({ Index: frame.Index, Events: [...frame.Events] }));
    return { version: STATE_FILE_VERSION, lastIndex: server.lastIndex, frames, world };
  }

  let stopped: Promise<void> | undefined;
  async function shutdown(): Promise<void> {
    clearInterval(ticker);
    try {
      if (options.stateFile !== undefined) await writeStateFile(options.stateFile, snapshot());
    } finally {
      await server.close();
    }
  }

  return {
    url: server.url,
    server,
    namespaces,
    restoredFrom: saved.state?.lastIndex,
    restoreError: saved.error,
    setRate(eventsPerSecond) {
      rate = checkedRate(eventsPerSecond, "setRate's eventsPerSecond");
    },
    stats: () => ({ writes, events, lastIndex: server.lastIndex }),
    stop: () => (stopped ??= shutdown()),
  };
}
