import { readFileSync } from "node:fs";

/** Runs `fn` repeatedly for about `ms` and returns operations per second. */
export function opsPerSecond(fn: () => void, ms = 1000): number {
  // Warm up so the JIT has settled before measuring.
  const warmUntil = performance.now() + ms / 4;
  while (performance.now() < warmUntil) fn();
  let ops = 0;
  const start = performance.now();
  let now = start;
  while (now - start < ms) {
    for (let i = 0; i < 100; i++) fn();
    ops += 100;
    now = performance.now();
  }
  return (ops * 1000) / (now - start);
}

export interface Figure {
  readonly name: string;
  readonly value: number;
  readonly baseline: number;
  readonly unit: string;
  /** The goal for value/baseline, if there is one. */
  readonly goal?: { readonly atLeast?: number; readonly atMost?: number };
}

export function report(title: string, figures: readonly Figure[]): boolean {
  let ok = true;
  process.stdout.write(`\n## ${title}\n\n| measure | value | baseline (same run) | ratio | goal |\n|---|---:|---:|---:|---|\n`);
  for (const f of figures) {
    const ratio = f.value / f.baseline;
    const goal = f.goal?.atLeast !== undefined ? `≥ ${f.goal.atLeast}` : f.goal?.atMost !== undefined ? `≤ ${f.goal.atMost}` : "";
    const met = (f.goal?.atLeast === undefined || ratio >= f.goal.atLeast) && (f.goal?.atMost === undefined || ratio <= f.goal.atMost);
    ok &&= met;
    process.stdout.write(`| ${f.name} | ${f.value.toFixed(0)} ${f.unit} | ${f.baseline.toFixed(0)} ${f.unit} | ${ratio.toFixed(3)} | ${goal}${goal ? (met ? " ✓" : " ✗") : ""} |\n`);
  }
  return ok;
}

/** CPU seconds (user + system) a process has used so far, from Linux's /proc/<pid>/stat. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name (which may hold spaces); utime and stime are the 12th and 13th of them.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
}
const CLOCK_TICKS_PER_SECOND = 100;
