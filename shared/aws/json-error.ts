/** The error an AWS JSON-protocol answer reports, read as the SDK reads it. */
export interface AwsJsonError {
  /** `X-Amzn-ErrorType`, else the body's `code` (any case) or `__type`, without the namespace before `#` nor what follows `:` or `,`. */
  readonly type: string | undefined;
  /** The body's `message` or `Message`. */
  readonly message: string | undefined;
}

export function awsJsonError(headers: Readonly<Record<string, string | string[] | undefined>>, text: string): AwsJsonError {
  let data: Record<string, unknown> | undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed === "object" && parsed !== null && !Array.isArray(parsed)) data = parsed as Record<string, unknown>;
  } catch {
    // Not JSON (a proxy's page, an empty body): only the header can say.
  }
  const codeKey = data !== undefined ? Object.keys(data).find((k) => k.toLowerCase() === "code") : undefined;
  const header = headers["x-amzn-errortype"];
  const raw = (Array.isArray(header) ? header[0] : header) ?? (codeKey !== undefined ? data?.[codeKey] : undefined) ?? data?.__type;
  const message = data?.message ?? data?.Message;
  return { type: raw !== undefined && raw !== null ? errorName(String(raw)) : undefined, message: typeof message === "string" ? message : undefined };
}

function errorName(raw: string): string {
  let name = raw.split(",")[0]!.split(":")[0]!;
  if (name.includes("#")) name = name.split("#")[1]!;
  return name;
}
