/** A request or configuration was wrong; `message` says what and what was received. */
export class ValidationError extends Error {
  override readonly name: string = "ValidationError";
  constructor(
    message: string,
    /** One line per problem, each naming the field. */
    readonly problems: readonly string[] = [message],
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export class NotFoundError extends Error {
  override readonly name = "NotFoundError";
}

/** A write lost a race it could not win by retrying (should be rare; safe to retry). */
export class ConflictError extends Error {
  override readonly name = "ConflictError";
}

/** Describes a received value for an error message, shortened so a huge input stays readable. */
export function describeValue(value: unknown, max = 80): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  let text: string;
  let length: number;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    // Too deep to print (or cyclic); say what it is instead of failing the request.
    return Array.isArray(value) ? "a deeply nested array" : typeof value === "object" ? "a deeply nested object" : typeof value;
  }
  if (typeof value === "string") length = value.length;
  else {
    if (Array.isArray(value)) text = `an array ${text}`;
    else if (typeof value === "object") text = `an object ${text}`;
    else text = `${typeof value} ${text}`;
    length = text.length;
  }
  return text.length > max ? `${text.slice(0, max)}… (${length} characters)` : text;
}
