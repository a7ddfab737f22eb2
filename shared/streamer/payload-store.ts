import { createHash } from "node:crypto";
import { GetObjectCommand, PutObjectCommand, S3Client, type S3ClientConfig } from "@aws-sdk/client-s3";
import { PAYLOAD_KEY_PREFIX, type PayloadStoreConfig } from "../config/payload-config";
import { rememberJsonSource, toJson } from "../json/json-source";
import type { NomadBusDetail, PayloadRef } from "./event-contract";

export interface S3PayloadStoreOptions {
  readonly bucket: string;
  /** @default PAYLOAD_KEY_PREFIX ("payloads/") */
  readonly prefix?: string;
  readonly client?: S3Client;
  /** @default {} (AWS_ENDPOINT_URL_S3 and the rest from the environment) */
  readonly clientConfig?: S3ClientConfig;
}

export class PayloadIntegrityError extends Error {
  override readonly name = "PayloadIntegrityError";
}

/**
 * The claim check for events too large for the bus: the payload goes to S3 under a key
 * made from the event's ID (so a re-send overwrites the same object with the same
 * bytes), and the bus carries a reference with the payload's SHA-256. The object holds
 * the payload's JSON as Nomad sent it (json-source.ts), and a fetched payload is written
 * back as those bytes, so its int64 values keep every digit.
 */
export class S3PayloadStore {
  /** The store the configuration names, or undefined when no bucket is configured. */
  static fromConfig(config: PayloadStoreConfig): S3PayloadStore | undefined {
    return config.payloadBucket !== undefined ? new S3PayloadStore({ bucket: config.payloadBucket, clientConfig: { forcePathStyle: config.s3ForcePathStyle } }) : undefined;
  }

  private readonly client: S3Client;
  private readonly prefix: string;

  constructor(private readonly options: S3PayloadStoreOptions) {
    this.client = options.client ?? new S3Client(options.clientConfig ?? {});
    this.prefix = options.prefix ?? PAYLOAD_KEY_PREFIX;
  }

  /** Stores the payload and returns the detail with `Payload: null` and a `payloadRef`. */
  async offload(detail: NomadBusDetail): Promise<NomadBusDetail> {
    const payloadRef = await this.storePayload(detail.cluster, detail.id, toJson(detail.event.Payload));
    return { ...detail, event: { ...detail.event, Payload: null }, payloadRef };
  }

  /** Stores one event's payload, given as its JSON text (the streamer's, never parsed), and returns the reference to it. */
  async storePayload(cluster: string, eventId: string, payloadJson: string): Promise<PayloadRef> {
    const body = Buffer.from(payloadJson, "utf8");
    const sha256 = createHash("sha256").update(body).digest("hex");
    const key = `${this.prefix}${encodeURIComponent(cluster)}/${eventId}.json`;
    await this.client.send(new PutObjectCommand({ Bucket: this.options.bucket, Key: key, Body: body, ContentType: "application/json", Metadata: { sha256, "event-id": eventId } }));
    return { bucket: this.options.bucket, key, sha256, bytes: body.length };
  }

  /** Fetches a payload back and checks it is the one referenced. */
  async fetch(ref: PayloadRef): Promise<Record<string, unknown> | null> {
    const result = await this.client.send(new GetObjectCommand({ Bucket: ref.bucket, Key: ref.key }));
    const body = Buffer.from((await result.Body?.transformToByteArray()) ?? new Uint8Array());
    const sha256 = createHash("sha256").update(body).digest("hex");
    if (sha256 !== ref.sha256) {
      throw new PayloadIntegrityError(`payload s3://${ref.bucket}/${ref.key} has SHA-256 ${sha256}, but the event references ${ref.sha256}`);
    }
    const text = body.toString("utf8");
    const payload = JSON.parse(text) as Record<string, unknown> | null;
    // JSON.parse accepted it, so only JSON whitespace can surround the value.
    return payload !== null && typeof payload === "object" ? rememberJsonSource(payload, text.trim()) : payload;
  }
}
