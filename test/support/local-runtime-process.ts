import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { resolve } from "node:path";

const ROOT = resolve(import.meta.dirname, "../..");

export interface RuntimeProcess {
  readonly child: ChildProcessWithoutNullStreams;
  output(): string;
  /** Resolves with the output once `pattern` appears; rejects if the process exits first. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Sends `signal` and resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  /** Resolves with the exit code once the process ends by itself. */
  exited(): Promise<number | null>;
}

/** Runs `npm start`'s entry (infra/local/main.ts) as its own process, as a user would. */
export function startRuntimeProcess(env: Record<string, string>, args: string[] = []): RuntimeProcess {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith("AWS_ENDPOINT_URL") && !name.startsWith("SINKS_")));
  const child = spawn(process.execPath, ["--import", "tsx", "infra/local/main.ts", ...args], { cwd: ROOT, env: { ...clean, ...env }, stdio: "pipe" });
  let out = "";
  child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (out += chunk.toString()));
  const exited = new Promise<number | null>((done) => child.once("exit", (code) => done(code)));
  return {
    child,
    output: () => out,
    waitFor: (pattern, timeoutMs = 60_000) =>
      new Promise((resolveMatch, reject) => {
        const timer = setInterval(() => {
          const match = out.match(pattern);
          if (match) {
            clearInterval(timer);
            resolveMatch(match);
          } else if (child.exitCode !== null || Date.now() > deadline) {
            clearInterval(timer);
            reject(new Error(`${pattern} did not appear (exit ${child.exitCode}); output:\n${out}`));
          }
        }, 50);
        const deadline = Date.now() + timeoutMs;
      }),
    exited: () => exited,
    stop: async (signal = "SIGINT") => {
      if (child.exitCode === null) child.kill(signal);
      return exited;
    },
  };
}
