import { randomUUID } from "node:crypto";

/** A resource name unique to this test, so test files can run in parallel. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 12)}`;
}
