import { startFauxqs } from "fauxqs";
import { LocalServiceError } from "./dynamodb-local";
import { LOCAL_REGION } from "./local-aws";

export interface FauxqsServer {
  /** `http://127.0.0.1:<port>`, for `AWS_ENDPOINT_URL_SQS` (and S3). */
  readonly endpoint: string;
  stop(): Promise<void>;
}

/**
 * Starts fauxqs (SQS, and S3, in memory) on loopback. Queue URLs it hands out use
 * `sqs.<region>.localhost`; SQS clients send to the configured endpoint regardless
 * (SQS clients are built with `sqsClient`, shared/aws/sqs-client.ts, which sends to the endpoint).
 */
export async function startFauxqsServer(options: { port?: number } = {}): Promise<FauxqsServer> {
  try {
    const server = await startFauxqs({ port: options.port ?? 0, host: "localhost", logger: false, defaultRegion: LOCAL_REGION });
    return { endpoint: `http://127.0.0.1:${server.port}`, stop: () => server.stop() };
  } catch (error) {
    throw new LocalServiceError(`fauxqs (local SQS) could not be started: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
}
