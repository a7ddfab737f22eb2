import { Worker } from "node:worker_threads";
import type { BusTargets } from "./eventbridge/bus-targets";
import { LocalServiceError } from "./dynamodb-local";
import type { QueueSnapshot } from "./sqs/snapshot";

/**
 * The local runtime's AWS stand-ins that run in Node, fauxqs (SQS) and the local bus
 * (PutEvents endpoint, rule to the ingest queue, archive), on a worker thread: in AWS they
 * are services of their own, and here they take as much CPU as the pipeline they serve
 * (≈ 30 % of the runtime's one thread at 1,000 events/s, docs/benchmarks.md), so they get
 * the machine's other core instead of queueing behind the streamer and the functions.
 * Everything reaches them over HTTP as before (their endpoints); the rest is asked for here.
 */
export interface StandIns {
  /** fauxqs: `http://127.0.0.1:<port>`, for AWS_ENDPOINT_URL_SQS. */
  readonly sqsEndpoint: string;
  /** Starts the bus with its rule (`source: nomad` → the ingest queue) and archive; resolves with its endpoint. */
  startBus(options: { busName: string; ingestQueueUrl: string; archiveFile: string }): Promise<string>;
  /** The archive replay (bus-targets.ts), run on the stand-ins' thread. */
  readonly replay: BusTargets["replay"];
  /** Stops the bus: calls in progress finish, the archive is closed. */
  stopBus(): Promise<void>;
  /** Every message of the named queues (sqs/snapshot.ts). */
  snapshot(queueNames: readonly string[]): Promise<QueueSnapshot>;
  /** Stops fauxqs and ends the thread. */
  stop(): Promise<void>;
  /** Rejects if the thread fails (an uncaught error there); never resolves otherwise. */
  readonly failure: Promise<never>;
}

export type StandInsRequest =
  | { id: number; op: "startBus"; busName: string; ingestQueueUrl: string; archiveFile: string }
  | { id: number; op: "replay"; name: string; from: number; to: number }
  | { id: number; op: "stopBus" }
  | { id: number; op: "snapshot"; queueNames: readonly string[] }
  | { id: number; op: "stop" };

export type StandInsReply =
  | { ready: string }
  | { failed: string }
  | { id: number; result: unknown }
  | { id: number; error: string }
  | { id: number; progress: { replayed: number; lastTime: number } };

/** The longest a clean stop waits for the thread to stop fauxqs before ending it. */
const STOP_WAIT_MS = 5_000;

type Op = StandInsRequest["op"];

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
  onProgress?: ((replayed: number, lastTime: number) => void) | undefined;
}

export async function startStandIns(): Promise<StandIns> {
  const worker = new Worker(new URL("./worker-thread.mjs", import.meta.url), { workerData: { entry: new URL("./stand-ins-worker.ts", import.meta.url).href } });
  const pending = new Map<number, Pending>();
  let nextId = 0;
  let ended: Error | undefined;
  let fail: (error: Error) => void = () => undefined;
  const failure = new Promise<never>((_, reject) => (fail = reject));
  failure.catch(() => undefined);
  /** From now on every call fails with the first reason given; those waiting fail now. */
  const close = (error: Error) => {
    ended ??= error;
    for (const call of pending.values()) call.reject(ended);
    pending.clear();
  };
  const end = (error: Error) => {
    close(error);
    fail(error);
  };

  const endpoint = await new Promise<string>((resolve, reject) => {
    worker.on("message", (message: StandInsReply) => {
      if ("ready" in message) return resolve(message.ready);
      if ("failed" in message) {
        ended ??= new LocalServiceError(message.failed);
        void worker.terminate();
        return reject(ended);
      }
      const call = pending.get(message.id);
      if (call === undefined) return;
      if ("progress" in message) return call.onProgress?.(message.progress.replayed, message.progress.lastTime);
      pending.delete(message.id);
      if ("error" in message) call.reject(new Error(message.error));
      else call.resolve(message.result);
    });
    worker.on("error", (error) => {
      reject(error);
      if (ended === undefined) end(new LocalServiceError(`the local stand-ins' thread (SQS, the bus) failed: ${error.message}`, { cause: error }));
    });
    worker.on("exit", (code) => {
      reject(new LocalServiceError(`the local stand-ins' thread ended (code ${code}) before it was ready`));
      if (ended === undefined) end(new LocalServiceError(`the local stand-ins' thread (SQS, the bus) ended (code ${code})`));
    });
  });

  const call = <T>(op: Op, fields: Record<string, unknown> = {}, onProgress?: Pending["onProgress"]): Promise<T> => {
    if (ended !== undefined) return Promise.reject(ended);
    const id = nextId++;
    return new Promise<T>((resolve, reject) => {
      pending.set(id, { resolve: resolve as (value: unknown) => void, reject, onProgress });
      worker.postMessage({ id, op, ...fields });
    });
  };

  return {
    sqsEndpoint: endpoint,
    startBus: (options) => call<string>("startBus", options),
    replay: ({ onProgress, ...options }) => call<number>("replay", options, onProgress),
    stopBus: () => call<void>("stopBus"),
    snapshot: (queueNames) => call<QueueSnapshot>("snapshot", { queueNames }),
    stop: async () => {
      if (ended === undefined) {
        // fauxqs closes its server; a stop that hangs does not hold up the runtime's for more than STOP_WAIT_MS.
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([call<void>("stop").catch(() => undefined), new Promise<void>((resolve) => (timer = setTimeout(resolve, STOP_WAIT_MS)))]);
        clearTimeout(timer);
      }
      // Anything still waiting (a replay under way) ends now rather than never.
      close(new Error("the local stand-ins have stopped"));
      await worker.terminate();
    },
    failure,
  };
}
