import type { z } from "zod";
import { describeValue, ValidationError } from "./errors";

function fieldName(path: readonly PropertyKey[]): string {
  if (path.length === 0) return "body";
  return path.map((part, i) => (typeof part === "number" ? `[${part}]` : i === 0 ? String(part) : `.${String(part)}`)).join("");
}

/** One line per issue: the field, what is accepted, and what was received. */
export function formatIssues(issues: readonly z.core.$ZodIssue[]): string[] {
  return issues.map((issue) => {
    const field = fieldName(issue.path);
    if (issue.code === "unrecognized_keys") {
      return `${field}: unknown field${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => JSON.stringify(k)).join(", ")}`;
    }
    const input = (issue as { input?: unknown }).input;
    // A bad record key carries the key's own issues; their message says what is accepted.
    const message = issue.code === "invalid_key" ? issue.issues.map((inner) => inner.message).join("; ") : issue.message;
    return `${field}: ${message}; received ${describeValue(input)}`;
  });
}

/** Parses `input` with `schema`, or throws a ValidationError listing every problem. */
export function parseOrThrow<S extends z.ZodType>(schema: S, input: unknown, what: string): z.output<S> {
  const result = schema.safeParse(input, { reportInput: true });
  if (result.success) return result.data;
  const problems = formatIssues(result.error.issues);
  return failWith(what, problems);
}

function failWith(what: string, problems: string[]): never {
  throw new ValidationError(`invalid ${what}: ${problems.join("; ")}`, problems);
}
