import type { Principal } from "./access";
import { HttpError } from "./http";
import type { Response } from "./http";

/** A request as the handlers see it: authenticated, its body not yet parsed. */
export interface Request {
  readonly method: string;
  readonly headers: Readonly<Record<string, string | undefined>>;
  readonly query: Readonly<Record<string, string | undefined>>;
  readonly body: Buffer | undefined;
  readonly pretty: boolean;
  readonly principal: Principal;
}

export type Handler = (request: Request, id: string) => Promise<Response>;

export interface Route {
  /** Path segments after `/v1/`; `:id` captures one segment. */
  readonly pattern: readonly string[];
  /** Validates the captured segment (throws ValidationError). */
  readonly parseId?: (id: string) => string;
  /** What a missing `:id` segment is called in the 400. */
  readonly idName?: string;
  readonly methods: Readonly<Record<string, Handler>>;
}

/** The first route whose pattern matches; literal routes are listed before `:id` ones. */
export function matchRoute(routes: readonly Route[], segments: readonly string[]): { route: Route; id: string } | undefined {
  if (segments[0] !== "v1") return undefined;
  const rest = segments.slice(1);
  for (const route of routes) {
    if (route.pattern.length !== rest.length) continue;
    let id = "";
    const ok = route.pattern.every((part, i) => {
      if (part !== ":id") return part === rest[i];
      id = rest[i] ?? "";
      return true;
    });
    if (ok) return { route, id };
  }
  return undefined;
}

export function parseJsonBody(request: Pick<Request, "body">): unknown {
  if (request.body === undefined || request.body.length === 0) throw new HttpError(400, "Request body is empty");
  const source = request.body.toString("utf8");
  try {
    return JSON.parse(source);
  } catch (error) {
    throw new HttpError(400, `Request body is not valid JSON: ${(error as Error).message}`);
  }
}
