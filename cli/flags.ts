/**
 * Nomad-style flags, as Go's `flag` package reads them: `-name value`, `-name=value`,
 * `--name` the same; a boolean flag is `-name` or `-name=true|false` (never takes the next
 * argument). Unlike Go, flags may come after arguments too; `--` ends the flags, and `-`
 * alone is an argument (stdin).
 */
import { parseGoBool } from "../shared/config/env";
import { UsageError } from "./errors";

type FlagKind = "string" | "bool" | "list";

export interface FlagSpec {
  readonly name: string;
  readonly kind: FlagKind;
  /** Shown in help as `-name=<placeholder>`. */
  readonly placeholder?: string;
  readonly help: string;
}

export interface ParsedArgs {
  /** The last value of each string flag given. */
  readonly strings: ReadonlyMap<string, string>;
  /** Boolean flags given, with their value (absent: not given). */
  readonly bools: ReadonlyMap<string, boolean>;
  /** Every value of each repeatable flag, in order. */
  readonly lists: ReadonlyMap<string, readonly string[]>;
  readonly positional: readonly string[];
  readonly help: boolean;
}

const HELP_FLAGS = new Set(["help", "h"]);

export function parseArgs(args: readonly string[], specs: readonly FlagSpec[]): ParsedArgs {
  const byName = new Map(specs.map((spec) => [spec.name, spec]));
  const strings = new Map<string, string>();
  const bools = new Map<string, boolean>();
  const lists = new Map<string, string[]>();
  const positional: string[] = [];
  let help = false;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === "--") {
      positional.push(...args.slice(i + 1));
      break;
    }
    if (!arg.startsWith("-") || arg === "-") {
      positional.push(arg);
      continue;
    }
    const body = arg.startsWith("--") ? arg.slice(2) : arg.slice(1);
    const eq = body.indexOf("=");
    const name = eq === -1 ? body : body.slice(0, eq);
    const inline = eq === -1 ? undefined : body.slice(eq + 1);
    if (HELP_FLAGS.has(name)) {
      help = true;
      continue;
    }
    const spec = byName.get(name);
    if (spec === undefined || name === "") {
      const known = specs.map((s) => `-${s.name}`).join(", ");
      throw new UsageError(`unknown flag -${name} (received ${JSON.stringify(arg)}); this command's flags are ${known}, and -help`);
    }
    if (spec.kind === "bool") {
      if (inline === undefined) {
        bools.set(name, true);
        continue;
      }
      const value = parseGoBool(inline);
      if (value === undefined) throw new UsageError(`-${name} is true or false; received ${JSON.stringify(arg)}`);
      bools.set(name, value);
      continue;
    }
    let value = inline;
    if (value === undefined) {
      if (i + 1 >= args.length) throw new UsageError(`flag -${name} needs a value, such as -${name}=${spec.placeholder ?? "<value>"}; received none`);
      value = args[++i]!;
    }
    if (spec.kind === "string") strings.set(name, value);
    else lists.set(name, [...(lists.get(name) ?? []), value]);
  }
  return { strings, bools, lists, positional, help };
}
