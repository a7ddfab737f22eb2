import { describe, expect, it } from "vitest";
import { lagMs, startStreamerMetrics } from "../../functions/streamer/process";
import { CountingMetrics } from "../../shared/observability/metrics";
import type { StreamerStatus } from "../../shared/streamer/streamer";

function status(overrides: Partial<StreamerStatus> = {}): StreamerStatus {
  return { connected: true, checkpoint: 0, highestIndex: 0, lastFrameAt: undefined, lastByteAt: undefined, eventsIn: 0, eventsOut: 0, bytesIn: 0, reconnects: 0, gaps: 0, lastError: undefined, oldestUnpublishedAt: undefined, ...overrides };
}

describe("streamer metrics", () => {
  it("writes counters as changes since the last write, and the lag as it is now", () => {
    const sink = new CountingMetrics();
    const s = status({ eventsIn: 10, eventsOut: 8, bytesIn: 3_000, reconnects: 1, highestIndex: 50, checkpoint: 40, oldestUnpublishedAt: Date.now() - 2_000 });
    const metrics = startStreamerMetrics(() => s, sink, 60_000);
    metrics.flush();
    expect(sink.total("EventsIn")).toBe(10);
    expect(sink.total("EventsOut")).toBe(8);
    expect(sink.total("BytesIn")).toBe(3_000);
    expect(sink.total("Reconnects")).toBe(1);
    expect(sink.total("LagIndexes")).toBe(10);
    expect(sink.observations.get("PublishLag")![0]).toBeGreaterThanOrEqual(2_000);
    Object.assign(s, { eventsIn: 25, eventsOut: 25, gaps: 1, checkpoint: 50, oldestUnpublishedAt: undefined });
    metrics.stop();
    // Totals over both writes equal the status: each write added only the change.
    expect(sink.total("EventsIn")).toBe(25);
    expect(sink.total("EventsOut")).toBe(25);
    expect(sink.total("StreamGaps")).toBe(1);
    expect(sink.observations.get("PublishLag")![1]).toBe(0);
  });

  it("starts from zero for a new term's status, and writes nothing while standby", () => {
    const sink = new CountingMetrics();
    let current: StreamerStatus | undefined;
    const metrics = startStreamerMetrics(() => current, sink, 60_000);
    metrics.flush();
    expect(sink.totals.size).toBe(0);
    current = status({ eventsIn: 5 });
    metrics.flush();
    current = status({ eventsIn: 3 }); // a new Streamer after a lease change
    metrics.flush();
    metrics.stop();
    expect(sink.total("EventsIn")).toBe(8);
  });

  it("lag is the age of the oldest unpublished event, 0 when everything is on the bus", () => {
    expect(lagMs(status({ oldestUnpublishedAt: 1_000 }), 4_500)).toBe(3_500);
    expect(lagMs(status(), 4_500)).toBe(0);
  });
});
