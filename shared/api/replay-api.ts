import type { Logger } from "@aws-lambda-powertools/logger";
import { newReplayId, parseReplayId, parseReplayRequest, toPublicReplay, type Replay } from "../replay/replay";
import type { DynamoReplayStore } from "../replay/dynamo-replay-store";
import type { Replayer } from "../replay/replayer";
import type { SinkStore } from "../sinks/sink-store";
import { SINK_NOT_FOUND } from "../sinks/sink";
import { owns, visibleTo } from "./access";
import { HttpError, json, writeMeta } from "./http";
import { parseJsonBody, type Request, type Route } from "./router";

export type ReplayStore = Pick<DynamoReplayStore, "create" | "save" | "get" | "list">;

export interface ReplayDeps {
  readonly replays: ReplayStore;
  /** Absent when the deployment has no archive to replay from: the endpoints answer 501. */
  readonly replayer?: Replayer;
  readonly sinks: Pick<SinkStore, "find">;
  readonly logger: Logger;
}

const NOT_FOUND = "replay not found";

/**
 * `POST /v1/event/replay` starts a replay of the bus archive for a time window, to one sink
 * or to every sink the events match; `GET /v1/event/replay/:id` reports its progress;
 * `GET /v1/event/replays` lists them. A team token replays only to one of its own sinks
 * and sees only its team's replays.
 */
export function replayRoutes(deps: ReplayDeps, now: () => number): Route[] {
  const replayer = (): Replayer => {
    if (deps.replayer === undefined) throw new HttpError(501, "replays are not configured here: the sinks API needs ARCHIVE_ARN, EVENT_BUS_ARN and INGEST_RULE_ARN (the CDK stack sets them)");
    return deps.replayer;
  };

  /** The replay with its engine's latest progress; a replay that ended is saved as ended. */
  async function current(replay: Replay): Promise<Replay> {
    if (replay.State !== "running") return replay;
    const progress = await replayer().progress(replay);
    const updated: Replay = { ...replay, ...progress };
    if (updated.State !== "running") {
      await deps.replays.save(updated).catch((error: unknown) => deps.logger.warn("could not save a replay's end; it is reported from the engine", { replayId: replay.ID, error: (error as Error).message }));
    }
    return updated;
  }

  const visible = (request: Request, replay: Replay | undefined): Replay => visibleTo(request.principal, replay, NOT_FOUND);

  return [
    {
      pattern: ["event", "replay"],
      methods: {
        POST: async (request) => {
          const at = now();
          const wanted = parseReplayRequest(parseJsonBody(request), at);
          const engine = replayer();
          const { principal } = request;
          if (principal.kind === "team" && wanted.SinkID === undefined) throw new HttpError(400, "a team token replays to one of its team's sinks: give SinkID");
          if (wanted.SinkID !== undefined) {
            visibleTo(principal, await deps.sinks.find(wanted.SinkID), SINK_NOT_FOUND);
          }
          const replay = await deps.replays.create({
            ID: newReplayId(),
            ...(wanted.SinkID !== undefined ? { SinkID: wanted.SinkID } : {}),
            ...(principal.kind === "team" ? { Team: principal.token.Team } : {}),
            From: wanted.From,
            To: wanted.To,
            State: "running",
            StartedAt: at,
          });
          try {
            await engine.start(replay);
          } catch (error) {
            const failed: Replay = { ...replay, State: "failed", EndedAt: now(), Error: (error as Error).message };
            await deps.replays.save(failed).catch((saveError: unknown) => deps.logger.warn("could not save a replay that failed to start", { replayId: replay.ID, error: (saveError as Error).message }));
            throw new HttpError(502, `the replay could not start: ${(error as Error).message}`);
          }
          deps.logger.info("replay started", { replayId: replay.ID, sinkId: replay.SinkID, from: replay.From, to: replay.To });
          return json(toPublicReplay(replay), { pretty: request.pretty, headers: writeMeta(replay.CreateIndex) });
        },
      },
    },
    {
      pattern: ["event", "replays"],
      methods: {
        GET: async (request) => {
          const mine = (await deps.replays.list()).filter((r) => owns(request.principal, r.Team));
          // Running ones with their engine's latest progress, as GET /v1/event/replay/:id shows them.
          return json((await Promise.all(mine.map(current))).map(toPublicReplay), { pretty: request.pretty });
        },
      },
    },
    {
      pattern: ["event", "replay", ":id"],
      parseId: parseReplayId,
      idName: "replay ID",
      methods: {
        GET: async (request, id) => {
          const replay = await current(visible(request, await deps.replays.get(id)));
          return json(toPublicReplay(replay), { pretty: request.pretty });
        },
      },
    },
  ];
}
