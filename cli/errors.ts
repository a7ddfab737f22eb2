/** A mistake in how a command was called: printed with a pointer to its help; exit 1. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** An expected failure that is not the API's (a file that cannot be read, a body that is not a sink): printed as is; exit 1. */
export class CliError extends Error {
  override readonly name = "CliError";
}
