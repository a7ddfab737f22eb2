import type { Logger } from "@aws-lambda-powertools/logger";
import type { DynamoReplayStore } from "../../../shared/replay/dynamo-replay-store";
import type { Replay } from "../../../shared/replay/replay";
import type { Replayer, ReplayProgress } from "../../../shared/replay/replayer";
import type { BusTargets } from "./bus-targets";

/**
 * EventBridge's archive replay for the local runtime: reads the local bus's archive and
 * sends the window's events through the ingest rule with `replay-name`, in the background.
 * Progress is kept in memory and the end is saved in the replay store; a replay the runtime
 * was stopped during reports that it did not finish.
 */
export function localReplayer(targets: Pick<BusTargets, "replay">, store: Pick<DynamoReplayStore, "save">, logger: Logger, now: () => number = Date.now): Replayer {
  const progress = new Map<string, ReplayProgress>();
  const finish = async (replay: Replay, end: ReplayProgress) => {
    progress.set(replay.ID, end);
    await store.save({ ...replay, ...end }).catch((error: unknown) => logger.warn("could not save a replay's end", { replayId: replay.ID, error: (error as Error).message }));
  };
  return {
    async start(replay) {
      progress.set(replay.ID, { State: "running", EventsReplayed: 0 });
      let last: number | undefined;
      void targets
        .replay({
          name: replay.ID,
          from: replay.From,
          to: replay.To,
          onProgress: (replayed, lastTime) => {
            last = lastTime > 0 ? lastTime : last;
            progress.set(replay.ID, { State: "running", EventsReplayed: replayed, ...(last !== undefined ? { LastReplayedTime: last } : {}) });
          },
        })
        .then((replayed) => finish(replay, { State: "completed", EventsReplayed: replayed, ...(last !== undefined ? { LastReplayedTime: last } : {}), EndedAt: now() }))
        .catch((error: unknown) => finish(replay, { State: "failed", Error: (error as Error).message, EndedAt: now() }));
    },
    async progress(replay) {
      return progress.get(replay.ID) ?? { State: "failed", Error: "the local runtime stopped before this replay finished; start it again", EndedAt: now() };
    },
  };
}
