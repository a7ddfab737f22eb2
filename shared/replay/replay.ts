import { randomUUID } from "node:crypto";
import { z } from "zod";
import { ValidationError } from "../errors";
import { parseRfc3339, rfc3339Schema } from "../rfc3339";
import { parseOrThrow } from "../validation";
import { SinkIdSchema } from "../sinks/sink";

export const REPLAY_STATES = ["running", "completed", "failed"] as const;
export type ReplayState = (typeof REPLAY_STATES)[number];

/** A replay of the bus archive, as stored: who asked, for what window and which sink. */
export interface Replay {
  /** `replay-<uuid>`: also the EventBridge replay's name and the `replay-name` on its events. */
  readonly ID: string;
  /** Deliver the replayed events to this sink only; absent: to every sink they match. */
  readonly SinkID?: string;
  /** The team of the token that started it (absent for management). */
  readonly Team?: string;
  /** The archive window, epoch milliseconds: events whose time is in [From, To). */
  readonly From: number;
  readonly To: number;
  readonly State: ReplayState;
  readonly StartedAt: number;
  readonly EndedAt?: number;
  readonly EventsReplayed?: number;
  /** Time of the last event replayed so far (EventBridge reports this as progress). */
  readonly LastReplayedTime?: number;
  readonly Error?: string;
  readonly CreateIndex: number;
}

/** What the API shows of a replay. */
export interface PublicReplay {
  ID: string;
  SinkID: string;
  From: string;
  To: string;
  State: ReplayState;
  EventsReplayed: number | null;
  LastReplayedTime: string | null;
  StartedAt: string;
  EndedAt: string | null;
  Error: string;
  CreateIndex: number;
}

const iso = (ms: number | undefined) => (ms !== undefined ? new Date(ms).toISOString() : null);

export function toPublicReplay(replay: Replay): PublicReplay {
  return {
    ID: replay.ID,
    SinkID: replay.SinkID ?? "",
    From: new Date(replay.From).toISOString(),
    To: new Date(replay.To).toISOString(),
    State: replay.State,
    EventsReplayed: replay.EventsReplayed ?? null,
    LastReplayedTime: iso(replay.LastReplayedTime),
    StartedAt: new Date(replay.StartedAt).toISOString(),
    EndedAt: iso(replay.EndedAt),
    Error: replay.Error ?? "",
    CreateIndex: replay.CreateIndex,
  };
}

export function newReplayId(): string {
  return `replay-${randomUUID()}`;
}

/** EventBridge replay names: `[.\-_A-Za-z0-9]+`, at most 64 characters; ours are `replay-<uuid>`. */
export function parseReplayId(id: string): string {
  if (!/^replay-[0-9a-f-]{36}$/.test(id)) throw new ValidationError(`invalid replay ID in the path: must be a replay's ID (replay-<uuid>); received ${JSON.stringify(id.slice(0, 80))}`);
  return id;
}

const TimeSchema = rfc3339Schema("2026-11-21T10:00:00Z");

const ReplayRequestSchema = z.strictObject(
  { From: TimeSchema, To: TimeSchema, SinkID: z.union([z.literal(""), SinkIdSchema]).optional() },
  { error: 'must be a JSON object with From and To (RFC 3339 times) and optionally SinkID, such as {"From":"2026-11-21T10:00:00Z","To":"2026-11-21T11:00:00Z","SinkID":"audit"}' },
);

export interface ReplayRequest {
  readonly From: number;
  readonly To: number;
  readonly SinkID?: string;
}

/** Validates `POST /v1/event/replay`: a window in the past, From before To. */
export function parseReplayRequest(input: unknown, now: number): ReplayRequest {
  const body = parseOrThrow(ReplayRequestSchema, input, "replay");
  const from = parseRfc3339(body.From)!;
  const to = parseRfc3339(body.To)!;
  const problems: string[] = [];
  if (from >= to) problems.push(`From must be before To; received From ${JSON.stringify(body.From)} and To ${JSON.stringify(body.To)}`);
  if (to > now) problems.push(`To must not be in the future (the archive holds only what happened); received ${JSON.stringify(body.To)}, now is ${new Date(now).toISOString()}`);
  if (problems.length > 0) throw new ValidationError(`invalid replay: ${problems.join("; ")}`, problems);
  return { From: from, To: to, ...(body.SinkID ? { SinkID: body.SinkID } : {}) };
}
