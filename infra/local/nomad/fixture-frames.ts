/**
 * Realistic event frames for the protocol server.
 *
 * - `loadFixtureFrames()` reads the derived frames in `test/fixtures/nomad/derived` (a
 *   copy of the team's reference fixtures) at runtime. Payloads stay raw JSON text, so publishing a fixture
 *   frame at its own index serves its line byte for byte.
 * - `createEventFactory()` builds the frames of typical raft writes (node registration,
 *   job registration, plan result, ...) for any IDs. Payloads start from the fixture
 *   payloads when that directory exists and from small built-in templates when it does
 *   not, so the simulator also works where the fixtures are not shipped.
 *
 * Envelopes (Key, FilterKeys, Namespace, one transaction per frame) follow
 * EVENT-STREAM-SPEC 2.2 and `nomad/state/events.go`.
 */
import { randomUUID } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { valueEnd } from "../../../shared/json/json-scan";
import { RawJson, rawJson, type PublishEvent, type PublishFrame } from "./wire-format";

/** The repository's copy of the reference fixtures (`test/fixtures/nomad`). */
export const DEFAULT_FIXTURES_DIR = fileURLToPath(new URL("../../../test/fixtures/nomad/", import.meta.url));

export interface FixtureFrame {
  /** The file name without `frame_` and `.ndjson`, for example `job-registered`. */
  readonly name: string;
  readonly index: number;
  /** The wire line without its "\n". */
  readonly line: string;
  /** The frame's events, payloads as raw JSON text. */
  readonly events: PublishFrame;
}

interface WireEnvelope {
  Index: number;
  Events: Array<{ Topic: string; Type: string; Key: string; Namespace: string; FilterKeys: string[] | null; Index: number }>;
}

/**
 * Splits a compact frame line into events with raw payload text. Every byte outside the
 * payloads is checked against what the server would write, so a fixture that is not in
 * Nomad's wire form fails loudly instead of being served differently.
 */
export function parseFrameLine(line: string, name = "frame"): { index: number; events: PublishEvent[] } {
  const envelope = JSON.parse(line) as WireEnvelope;
  const fail = (why: string): Error => new Error(`${name} is not a compact Nomad frame: ${why}`);
  let at = `{"Index":${envelope.Index},"Events":[`.length;
  if (!line.startsWith(`{"Index":${envelope.Index},"Events":[`)) throw fail("unexpected frame head");
  const events: PublishEvent[] = [];
  for (const [position, event] of envelope.Events.entries()) {
    const head =
      `{"Topic":${JSON.stringify(event.Topic)},"Type":${JSON.stringify(event.Type)},"Key":${JSON.stringify(event.Key)},` +
      `"Namespace":${JSON.stringify(event.Namespace)},"FilterKeys":${JSON.stringify(event.FilterKeys)},"Index":${event.Index},"Payload":`;
    if (event.Index !== envelope.Index) throw fail(`event ${position} has Index ${event.Index}, the frame ${envelope.Index}`);
    if (!line.startsWith(head, at)) throw fail(`event ${position} envelope differs from the wire field order`);
    const payloadStart = at + head.length;
    const payloadEnd = valueEnd(line, payloadStart);
    if (line[payloadEnd] !== "}") throw fail(`event ${position} has fields after Payload`);
    events.push({ Topic: event.Topic, Type: event.Type, Key: event.Key, Namespace: event.Namespace, FilterKeys: event.FilterKeys, Payload: rawJson(line.slice(payloadStart, payloadEnd)) });
    at = payloadEnd + 1;
    const separator = position === envelope.Events.length - 1 ? "]}" : ",";
    if (!line.startsWith(separator, at)) throw fail(`expected ${JSON.stringify(separator)} after event ${position}`);
    at += separator.length;
  }
  if (at !== line.length) throw fail("trailing bytes");
  return { index: envelope.Index, events };
}

/**
 * Every `derived/frame_*.ndjson` fixture, sorted by name; undefined when the fixtures
 * directory does not exist (the local runtime without `../shared`).
 */
export function loadFixtureFrames(dir: string = DEFAULT_FIXTURES_DIR): FixtureFrame[] | undefined {
  const derived = join(dir, "derived");
  if (!existsSync(derived)) return undefined;
  return readdirSync(derived)
    .filter((file) => file.startsWith("frame_") && file.endsWith(".ndjson"))
    .sort()
    .map((file) => {
      const line = readFileSync(join(derived, file), "utf8").replace(/\r?\n$/, "");
      const name = file.slice("frame_".length, -".ndjson".length);
      const { index, events } = parseFrameLine(line, file);
      return { name, index, line, events };
    });
}

