import { CreateBucketCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { describe, expect, it } from "vitest";
import { PayloadIntegrityError, S3PayloadStore } from "../../shared/streamer/payload-store";
import type { NomadBusDetail } from "../../shared/streamer/event-contract";
import { uniqueName } from "../support/names";

// fauxqs (started by the global setup) serves S3; it needs path-style addressing on loopback.
async function store() {
  const client = new S3Client({ forcePathStyle: true });
  const bucket = uniqueName("payloads");
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  return { client, bucket, payloads: new S3PayloadStore({ bucket, client }) };
}

const detail = (payload: Record<string, unknown>): NomadBusDetail => ({
  id: "42-abcdef0123456789abcd",
  cluster: "prod eu",
  frameIndex: 42,
  event: { Topic: "Job", Type: "JobRegistered", Key: "big", Namespace: "default", FilterKeys: null, Index: 42, Payload: payload },
});

describe("S3PayloadStore (claim check)", () => {
  it("stores the payload by event ID and puts a verifiable reference in its place", async () => {
    const { payloads, bucket } = await store();
    const payload = { Job: { ID: "big", Meta: { blob: "x".repeat(300_000) } } };
    const offloaded = await payloads.offload(detail(payload));
    expect(offloaded.event.Payload).toBeNull();
    expect(offloaded.event).toMatchObject({ Topic: "Job", Key: "big", Index: 42 });
    expect(offloaded.payloadRef).toMatchObject({ bucket, key: "payloads/prod%20eu/42-abcdef0123456789abcd.json", bytes: JSON.stringify(payload).length });
    expect(JSON.stringify(offloaded).length).toBeLessThan(1_000);
    expect(await payloads.fetch(offloaded.payloadRef!)).toEqual(payload);
  });

  it("writes the same object for a re-sent event", async () => {
    const { payloads } = await store();
    const a = await payloads.offload(detail({ n: 1 }));
    const b = await payloads.offload(detail({ n: 1 }));
    expect(b.payloadRef).toEqual(a.payloadRef);
  });

  it("refuses a payload whose bytes do not match the reference", async () => {
    const { payloads, client, bucket } = await store();
    const { payloadRef } = await payloads.offload(detail({ n: 1 }));
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: payloadRef!.key, Body: '{"n":2}' }));
    await expect(payloads.fetch(payloadRef!)).rejects.toBeInstanceOf(PayloadIntegrityError);
  });
});
