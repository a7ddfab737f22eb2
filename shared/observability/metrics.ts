import { optionalEnv, type Env } from "../config/env";
import { Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";

/** The CloudWatch namespace of every component's metrics (`METRICS_NAMESPACE`). */
export function readMetricsNamespace(env: Env): string {
  return optionalEnv(env, "METRICS_NAMESPACE") ?? "NomadEventSinks";
}

export type MetricKind = "Count" | "Milliseconds" | "Bytes";

/** Where the pipeline's figures go: CloudWatch (EMF) in AWS, counters in tests and locally. */
export interface MetricsSink {
  /** Adds to a counter (Count, Bytes) or records one observation (Milliseconds). */
  add(name: string, kind: MetricKind, value: number): void;
  /** Writes what was gathered since the last flush (one EMF line), if anything. */
  flush(): void;
}

const UNITS: Record<MetricKind, (typeof MetricUnit)[keyof typeof MetricUnit]> = { Count: MetricUnit.Count, Milliseconds: MetricUnit.Milliseconds, Bytes: MetricUnit.Bytes };

/**
 * CloudWatch metrics through Powertools' Embedded Metric Format: one JSON log line per
 * flush that CloudWatch turns into metrics, no API calls. Counters are summed between
 * flushes (one value per name); observations keep each value (CloudWatch computes the
 * percentiles). Dimensions: `service` (and whatever the namespace implies).
 */
export class EmfMetrics implements MetricsSink {
  private readonly metrics: Metrics;
  private readonly counters = new Map<string, { kind: MetricKind; value: number }>();
  private observations = 0;

  constructor(options: { namespace: string; serviceName: string; dimensions?: Record<string, string> }) {
    this.metrics = new Metrics({ namespace: options.namespace, serviceName: options.serviceName });
    for (const [name, value] of Object.entries(options.dimensions ?? {})) this.metrics.addDimension(name, value);
  }

  add(name: string, kind: MetricKind, value: number): void {
    if (kind === "Milliseconds") {
      this.metrics.addMetric(name, UNITS[kind], value);
      this.observations++;
      return;
    }
    const counter = this.counters.get(name);
    if (counter) counter.value += value;
    else this.counters.set(name, { kind, value });
  }

  flush(): void {
    if (this.counters.size === 0 && this.observations === 0) return;
    for (const [name, { kind, value }] of this.counters) this.metrics.addMetric(name, UNITS[kind], value);
    this.counters.clear();
    this.observations = 0;
    this.metrics.publishStoredMetrics();
  }
}

/** Totals kept in memory: what tests assert on, and what the local runtime shows. */
export class CountingMetrics implements MetricsSink {
  readonly totals = new Map<string, number>();
  readonly observations = new Map<string, number[]>();

  add(name: string, kind: MetricKind, value: number): void {
    if (kind === "Milliseconds") {
      const list = this.observations.get(name) ?? [];
      list.push(value);
      // The latest 10,000 at least: trimmed in one go past 20,000, not one at a time (that copied the whole list per value).
      if (list.length > 20_000) list.splice(0, list.length - 10_000);
      this.observations.set(name, list);
      return;
    }
    this.totals.set(name, (this.totals.get(name) ?? 0) + value);
  }

  total(name: string): number {
    return this.totals.get(name) ?? 0;
  }

  flush(): void {}
}
