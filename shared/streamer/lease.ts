import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import {
  ConditionalCheckFailedException,
  DynamoDBClient,
  GetItemCommand,
  UpdateItemCommand,
  type AttributeValue,
  type DynamoDBClientConfig,
} from "@aws-sdk/client-dynamodb";
import { sleep } from "../retry/backoff";
import { CorruptStreamerItemError, leaseKey } from "./streamer-table";
import { LeanDynamoDBClient } from "../aws/lean-clients";

type Item = Record<string, AttributeValue>;

export const DEFAULT_LEASE_DURATION_MS = 15_000;

/** The lease is not (or no longer) held by this process: stop publishing. */
export class LeaseLostError extends Error {
  override readonly name = "LeaseLostError";
}

/** The lease item as stored (for health checks and operators). */
export interface LeaseRecord {
  readonly holder: string;
  /** Epoch ms; the lease is free once `expiresAt < now`. 0 after a release. */
  readonly expiresAt: number;
  readonly fencingToken: number;
}

export interface DynamoLeaseOptions {
  /** The streamer table (layout in streamer-table.ts). */
  readonly tableName: string;
  /** @default a client built from `clientConfig` */
  readonly client?: DynamoDBClient;
  /** @default {} (region, credentials and `AWS_ENDPOINT_URL_DYNAMODB` from the environment) */
  readonly clientConfig?: DynamoDBClientConfig;
  /** The Nomad cluster label the lease is for. */
  readonly cluster: string;
  /** Unique per process and per lease object (see `leaseHolderId`). */
  readonly holder: string;
  /** @default 15 000 */
  readonly durationMs?: number;
  /** Epoch ms. @default Date.now */
  readonly now?: () => number;
}

