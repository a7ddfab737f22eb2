import { DescribeReplayCommand, EventBridgeClient, ResourceNotFoundException, StartReplayCommand } from "@aws-sdk/client-eventbridge";
import type { Replay } from "./replay";

/** Progress of a running replay, as its engine reports it. */
export interface ReplayProgress {
  readonly State: Replay["State"];
  readonly EventsReplayed?: number;
  readonly LastReplayedTime?: number;
  readonly EndedAt?: number;
  readonly Error?: string;
}

/**
 * Replays the bus archive's events of a window back through the bus's ingest rule, each
 * marked with `replay-name` = the replay's ID (as EventBridge marks replayed events).
 */
export interface Replayer {
  start(replay: Replay): Promise<void>;
  /** The engine's view of a replay it started (failed, saying why, when it knows nothing of it). */
  progress(replay: Replay): Promise<ReplayProgress>;
}

export interface EventBridgeReplayerOptions {
  /** The bus's archive (`ARCHIVE_ARN`). */
  readonly archiveArn: string;
  /** The bus (`EVENT_BUS_ARN`): replayed events go back to it. */
  readonly busArn: string;
  /** The rule whose target is the ingest queue (`INGEST_RULE_ARN`): the only rule replayed events reach. */
  readonly ingestRuleArn: string;
  readonly client?: EventBridgeClient;
}

const STATES: Readonly<Record<string, Replay["State"]>> = { STARTING: "running", RUNNING: "running", CANCELLING: "running", COMPLETED: "completed", CANCELLED: "failed", FAILED: "failed" };

/** EventBridge's archive and replay (StartReplay / DescribeReplay), replaying to the ingest rule only. */
export class EventBridgeReplayer implements Replayer {
  private readonly client: EventBridgeClient;

  constructor(private readonly options: EventBridgeReplayerOptions) {
    this.client = options.client ?? new EventBridgeClient({});
  }

  async start(replay: Replay): Promise<void> {
    await this.client.send(
      new StartReplayCommand({
        ReplayName: replay.ID,
        Description: replay.SinkID ? `nomad-event-sinks replay to sink ${replay.SinkID}` : "nomad-event-sinks replay to every matching sink",
        EventSourceArn: this.options.archiveArn,
        EventStartTime: new Date(replay.From),
        EventEndTime: new Date(replay.To),
        Destination: { Arn: this.options.busArn, FilterArns: [this.options.ingestRuleArn] },
      }),
    );
  }

  async progress(replay: Replay): Promise<ReplayProgress> {
    let described;
    try {
      described = await this.client.send(new DescribeReplayCommand({ ReplayName: replay.ID }));
    } catch (error) {
      if (error instanceof ResourceNotFoundException) return { State: "failed", Error: `EventBridge has no replay named ${replay.ID}` };
      throw error;
    }
    const state = STATES[described.State ?? ""] ?? "running";
    return {
      State: state,
      ...(described.EventLastReplayedTime ? { LastReplayedTime: described.EventLastReplayedTime.getTime() } : {}),
      ...(described.ReplayEndTime ? { EndedAt: described.ReplayEndTime.getTime() } : {}),
      ...(state === "failed" ? { Error: described.StateReason ?? `EventBridge replay ${described.State}` } : {}),
    };
  }
}