type Payload = Record<string, unknown>;

interface Templates {
  readonly job: Payload;
  readonly evaluation: Payload;
  readonly allocation: Payload;
  readonly deployment: Payload;
  readonly node: Payload;
}

/** Nomad's nanosecond timestamps, as a JS number (the last digits are not exact). */
function nowNanos(): number {
  return Date.now() * 1_000_000;
}

const BUILT_IN_TEMPLATES: Templates = {
  job: {
    Region: "global",
    Namespace: "default",
    ID: "example",
    ParentID: "",
    Name: "example",
    Type: "service",
    Priority: 50,
    AllAtOnce: false,
    Datacenters: ["dc1"],
    NodePool: "default",
    Constraints: null,
    TaskGroups: [
      {
        Name: "web",
        Count: 1,
        Tasks: [{ Name: "web", Driver: "docker", Config: { image: "nginx:1.27" }, Resources: { CPU: 100, MemoryMB: 128 } }],
      },
    ],
    Update: { Stagger: 30_000_000_000, MaxParallel: 1 },
    Periodic: null,
    ParameterizedJob: null,
    Payload: null,
    Meta: null,
    Status: "pending",
    StatusDescription: "",
    Stable: false,
    Version: 0,
    CreateIndex: 0,
    ModifyIndex: 0,
    JobModifyIndex: 0,
  },
  evaluation: {
    ID: "",
    Namespace: "default",
    Priority: 50,
    Type: "service",
    TriggeredBy: "job-register",
    JobID: "example",
    JobModifyIndex: 0,
    NodeID: "",
    DeploymentID: "",
    Status: "pending",
    StatusDescription: "",
    PreviousEval: "",
    RelatedEvals: null,
    FailedTGAllocs: null,
    SnapshotIndex: 0,
    CreateIndex: 0,
    ModifyIndex: 0,
    CreateTime: 0,
    ModifyTime: 0,
  },
  allocation: {
    ID: "",
    Namespace: "default",
    EvalID: "",
    Name: "example.web[0]",
    NodeID: "",
    NodeName: "nomad-client-1",
    JobID: "example",
    Job: null,
    TaskGroup: "web",
    AllocatedResources: { Tasks: { web: { Cpu: { CpuShares: 100 }, Memory: { MemoryMB: 128 } } }, Shared: { DiskMB: 300 } },
    DesiredStatus: "run",
    DesiredDescription: "",
    ClientStatus: "pending",
    ClientDescription: "",
    TaskStates: null,
    DeploymentID: "",
    DeploymentStatus: null,
    CreateIndex: 0,
    ModifyIndex: 0,
    AllocModifyIndex: 0,
    CreateTime: 0,
    ModifyTime: 0,
  },
  deployment: {
    ID: "",
    Namespace: "default",
    JobID: "example",
    JobVersion: 0,
    JobModifyIndex: 0,
    JobSpecModifyIndex: 0,
    JobCreateIndex: 0,
    TaskGroups: { web: { Promoted: false, DesiredCanaries: 0, DesiredTotal: 1, PlacedAllocs: 0, HealthyAllocs: 0, UnhealthyAllocs: 0 } },
    Status: "running",
    StatusDescription: "Deployment is running",
    CreateIndex: 0,
    ModifyIndex: 0,
  },
  node: {
    ID: "",
    SecretID: "",
    Datacenter: "dc1",
    Name: "nomad-client-1",
    HTTPAddr: "127.0.0.1:4646",
    TLSEnabled: false,
    Attributes: { "kernel.name": "linux", "cpu.arch": "amd64", "nomad.version": "1.11.1", "os.name": "ubuntu" },
    Meta: {},
    NodeClass: "",
    NodePool: "default",
    Drain: false,
    SchedulingEligibility: "eligible",
    Status: "ready",
    StatusDescription: "",
    Events: [{ Message: "Node registered", Subsystem: "Cluster", Details: null, Timestamp: "1970-01-01T00:00:00Z", CreateIndex: 0 }],
    Drivers: { docker: { Attributes: { "driver.docker": "true" }, Detected: true, Healthy: true, HealthDescription: "Healthy" } },
    CreateIndex: 0,
    ModifyIndex: 0,
  },
};

function fixturePayload(frames: readonly FixtureFrame[], name: string, key: string): Payload | undefined {
  const payload = frames.find((frame) => frame.name === name)?.events[0]?.Payload;
  if (payload === undefined || payload === null) return undefined;
  const parsed = (payload instanceof RawJson ? JSON.parse(payload.text) : structuredClone(payload)) as Payload;
  const inner = parsed[key];
  return inner !== null && typeof inner === "object" ? (inner as Payload) : undefined;
}

