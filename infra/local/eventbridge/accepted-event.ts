import { LOCAL_ACCOUNT_ID, LOCAL_REGION } from "../local-aws";

/** One event the local bus accepted (answered with an EventId). */
export interface AcceptedEvent {
  /** The EventId answered for it (a UUID), also the event's `id`. */
  readonly id: string;
  /** The bus's name (an ARN in the request is reduced to its name). */
  readonly bus: string;
  readonly source: string;
  readonly detailType: string;
  /** Exactly as sent. */
  readonly detail: string;
  readonly resources: readonly string[];
  /** The event's `time`: the entry's Time, else receipt, as `2026-01-02T03:04:05Z`. */
  readonly time: string;
  /** When the call's body arrived, ISO 8601 with milliseconds. */
  readonly receivedAt: string;
  readonly traceHeader?: string;
  /** The PutEvents call that carried it (1-based, as in `calls()`), and its place there. */
  readonly callNumber: number;
  readonly indexInCall: number;
}

/** What a rule target (an SQS queue, an archive) receives for an event. */
export interface EventBridgeEnvelope {
  readonly version: "0";
  readonly id: string;
  readonly "detail-type": string;
  readonly source: string;
  readonly account: string;
  readonly time: string;
  readonly region: string;
  readonly resources: readonly string[];
  readonly detail: Record<string, unknown>;
}

/**
 * The event as EventBridge hands it to targets, keys in AWS's order. Detail goes through
 * JSON.parse, so integers beyond 2^53 lose precision here; AWS keeps them.
 */
export function toEventEnvelope(event: AcceptedEvent, where: { account?: string; region?: string } = {}): EventBridgeEnvelope {
  return {
    version: "0",
    id: event.id,
    "detail-type": event.detailType,
    source: event.source,
    account: where.account ?? LOCAL_ACCOUNT_ID,
    time: event.time,
    region: where.region ?? LOCAL_REGION,
    resources: event.resources,
    detail: JSON.parse(event.detail) as Record<string, unknown>,
  };
}

/**
 * `JSON.stringify(toEventEnvelope(event))` with the detail spliced in as sent, so its numbers
 * keep every digit (EventBridge hands targets the detail unchanged; a parse would round
 * integers beyond 2^53, such as Nomad's nanosecond times).
 */
export function eventEnvelopeJson(event: AcceptedEvent, where: { account?: string; region?: string } = {}): string {
  return (
    `{"version":"0","id":${JSON.stringify(event.id)},"detail-type":${JSON.stringify(event.detailType)},"source":${JSON.stringify(event.source)},` +
    `"account":${JSON.stringify(where.account ?? LOCAL_ACCOUNT_ID)},"time":${JSON.stringify(event.time)},"region":${JSON.stringify(where.region ?? LOCAL_REGION)},` +
    `"resources":${JSON.stringify(event.resources)},"detail":${event.detail}}`
  );
}

/** The `time` and `source` of an envelope eventEnvelopeJson wrote (they come before `detail`), without parsing the detail. */
export function envelopeHead(line: string): { time: number; source: string } | undefined {
  const head = line.slice(0, line.indexOf(',"detail":'));
  const time = /"time":"([^"]+)"/.exec(head)?.[1];
  const source = /"source":"((?:[^"\\]|\\.)*)"/.exec(head)?.[1];
  if (time === undefined || source === undefined) return undefined;
  return { time: Date.parse(time), source: JSON.parse(`"${source}"`) as string };
}

/** An envelope eventEnvelopeJson wrote, replayed: `"replay-name"` just before `detail`, as EventBridge adds it. */
export function withReplayName(envelope: string, name: string): string {
  return envelope.replace(',"detail":', `,"replay-name":${JSON.stringify(name)},"detail":`);
}
