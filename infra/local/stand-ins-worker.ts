import { parentPort } from "node:worker_threads";
import { BUS_SOURCE } from "../../shared/streamer/event-contract";
import { sqsClient } from "../../shared/aws/sqs-client";
import { busTargets, type BusTargets } from "./eventbridge/bus-targets";
import { startLocalEventBridge, type LocalEventBridge } from "./eventbridge/local-eventbridge";
import { startFauxqsServer, type FauxqsServer } from "./fauxqs-server";
import { LOCAL_CREDENTIALS, LOCAL_REGION } from "./local-aws";
import { snapshotQueues } from "./sqs/snapshot";
import type { StandInsReply, StandInsRequest } from "./stand-ins";

/**
 * The local runtime's stand-ins for SQS (fauxqs) and EventBridge (the PutEvents endpoint,
 * its rule to the ingest queue and its archive), on a thread of their own (stand-ins.ts):
 * answers the requests the main thread sends on the parent port.
 */
const port = parentPort!;
const reply = (message: StandInsReply) => port.postMessage(message);

let fauxqs: FauxqsServer | undefined;
let bus: { readonly eventBridge: LocalEventBridge; readonly targets: BusTargets; readonly sqs: ReturnType<typeof sqsClient> } | undefined;

async function answer(request: StandInsRequest): Promise<unknown> {
  switch (request.op) {
    case "startBus": {
      const { busName, ingestQueueUrl, archiveFile } = request;
      const sqs = sqsClient({ endpoint: fauxqs!.endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
      const targets = busTargets({ sqs, ingestQueueUrl, sources: [BUS_SOURCE], archiveFile });
      // Events leave through the targets; the bus keeps none in memory (the runtime runs for days).
      const eventBridge = await startLocalEventBridge({ busNames: [busName], onAccepted: targets.onAccepted, record: false });
      bus = { eventBridge, targets, sqs };
      return eventBridge.endpoint;
    }
    case "replay":
      if (bus === undefined) throw new Error("the local bus has not started");
      return bus.targets.replay({ name: request.name, from: request.from, to: request.to, onProgress: (replayed, lastTime) => reply({ id: request.id, progress: { replayed, lastTime } }) });
    case "stopBus":
      if (bus !== undefined) {
        const stopping = bus;
        bus = undefined;
        await stopping.eventBridge.close();
        await stopping.targets.close();
        stopping.sqs.destroy();
      }
      return undefined;
    case "snapshot":
      return snapshotQueues(fauxqs!, request.queueNames);
    case "stop":
      await fauxqs?.stop();
      fauxqs = undefined;
      return undefined;
  }
}

port.on("message", (request: StandInsRequest) => {
  answer(request).then(
    (result) => reply({ id: request.id, result }),
    (error: unknown) => reply({ id: request.id, error: error instanceof Error ? error.message : String(error) }),
  );
});

try {
  fauxqs = await startFauxqsServer();
  reply({ ready: fauxqs.endpoint });
} catch (error) {
  reply({ failed: error instanceof Error ? error.message : String(error) });
}