function fixtureTemplates(frames: readonly FixtureFrame[]): Templates {
  return {
    job: fixturePayload(frames, "job-registered", "Job") ?? BUILT_IN_TEMPLATES.job,
    evaluation: fixturePayload(frames, "evaluation-updated", "Evaluation") ?? BUILT_IN_TEMPLATES.evaluation,
    allocation: fixturePayload(frames, "allocation-updated", "Allocation") ?? BUILT_IN_TEMPLATES.allocation,
    deployment: fixturePayload(frames, "deployment-status-update", "Deployment") ?? BUILT_IN_TEMPLATES.deployment,
    node: fixturePayload(frames, "node-registration", "Node") ?? BUILT_IN_TEMPLATES.node,
  };
}

/** Each template's JSON, written once: parsing it is a deep copy several times cheaper than structuredClone. */
const templateJson = new WeakMap<Payload, string>();

/** A template copy with `fields` set: existing keys keep their place, new ones go last. */
function fill(template: Payload, fields: Payload): Payload {
  let json = templateJson.get(template);
  if (json === undefined) templateJson.set(template, (json = JSON.stringify(template)));
  return { ...(JSON.parse(json) as Payload), ...fields };
}

export interface EventFactory {
  /** Where payloads come from: the fixtures directory, or the built-in templates. */
  readonly source: "fixtures" | "built-in";
  /** The fixture frames, verbatim; empty when the directory is absent. */
  readonly fixtures: readonly FixtureFrame[];
  /** `NodeRegistration`: one Node frame (Namespace "", FilterKeys null). */
  nodeRegistration(options?: { nodeId?: string; name?: string; index?: number }): PublishFrame[];
  /** `JobRegistered`: a Job frame, then an Evaluation frame, as two transactions of one index. */
  jobRegistered(options: { jobId: string; namespace?: string; evalId?: string; index?: number }): PublishFrame[];
  /** `PlanResult`: one frame with `allocations` Allocation events, the Deployment and the plan's Evaluation. */
  planResult(options: { jobId: string; namespace?: string; allocations: number; evalId?: string; deploymentId?: string; nodeId?: string; index?: number }): PublishFrame[];
  /** `AllocationUpdated` (a client status update): one Allocation frame. */
  allocationUpdated(options: { allocId: string; jobId: string; namespace?: string; clientStatus?: string; deploymentId?: string; index?: number }): PublishFrame[];
  /** `DeploymentStatusUpdate`: one Deployment frame. */
  deploymentStatusUpdate(options: { deploymentId: string; jobId: string; namespace?: string; status?: string; index?: number }): PublishFrame[];
  /** `JobDeregistered` with purge: a Job frame whose payload carries `Deleted: true`. */
  jobDeregistered(options: { jobId: string; namespace?: string; index?: number }): PublishFrame[];
}

/**
 * Frames for typical raft writes. `index` only fills the payloads' Create/ModifyIndex
 * fields; the server stamps the event Index at publish. With `fixturesDir: null` the
 * fixtures are not looked for at all.
 */
