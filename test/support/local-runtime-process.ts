import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { resolve } from "node:path";
import { until } from "./until";

const ROOT = resolve(import.meta.dirname, "../..");

export interface RuntimeProcess {
  readonly child: ChildProcessWithoutNullStreams;
  output(): string;
  /** Resolves with the output once `pattern` appears; rejects if the process exits first. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Sends `signal` to the process's group, as a terminal's Ctrl-C does, and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** Resolves with the exit code once the process ends by itself. */
  exited(): Promise<number | null>;
}

/**
 * This process's environment without the project's own settings, so a developer's exported
 * NOMAD_ADDR (or any other setting of the runtime, its functions or the CLI) never reaches
 * a test's process: each test says what it sets.
 */
export function cleanEnvironment(): Record<string, string> {
  const ours =
    /^(AWS_ENDPOINT_URL|SINKS_|NOMAD_|SIMULATED_|STREAMER_|STREAM_|DELIVERY_|DELIVERIES_|WEBHOOK_|FANOUT_|DELIVER_|SINK_CACHE|SINK_CHECK_MS$|PAYLOAD_|EVENT_BUS|EVENTBRIDGE_|ARCHIVE_ARN$|INGEST_RULE_ARN$|HEALTH_PORT$|HEALTH_HOST$|LEASE_|METRICS_|NAMESPACE_POLL_|SHUTDOWN_|SQS_|S3_|POWERTOOLS_|RECEIVER_|LOCAL_DATA_DIR$|PORT$|HOST$|COUNTERS_)/;
  return Object.fromEntries(Object.entries(process.env).filter((entry): entry is [string, string] => !ours.test(entry[0]) && entry[1] !== undefined));
}

/** Runs `npm start`'s entry (infra/local/main.ts) as its own process, as a user would. */
export function startRuntimeProcess(env: Record<string, string>, args: string[] = []): RuntimeProcess {
  return startNodeProcess("infra/local/main.ts", { ...cleanEnvironment(), ...env }, args);
}

/** Runs a TypeScript entry of the repository (through tsx) as its own process, with exactly `env`. */
export function startNodeProcess(entry: string, env: NodeJS.ProcessEnv, args: string[] = []): RuntimeProcess {
  // A process group of its own (detached), so stop() can signal it as a terminal's Ctrl-C does: every
  // process in the foreground group gets the signal, the children the runtime started included.
  const child = spawn(process.execPath, ["--import", "tsx", entry, ...args], { cwd: ROOT, env, stdio: "pipe", detached: true });
  let out = "";
  child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (out += chunk.toString()));
  const exited = new Promise<number | null>((done) => child.once("exit", (code) => done(code)));
  return {
    child,
    output: () => out,
    waitFor: async (pattern, timeoutMs = 60_000) => {
      await until(() => pattern.test(out) || child.exitCode !== null, timeoutMs, `${pattern} in the output`).catch(() => undefined);
      const match = out.match(pattern);
      if (match === null) throw new Error(`${pattern} did not appear (exit ${child.exitCode}); output:\n${out}`);
      return match;
    },
    exited: () => exited,
    stop: async (signal = "SIGINT") => {
      if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) {
        try {
          process.kill(-child.pid, signal);
        } catch (error) {
          // Gone in the meantime (ESRCH): nothing left to signal.
          if ((error as NodeJS.ErrnoException).code !== "ESRCH") throw error;
        }
      }
      return exited;
    },
  };
}
