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
  let text: string;
  let length: number;
  if (value === undefined) return "nothing";
  if (typeof value === "string") {
    text = JSON.stringify(value);
    length = value.length;
  }
  else {
    try {
      text = JSON.stringify(value) ?? String(value);
    } catch {
      text = String(value);
    }
    if (Array.isArray(value)) text = `an array ${text}`;
    else if (value === null) text = "null";
    else if (typeof value === "object") text = `an object ${text}`;
    else text = `${typeof value} ${text}`;
    length = text.length;
  }
  return text.length > max ? `${text.slice(0, max)}… (${length} characters)` : text;
}