export function createEventFactory(options: { fixturesDir?: string | null } = {}): EventFactory {
  const fixtures = options.fixturesDir === null ? undefined : loadFixtureFrames(options.fixturesDir ?? DEFAULT_FIXTURES_DIR);
  const templates = fixtures === undefined ? BUILT_IN_TEMPLATES : fixtureTemplates(fixtures);

  // The Type comes from the raft message, so an Evaluation event carries JobRegistered, PlanResult, ...
  const evaluation = (fields: { type: string; evalId: string; jobId: string; namespace: string; deploymentId: string; triggeredBy: string; status: string; index: number }): PublishEvent => ({
    Topic: "Evaluation",
    Type: fields.type,
    Key: fields.evalId,
    Namespace: fields.namespace,
    FilterKeys: [fields.jobId, fields.deploymentId],
    Payload: {
      Evaluation: fill(templates.evaluation, {
        ID: fields.evalId,
        Namespace: fields.namespace,
        JobID: fields.jobId,
        DeploymentID: fields.deploymentId,
        TriggeredBy: fields.triggeredBy,
        Status: fields.status,
        CreateIndex: fields.index,
        ModifyIndex: fields.index,
        CreateTime: nowNanos(),
        ModifyTime: nowNanos(),
      }),
    },
  });

  const allocation = (fields: { allocId: string; jobId: string; namespace: string; evalId: string; nodeId: string; deploymentId: string; name: string; clientStatus: string; index: number }): Payload =>
    fill(templates.allocation, {
      ID: fields.allocId,
      Namespace: fields.namespace,
      EvalID: fields.evalId,
      Name: fields.name,
      NodeID: fields.nodeId,
      JobID: fields.jobId,
      Job: null,
      DeploymentID: fields.deploymentId,
      ClientStatus: fields.clientStatus,
      CreateIndex: fields.index,
      ModifyIndex: fields.index,
      AllocModifyIndex: fields.index,
      ModifyTime: nowNanos(),
    });

  const taskGroup = typeof templates.allocation.TaskGroup === "string" ? templates.allocation.TaskGroup : "web";

  return {
    source: fixtures === undefined ? "built-in" : "fixtures",
    fixtures: fixtures ?? [],
    nodeRegistration({ nodeId = randomUUID(), name, index = 0 } = {}) {
      const node = fill(templates.node, { ID: nodeId, SecretID: "", ...(name === undefined ? {} : { Name: name }), Status: "ready", CreateIndex: index, ModifyIndex: index });
      return [[{ Topic: "Node", Type: "NodeRegistration", Key: nodeId, Namespace: "", FilterKeys: null, Payload: { Node: node } }]];
    },
    jobRegistered({ jobId, namespace = "default", evalId = randomUUID(), index = 0 }) {
      const job = fill(templates.job, { Namespace: namespace, ID: jobId, Name: jobId, Status: "pending", CreateIndex: index, ModifyIndex: index, JobModifyIndex: index });
      return [
        [{ Topic: "Job", Type: "JobRegistered", Key: jobId, Namespace: namespace, FilterKeys: null, Payload: { Job: job } }],
        [evaluation({ type: "JobRegistered", evalId, jobId, namespace, deploymentId: "", triggeredBy: "job-register", status: "pending", index })],
      ];
    },
    planResult({ jobId, namespace = "default", allocations, evalId = randomUUID(), deploymentId = randomUUID(), nodeId = randomUUID(), index = 0 }) {
      if (!Number.isInteger(allocations) || allocations < 0) throw new RangeError(`allocations must be a non-negative integer, got ${allocations}`);
      const events: PublishEvent[] = [];
      for (let i = 0; i < allocations; i++) {
        const allocId = randomUUID();
        events.push({
          Topic: "Allocation",
          Type: "PlanResult",
          Key: allocId,
          Namespace: namespace,
          FilterKeys: [jobId, deploymentId],
          Payload: { Allocation: allocation({ allocId, jobId, namespace, evalId, nodeId, deploymentId, name: `${jobId}.${taskGroup}[${i}]`, clientStatus: "pending", index }) },
        });
      }
      events.push({
        Topic: "Deployment",
        Type: "PlanResult",
        Key: deploymentId,
        Namespace: namespace,
        FilterKeys: [jobId],
        Payload: { Deployment: fill(templates.deployment, { ID: deploymentId, Namespace: namespace, JobID: jobId, Status: "running", CreateIndex: index, ModifyIndex: index }) },
      });
      events.push(evaluation({ type: "PlanResult", evalId, jobId, namespace, deploymentId: "", triggeredBy: "job-register", status: "complete", index }));
      return [events];
    },
    allocationUpdated({ allocId, jobId, namespace = "default", clientStatus = "running", deploymentId = "", index = 0 }) {
      const payload = allocation({ allocId, jobId, namespace, evalId: randomUUID(), nodeId: randomUUID(), deploymentId, name: `${jobId}.${taskGroup}[0]`, clientStatus, index });
      return [[{ Topic: "Allocation", Type: "AllocationUpdated", Key: allocId, Namespace: namespace, FilterKeys: [jobId, deploymentId], Payload: { Allocation: payload } }]];
    },
    deploymentStatusUpdate({ deploymentId, jobId, namespace = "default", status = "successful", index = 0 }) {
      const deployment = fill(templates.deployment, { ID: deploymentId, Namespace: namespace, JobID: jobId, Status: status, StatusDescription: status === "successful" ? "Deployment completed successfully" : "", ModifyIndex: index });
      return [[{ Topic: "Deployment", Type: "DeploymentStatusUpdate", Key: deploymentId, Namespace: namespace, FilterKeys: [jobId], Payload: { Deployment: deployment } }]];
    },
    jobDeregistered({ jobId, namespace = "default", index = 0 }) {
      const job = fill(templates.job, { Namespace: namespace, ID: jobId, Name: jobId, Status: "dead", ModifyIndex: index, JobModifyIndex: index });
      return [[{ Topic: "Job", Type: "JobDeregistered", Key: jobId, Namespace: namespace, FilterKeys: null, Payload: { Job: job, Deleted: true } }]];
    },
  };
}
