import type { z } from "zod";
import { describeValue, ValidationError } from "./errors";

/** Problems listed in one message at most; the rest are counted. */
const MAX_PROBLEMS = 20;

function fieldName(path: readonly PropertyKey[], root: string): string {
  if (path.length === 0) return root;
  return path.map((part, i) => (typeof part === "number" ? `[${part}]` : i === 0 ? String(part) : `.${String(part)}`)).join("");
}

/** One line per issue: the field, what is accepted, and what was received. */
export function formatIssues(issues: readonly z.core.$ZodIssue[], root = "body"): string[] {
  const lines = issues.slice(0, MAX_PROBLEMS).map((issue) => {
    const field = fieldName(issue.path, root);
    if (issue.code === "unrecognized_keys") {
      return `${field}: unknown field${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => JSON.stringify(k)).join(", ")}`;
    }
    const input = (issue as { input?: unknown }).input;
    // A bad record key carries the key's own issues; their message says what is accepted.
    const message = issue.code === "invalid_key" ? issue.issues.map((inner) => inner.message).join("; ") : issue.message;
    return `${field}: ${message}; received ${describeValue(input)}`;
  });
  if (issues.length > MAX_PROBLEMS) lines.push(`and ${issues.length - MAX_PROBLEMS} more problems`);
  return lines;
}

/**
 * Parses `input` with `schema`, or throws a ValidationError listing every problem.
 * `root` names the input itself in messages (a request body, a path segment).
 */
export function parseOrThrow<S extends z.ZodType>(schema: S, input: unknown, what: string, root = "body"): z.output<S> {
  const result = schema.safeParse(input, { reportInput: true });
  if (result.success) return result.data;
  const problems = formatIssues(result.error.issues, root);
  return failWith(what, problems);
}

function failWith(what: string, problems: string[]): never {
  throw new ValidationError(`invalid ${what}: ${problems.join("; ")}`, problems);
}
