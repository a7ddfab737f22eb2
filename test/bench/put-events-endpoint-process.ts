/**
 * The streamer bench's PutEvents endpoint in a process of its own, so that the endpoint
 * (which parses every body and every Detail, as EventBridge checks them) has its own event
 * loop and the bench process only serves Nomad and measures. It is the same local
 * endpoint the tests and `npm start` use (infra/local/eventbridge); the times it reports
 * are taken in its own process when a call's entries are accepted.
 *
 * Parent side: `startPutEventsEndpointProcess()`. Child side: this file run as a script,
 * speaking over the IPC channel.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { startLocalEventBridge } from "../../infra/local/eventbridge/local-eventbridge";

type ToChild = { readonly type: "waitFor"; readonly id: number; readonly count: number } | { readonly type: "close" };
type FromChild =
  | { readonly type: "ready"; readonly endpoint: string }
  | { readonly type: "first"; readonly at: number; readonly count: number }
  | { readonly type: "reached"; readonly id: number; readonly at: number; readonly count: number };

/** Epoch milliseconds with sub-millisecond precision, comparable within one process. */
const preciseNow = () => performance.timeOrigin + performance.now();

export interface PutEventsEndpointProcess {
  readonly endpoint: string;
  readonly pid: number;
  /** When the first entries were accepted (in the endpoint process's clock) and how many. */
  readonly first: Promise<{ readonly at: number; readonly count: number }>;
  /** Resolves once `count` entries in all have been accepted, with when (the endpoint process's clock). */
  waitFor(count: number, timeoutMs: number): Promise<{ readonly at: number; readonly count: number }>;
  close(): Promise<void>;
}

export async function startPutEventsEndpointProcess(busNames: readonly string[]): Promise<PutEventsEndpointProcess> {
  const script = fileURLToPath(import.meta.url);
  const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", script, ...busNames], {
    cwd: resolve(import.meta.dirname, "../.."),
    stdio: ["ignore", "inherit", "inherit", "ipc"],
    env: { ...process.env, PUT_EVENTS_ENDPOINT_PROCESS: "1" },
  });
  const exited = new Promise<void>((done) => child.once("exit", () => done()));
  const waiters = new Map<number, (value: { at: number; count: number }) => void>();
  let nextId = 0;
  let onFirst: (value: { at: number; count: number }) => void = () => undefined;
  const first = new Promise<{ at: number; count: number }>((done) => (onFirst = done));
  const endpoint = await new Promise<string>((done, fail) => {
    child.once("exit", (code) => fail(new Error(`the PutEvents endpoint process exited (${code}) before it was ready`)));
    child.on("message", (message: FromChild) => {
      if (message.type === "ready") done(message.endpoint);
      else if (message.type === "first") onFirst({ at: message.at, count: message.count });
      else if (message.type === "reached") {
        waiters.get(message.id)?.({ at: message.at, count: message.count });
        waiters.delete(message.id);
      }
    });
  });
  return {
    endpoint,
    pid: child.pid!,
    first,
    waitFor: (count, timeoutMs) =>
      new Promise((done, fail) => {
        const id = nextId++;
        const timer = setTimeout(() => fail(new Error(`${count} entries were not accepted within ${timeoutMs} ms`)), timeoutMs);
        waiters.set(id, (value) => {
          clearTimeout(timer);
          done(value);
        });
        child.send({ type: "waitFor", id, count } satisfies ToChild);
      }),
    close: async () => {
      if (child.exitCode === null && child.connected) child.send({ type: "close" } satisfies ToChild);
      await exited;
    },
  };
}

async function childMain(): Promise<void> {
  const send = (message: FromChild) => process.send!(message);
  let accepted = 0;
  let lastAt = 0;
  let waiting: Array<{ id: number; count: number }> = [];
  const bus = await startLocalEventBridge({
    busNames: process.argv.slice(2),
    // Counted as they are accepted; kept nowhere (EventBridge's memory is not the streamer's cost).
    record: false,
    onAccepted: (events) => {
      const at = preciseNow();
      lastAt = at;
      if (accepted === 0) send({ type: "first", at, count: events.length });
      accepted += events.length;
      if (waiting.length === 0) return;
      for (const w of waiting) if (accepted >= w.count) send({ type: "reached", id: w.id, at, count: accepted });
      waiting = waiting.filter((w) => accepted < w.count);
    },
  });
  process.on("message", (message: ToChild) => {
    if (message.type === "close") {
      void bus.close().then(() => process.exit(0));
    } else if (accepted >= message.count) {
      // Already there: when the last entries were accepted.
      send({ type: "reached", id: message.id, at: lastAt, count: accepted });
    } else {
      waiting.push({ id: message.id, count: message.count });
    }
  });
  // The bench is gone: so is its endpoint.
  process.on("disconnect", () => process.exit(0));
  send({ type: "ready", endpoint: bus.endpoint });
}

if (process.env.PUT_EVENTS_ENDPOINT_PROCESS === "1" && process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  void childMain();
}