/** A holder ID unique to this process and call: host, pid and a random part (pids repeat across restarts and containers). */
export function leaseHolderId(): string {
  return `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
}

/**
 * A lease in DynamoDB so that exactly one streamer per Nomad cluster publishes.
 *
 * Time: expiry is judged by the clock of whoever makes the call (`now`), sent as a
 * value in the condition; DynamoDB's own clock is never used. A standby takes over when
 * its clock says `ExpiresAt < now`, while the holder acts only while its clock says
 * `now < ExpiresAt` (the instant `now == ExpiresAt` belongs to neither, so they can
 * never both be right). This is safe only while the clocks of the machines involved
 * differ by much less than `durationMs` (NTP-synced hosts are within milliseconds;
 * keep `durationMs` in seconds), and while the holder renews well before expiry.
 * Whatever the clocks do, the fencing token stops a former holder from moving the
 * checkpoint once a new holder has acquired the lease.
 *
 * Fencing token: grows by one on every acquisition that is not the continuation of a
 * live term of this holder, including re-acquiring one's own lease after it lapsed
 * (anything done under the lapsed term is then fenced off too). Renewals keep it.
 */
export class DynamoLease {
  readonly cluster: string;
  readonly holder: string;
  readonly durationMs: number;
  readonly now: () => number;
  private readonly client: DynamoDBClient;
  private readonly tableName: string;
  /** The term as of the last successful call; undefined once a call said it was lost. */
  private term: { readonly expiresAt: number; readonly fencingToken: number } | undefined;

  constructor(options: DynamoLeaseOptions) {
    const durationMs = options.durationMs ?? DEFAULT_LEASE_DURATION_MS;
    if (!Number.isSafeInteger(durationMs) || durationMs <= 0) throw new RangeError(`lease durationMs must be a positive integer, got ${durationMs}`);
    if (options.holder === "") throw new RangeError("lease holder must not be empty");
    leaseKey(options.cluster); // rejects an empty cluster label now rather than on first use
    this.tableName = options.tableName;
    this.client = options.client ?? new LeanDynamoDBClient(options.clientConfig ?? {});
    this.cluster = options.cluster;
    this.holder = options.holder;
    this.durationMs = durationMs;
    this.now = options.now ?? Date.now;
  }

  /** Held as of the last successful call, and not past expiry by the local clock. */
  get held(): boolean {
    return this.term !== undefined && this.now() < this.term.expiresAt;
  }

  /** The token of the current term; undefined before an acquisition and after a call found the lease lost. */
  get fencingToken(): number | undefined {
    return this.term?.fencingToken;
  }

  /** When the current term ends (epoch ms); undefined like `fencingToken`. */
  get expiresAt(): number | undefined {
    return this.term?.expiresAt;
  }

  /**
   * Takes the lease if it is free (no item, or expired) or extends it if this holder
   * has it already. Resolves false if another holder has a live lease.
   */
  async tryAcquire(): Promise<boolean> {
    const now = this.now();
    // Whichever is likelier first; either order is correct, since each write is conditional on its own.
    const attempts = this.term !== undefined ? [() => this.extend(now), () => this.takeOver(now)] : [() => this.takeOver(now), () => this.extend(now)];
    for (const attempt of attempts) {
      const item = await attempt();
      if (item !== undefined) {
        this.term = termFromItem(item);
        return true;
      }
    }
    this.term = undefined;
    return false;
  }

  /**
   * Extends the current term. False means the lease is lost (taken over, released, or
   * expired by this clock): the caller must stop publishing. Throws only if DynamoDB
   * could not be asked; the term then still ends at `expiresAt`.
   */
  async renew(): Promise<boolean> {
    const term = this.term;
    if (term === undefined) return false;
    const item = await this.extend(this.now(), term.fencingToken);
    this.term = item === undefined ? undefined : termFromItem(item);
    return item !== undefined;
  }

  /**
   * Ends this holder's term at once so a standby can take over without waiting for the
   * expiry. Does nothing if another holder has the lease. The item (and its fencing
   * token) stays; only ExpiresAt goes to 0.
   */
  async release(): Promise<void> {
    const term = this.term;
    this.term = undefined;
    // Sent even without a known term: an acquisition whose answer was lost may have succeeded.
    await this.conditionalUpdate({
      UpdateExpression: "SET ExpiresAt = :released",
      ConditionExpression: term === undefined ? "Holder = :holder" : "Holder = :holder AND FencingToken = :token",
      ExpressionAttributeValues: {
        ":holder": { S: this.holder },
        ":released": { N: "0" },
        ...(term !== undefined ? { ":token": { N: String(term.fencingToken) } } : {}),
      },
    });
  }

  /** The lease as stored now (strongly consistent), whoever holds it; undefined if never acquired. */
  async describe(): Promise<LeaseRecord | undefined> {
    const { Item } = await this.client.send(new GetItemCommand({ TableName: this.tableName, Key: leaseKey(this.cluster), ConsistentRead: true }));
    if (Item === undefined) return undefined;
    const holder = Item.Holder?.S;
    if (holder === undefined) throw new CorruptStreamerItemError(`lease item of cluster ${JSON.stringify(this.cluster)} has no string attribute Holder`);
    return { holder, ...termFromItem(Item) };
  }

  /** A free lease (none yet, or expired by this clock) becomes ours under the next fencing token. */
  private takeOver(now: number): Promise<Item | undefined> {
    return this.conditionalUpdate({
      UpdateExpression: "SET Holder = :holder, ExpiresAt = :expires, FencingToken = if_not_exists(FencingToken, :zero) + :one",
      ConditionExpression: "attribute_not_exists(pk) OR ExpiresAt < :now",
      ExpressionAttributeValues: {
        ":holder": { S: this.holder },
        ":now": { N: String(now) },
        ":expires": { N: String(now + this.durationMs) },
        ":zero": { N: "0" },
        ":one": { N: "1" },
      },
    });
  }

  /** A live term of ours (under `token`, or whatever its token) goes on, under the same token. */
  private extend(now: number, token?: number): Promise<Item | undefined> {
    const live = liveTermCondition(this.holder, token, now);
    return this.conditionalUpdate({
      UpdateExpression: "SET ExpiresAt = :expires",
      ConditionExpression: live.ConditionExpression,
      ExpressionAttributeValues: { ...live.ExpressionAttributeValues, ":expires": { N: String(now + this.durationMs) } },
    });
  }

  /** The item after the update, or undefined if its condition failed. */
  private async conditionalUpdate(input: {
    UpdateExpression: string;
    ConditionExpression: string;
    ExpressionAttributeValues: Item;
  }): Promise<Item | undefined> {
    try {
      const result = await this.client.send(
        new UpdateItemCommand({ TableName: this.tableName, Key: leaseKey(this.cluster), ReturnValues: "ALL_NEW", ...input }),
      );
      return result.Attributes;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return undefined;
      throw error;
    }
  }
}

function termFromItem(item: Item): { expiresAt: number; fencingToken: number } {
  const expiresAt = item.ExpiresAt?.N;
  const fencingToken = item.FencingToken?.N;
  if (expiresAt === undefined || fencingToken === undefined) {
    throw new CorruptStreamerItemError(`lease item ${JSON.stringify(item.pk?.S)} lacks ExpiresAt or FencingToken`);
  }
  return { expiresAt: Number(expiresAt), fencingToken: Number(fencingToken) };
}

/** What `keepLease` needs of a lease. */
export type RenewableLease = Pick<DynamoLease, "renew" | "expiresAt" | "durationMs" | "now">;

export interface KeepLeaseOptions {
  /** @default a third of the lease duration */
  readonly renewEveryMs?: number;
  /** Called at most once, when the lease is lost; the caller must stop publishing. */
  readonly onLost: (reason: LeaseLostError) => void;
  /** Aborting stops the renewals without calling `onLost` (release the lease after). */
  readonly signal?: AbortSignal;
}

/**
 * Renews the lease every `renewEveryMs` until the signal aborts or the lease is lost.
 * Lost means a renewal was refused, or renewals kept failing (DynamoDB unreachable)
 * until the term ran out by the local clock; after a failure the next try comes no
 * later than the expiry, so the loss is reported by the time a standby may take over.
 * Resolves when it stops; rejects only if `onLost` throws.
 */
export async function keepLease(lease: RenewableLease, options: KeepLeaseOptions): Promise<void> {
  const every = options.renewEveryMs ?? Math.max(1, Math.floor(lease.durationMs / 3));
  if (!(every > 0 && every < lease.durationMs)) {
    throw new RangeError(`renewEveryMs must be above 0 and below the lease duration (${lease.durationMs} ms), got ${every}`);
  }
  const { signal, onLost } = options;
  let failure: unknown;
  let failed = false;
  for (;;) {
    const expiresAt = lease.expiresAt;
    const wait = failed && expiresAt !== undefined ? Math.max(1, Math.min(every, expiresAt - lease.now())) : every;
    await pause(wait, signal);
    if (signal?.aborted) return;
    let renewed: boolean | undefined;
    try {
      renewed = await lease.renew();
      failed = false;
    } catch (error) {
      failure = error;
      failed = true;
    }
    if (signal?.aborted) return;
    if (renewed === true) continue;
    if (renewed === false) {
      onLost(new LeaseLostError("the lease renewal was refused: another holder took the lease, or it expired"));
      return;
    }
    const end = lease.expiresAt;
    if (end === undefined || lease.now() >= end) {
      onLost(new LeaseLostError("the lease expired while renewals kept failing", { cause: failure }));
      return;
    }
  }
}

/** What `waitForLease` needs of a lease. */
export type AcquirableLease = Pick<DynamoLease, "tryAcquire" | "release" | "durationMs">;

export interface WaitForLeaseOptions {
  /** @default a third of the lease duration */
  readonly pollMs?: number;
  readonly signal?: AbortSignal;
  /** Called for an attempt that threw, and polling goes on. @default none: the error rejects the wait */
  readonly onError?: (error: unknown) => void;
}

/**
 * Standby mode: tries to acquire the lease every `pollMs` until it succeeds (true) or
 * the signal aborts (false). False always means the lease is not held: one acquired
 * just as the signal aborted is released again.
 */
export async function waitForLease(lease: AcquirableLease, options: WaitForLeaseOptions = {}): Promise<boolean> {
  const pollMs = options.pollMs ?? Math.max(1, Math.floor(lease.durationMs / 3));
  if (!(pollMs > 0)) throw new RangeError(`pollMs must be above 0, got ${pollMs}`);
  const { signal } = options;
  for (;;) {
    if (signal?.aborted) return false;
    let acquired = false;
    try {
      acquired = await lease.tryAcquire();
    } catch (error) {
      if (options.onError === undefined) throw error;
      options.onError(error);
    }
    if (acquired) {
      if (!signal?.aborted) return true;
      // If this release fails too, the lease simply runs out at its expiry.
      await lease.release().catch(() => undefined);
      return false;
    }
    await pause(pollMs, signal);
  }
}

/** Waits `ms`, or less if the signal aborts; never rejects. */
function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return sleep(ms, signal).catch(() => undefined);
}

/**
 * The condition that `holder` has a live term at `now` (under `token`, when given): what
 * a renewal and a fenced checkpoint save both require of the lease item.
 */
export function liveTermCondition(holder: string, token: number | undefined, now: number): { ConditionExpression: string; ExpressionAttributeValues: Item } {
  return {
    ConditionExpression: token === undefined ? "Holder = :holder AND ExpiresAt > :now" : "Holder = :holder AND FencingToken = :token AND ExpiresAt > :now",
    ExpressionAttributeValues: { ":holder": { S: holder }, ":now": { N: String(now) }, ...(token !== undefined ? { ":token": { N: String(token) } } : {}) },
  };
}
