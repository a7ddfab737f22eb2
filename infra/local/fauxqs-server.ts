import { startFauxqs } from "fauxqs";
import { LocalServiceError } from "./dynamodb-local";
import { LOCAL_REGION } from "./local-aws";
import { patchFauxqsFifo } from "./sqs/fauxqs-fifo";

type Inspection = ReturnType<Awaited<ReturnType<typeof startFauxqs>>["inspectQueue"]>;

export interface FauxqsServer {
  /** `http://127.0.0.1:<port>`, for `AWS_ENDPOINT_URL_SQS` (and S3). */
  readonly endpoint: string;
  /** Every message of a queue (ready, delayed, in flight), without receiving any; undefined for no such queue. */
  inspectQueue(name: string): Inspection;
  stop(): Promise<void>;
}

/**
 * Starts fauxqs (SQS, and S3, in memory) on loopback, its FIFO receive made to hand out
 * several messages of one group, and to keep a group in order when messages return, as SQS does (sqs/fauxqs-fifo.ts). Queue URLs it hands out use
 * `sqs.<region>.localhost`; SQS clients send to the configured endpoint regardless
 * (SQS clients are built with `sqsClient`, shared/aws/sqs-client.ts, which sends to the endpoint).
 */
export async function startFauxqsServer(options: { port?: number } = {}): Promise<FauxqsServer> {
  try {
    await patchFauxqsFifo();
    const server = await startFauxqs({ port: options.port ?? 0, host: "localhost", logger: false, defaultRegion: LOCAL_REGION });
    return { endpoint: `http://127.0.0.1:${server.port}`, inspectQueue: (name) => server.inspectQueue(name), stop: () => server.stop() };
  } catch (error) {
    throw new LocalServiceError(`fauxqs (local SQS) could not be started: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}
