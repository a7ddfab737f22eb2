// First: the heap policy applies before the rest of the streamer loads.
import "./heap-policy";
import { createLogger } from "../../shared/observability/logger";
import { readStreamerConfig } from "./config";
import { startStreamerProcess } from "./process";

const logger = createLogger("streamer");

async function main(): Promise<void> {
  let config;
  try {
    config = readStreamerConfig(process.env);
  } catch (error) {
    process.stderr.write(`streamer: ${(error as Error).message}\n`);
    process.exit(2);
  }
  const streamer = await startStreamerProcess(config, logger);
  logger.info("streamer started", { cluster: config.cluster, nomad: config.nomad.address, bus: config.busName, healthPort: streamer.healthPort });
  let stopping = false;
  const shutdown = (signal: string) => {
    stopping = true;
    // ECS sends SIGTERM and waits stopTimeout (30 s by default) before SIGKILL.
    const deadline = setTimeout(() => {
      logger.error("shutdown took too long; exiting", { afterMs: config.shutdownMs });
      process.exit(1);
    }, config.shutdownMs);
    deadline.unref();
    void streamer.stop(signal).then(() => process.exit(0));
  };
  process.once("SIGTERM", () => shutdown("SIGTERM"));
  process.once("SIGINT", () => shutdown("SIGINT"));
  await streamer.done;
  // Reaching here without a signal means the loop died on an error (already logged).
  if (!stopping) process.exit(1);
}

void main();
