import { matchesTopics, type TopicFilter } from "../../shared/nomad/topic-filter";
import type { NomadEvent } from "../../shared/nomad/event";
import { parseSinkRegistration } from "../../shared/sinks/sink";
import { opsPerSecond, report } from "./harness";

/**
 * The fan-out matches every event against every sink, and the API validates every
 * registration. Figures are ratios against a baseline measured in the same run.
 */
export function runDomainBench(): boolean {
  const events: Array<Pick<NomadEvent, "Topic" | "Key" | "FilterKeys">> = [];
  for (let i = 0; i < 1000; i++) {
    const job = `job-${i % 50}`;
    events.push(
      i % 3 === 0
        ? { Topic: "Allocation", Key: `alloc-${i}`, FilterKeys: [job, ""] }
        : i % 3 === 1
          ? { Topic: "Evaluation", Key: `eval-${i}`, FilterKeys: [job, `dep-${i % 7}`] }
          : { Topic: "Job", Key: job, FilterKeys: null },
    );
  }
  const filters: TopicFilter[] = [
    { "*": ["*"] },
    { Job: ["*"] },
    { Allocation: ["job-3", "job-4"] },
    { Evaluation: [""] },
    { Job: ["job-1"], Allocation: ["job-1"], Evaluation: ["job-1"] },
    { Deployment: ["*"] },
    { "*": ["job-9"] },
    { Node: ["*"], NodePool: ["*"] },
    { Allocation: ["*"], Evaluation: ["*"] },
    { Job: ["*", "job-2"] },
  ];
  let sink = 0;
  let e = 0;
  // Baseline: the least any matcher must do, a topic lookup per (event, sink).
  const baseline = opsPerSecond(() => {
    const event = events[e++ % events.length]!;
    for (const f of filters) if (Object.hasOwn(f, event.Topic)) sink++;
  });
  const matching = opsPerSecond(() => {
    const event = events[e++ % events.length]!;
    for (const f of filters) if (matchesTopics(f, event)) sink++;
  });

  const body = JSON.stringify({ ID: "team-a.deploys", Type: "webhook", Address: "https://hooks.example.com/nomad/events?team=a", Topics: { Job: ["web", "api"], Deployment: ["*"], Eval: [""] } });
  const parseOnly = opsPerSecond(() => {
    JSON.parse(body);
  });
  const validate = opsPerSecond(() => {
    parseSinkRegistration(JSON.parse(body));
  });
  if (sink < 0) process.stdout.write("");
  return report("domain", [
    { name: "topic matching, 1 event × 10 sinks (vs topic lookup only)", value: matching, baseline, unit: "events/s" },
    { name: "registration validation (vs JSON.parse only)", value: validate, baseline: parseOnly, unit: "bodies/s" },
  ]);
}
