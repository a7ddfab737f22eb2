import { ValidationError } from "../errors";

export type Env = Readonly<Record<string, string | undefined>>;

/** Configuration read at start; a missing or bad variable fails fast with its name. */
export class ConfigError extends ValidationError {
  override readonly name: string = "ConfigError";
}

export function requireEnv(env: Env, name: string, purpose: string): string {
  const value = env[name]?.trim();
  if (!value) throw new ConfigError(`Environment variable ${name} is required (${purpose})`);
  return value;
}

export function optionalEnv(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value ? value : undefined;
}

/** Go's strconv.ParseBool (Nomad's own rule for booleans); undefined for anything else. */
export function parseGoBool(text: string): boolean | undefined {
  if (["1", "t", "T", "TRUE", "true", "True"].includes(text)) return true;
  if (["0", "f", "F", "FALSE", "false", "False"].includes(text)) return false;
  return undefined;
}

/** A boolean variable as Go's strconv.ParseBool reads it; false when unset. */
export function boolEnv(env: Env, name: string): boolean {
  const raw = optionalEnv(env, name);
  if (raw === undefined) return false;
  const value = parseGoBool(raw);
  if (value !== undefined) return value;
  throw new ConfigError(`Environment variable ${name} must be true or false (1, t, TRUE and 0, f, FALSE are read too, as Go reads them), but ${JSON.stringify(raw)} was given`);
}

/** An integer variable within [min, max], or `fallback` when unset. */
export function intEnv(env: Env, name: string, fallback: number, range: { min: number; max: number }): number {
  const raw = optionalEnv(env, name);
  if (raw === undefined) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < range.min || value > range.max) {
    throw new ConfigError(`Environment variable ${name} must be an integer from ${range.min} to ${range.max}, but ${JSON.stringify(raw)} was given`);
  }
  return value;
}
