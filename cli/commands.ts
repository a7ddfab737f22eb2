import { readFile } from "node:fs/promises";
import type { AclToken, Client, DeliveryAttempt, PublicSink, Replay, SinkSecret, TokenRequest } from "./client";
import { CliError, UsageError } from "./errors";
import { DELIVERIES_PER_PAGE_DEFAULT, DELIVERIES_PER_PAGE_MAX } from "../shared/api/limits";
import { parseGoDuration } from "../shared/go-duration";
import { parseRfc3339 } from "../shared/rfc3339";
import type { FlagSpec, ParsedArgs } from "./flags";
import { formatJson, formatKV, formatList, formatTopics, NONE, orNone, shellWord } from "./format";

export const PROGRAM = "nomad-event-sinks";

/** What a command runs with: its parsed arguments, the API client and the output streams. */
export interface Context {
  readonly args: ParsedArgs;
  readonly client: Client;
  readonly json: boolean;
  out(text: string): void;
  err(text: string): void;
  readStdin(): Promise<string>;
}

export interface Command {
  readonly group: "sink" | "token" | "replay";
  readonly name: string;
  readonly aliases?: readonly string[];
  /** Shown after the command in its usage line, e.g. `<id>`. */
  readonly usage: string;
  readonly synopsis: string;
  readonly description: string;
  readonly flags: readonly FlagSpec[];
  /** Whether `-json` applies. */
  readonly json: boolean;
  run(ctx: Context): Promise<void>;
}


const received = (values: readonly string[]) => (values.length === 0 ? "none" : `${values.length}: ${values.map((v) => JSON.stringify(v)).join(" ")}`);

/** The command's one argument, or a UsageError naming what it is and what was received. */
function oneArg(ctx: Context, what: string): string {
  const { positional } = ctx.args;
  if (positional.length !== 1 || positional[0] === "") throw new UsageError(`this command takes one argument, ${what}; received ${received(positional)}`);
  return positional[0]!;
}

function noArgs(ctx: Context): void {
  const { positional } = ctx.args;
  if (positional.length > 0) throw new UsageError(`this command takes no arguments; received ${received(positional)}`);
}

function rfc3339(flag: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (parseRfc3339(value) === undefined) throw new UsageError(`-${flag} must be an RFC 3339 time such as 2030-01-02T15:04:05Z; received ${JSON.stringify(value)}`);
  return value;
}

function goDuration(flag: string, value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (parseGoDuration(value) === undefined) throw new UsageError(`-${flag} must be a duration such as 10m, 1h or 72h30m; received ${JSON.stringify(value)}`);
  return value;
}

/** A repeatable flag's values; each may also be a comma-separated list. */
function listFlag(args: ParsedArgs, name: string): string[] | undefined {
  const values = args.lists.get(name);
  if (values === undefined) return undefined;
  const items = values.flatMap((v) => v.split(",")).map((v) => v.trim());
  if (items.some((item) => item === "")) throw new UsageError(`-${name} takes a name (repeat the flag, or separate names with commas); received ${values.map((v) => JSON.stringify(v)).join(", ")}`);
  return items;
}

function expiry(args: ParsedArgs): Pick<TokenRequest, "ExpirationTTL" | "ExpirationTime"> {
  const ttl = goDuration("ttl", args.strings.get("ttl"));
  const at = rfc3339("expiration-time", args.strings.get("expiration-time"));
  if (ttl !== undefined && at !== undefined) throw new UsageError(`give -ttl or -expiration-time, not both; received -ttl=${ttl} and -expiration-time=${at}`);
  return { ...(ttl !== undefined ? { ExpirationTTL: ttl } : {}), ...(at !== undefined ? { ExpirationTime: at } : {}) };
}

// ---------- output ----------

const yesNo = (value: boolean) => String(value);

function sinkTable(sinks: readonly PublicSink[]): string {
  if (sinks.length === 0) return "No event sinks found";
  return formatList(
    ["ID", "Type", "Address", "Topics", "Team", "Namespaces", "LatestIndex", "Enabled"],
    sinks.map((s) => [s.ID, s.Type, s.Address, formatTopics(s.Topics), orNone(s.Team), s.Namespaces.join(","), String(s.LatestIndex), yesNo(s.Enabled)]),
  );
}

function sinkBlock(s: PublicSink): string {
  return formatKV([
    ["ID", s.ID],
    ["Type", s.Type],
    ["Address", s.Address],
    ["Topics", formatTopics(s.Topics)],
    ["Team", orNone(s.Team)],
    ["Namespaces", s.Namespaces.join(",")],
    ["Enabled", yesNo(s.Enabled)],
    ...(s.Enabled ? [] : ([["Disabled Reason", orNone(s.DisabledReason)], ["Disabled At", orNone(s.DisabledAt)]] as const)),
    ["Latest Index", String(s.LatestIndex)],
    ["Create Index", String(s.CreateIndex)],
    ["Modify Index", String(s.ModifyIndex)],
  ]);
}

function secretBlock(s: SinkSecret): string {
  return formatKV([
    ["ID", s.ID],
    ["Secret", s.Secret],
    ["Previous Secrets", s.PreviousSecrets.length === 0 ? NONE : s.PreviousSecrets.map((p) => `${p.Secret} (signs until ${p.ExpiresAt})`).join(", ")],
  ]);
}

function deliveriesTable(attempts: readonly DeliveryAttempt[]): string {
  return formatList(
    ["Delivery ID", "Attempt", "Outcome", "Status", "Latency", "Events", "Indexes", "At", "Next Attempt", "Error"],
    attempts.map((a) => [
      a.DeliveryID,
      String(a.Attempt),
      a.Outcome,
      a.StatusCode === 0 ? NONE : String(a.StatusCode),
      `${a.LatencyMs}ms`,
      String(a.Events),
      a.FirstIndex === a.LastIndex ? String(a.FirstIndex) : `${a.FirstIndex}-${a.LastIndex}`,
      a.At,
      a.NextAttemptAt ?? NONE,
      a.Error === "" ? NONE : a.Error.replace(/\s+/g, " "),
    ]),
  );
}

function tokenTable(tokens: readonly AclToken[]): string {
  if (tokens.length === 0) return "No ACL tokens found";
  return formatList(
    ["Name", "Type", "Team", "Namespaces", "Cluster Topics", "Accessor ID", "Expiry Time"],
    tokens.map((t) => [orNone(t.Name), t.Type, orNone(t.Team), t.Namespaces.join(","), yesNo(t.ClusterTopics), t.AccessorID, orNone(t.ExpirationTime)]),
  );
}

function tokenBlock(t: AclToken): string {
  return formatKV([
    ["Accessor ID", t.AccessorID],
    ...(t.SecretID !== undefined ? ([["Secret ID", t.SecretID]] as const) : []),
    ["Name", orNone(t.Name)],
    ["Type", t.Type],
    ["Team", orNone(t.Team)],
    ["Namespaces", t.Namespaces.join(",")],
    ["Cluster Topics", yesNo(t.ClusterTopics)],
    ["Create Time", t.CreateTime],
    ["Expiry Time", orNone(t.ExpirationTime)],
    ["Create Index", String(t.CreateIndex)],
    ["Modify Index", String(t.ModifyIndex)],
  ]);
}

const replaySink = (r: Replay) => (r.SinkID ? r.SinkID : "<all sinks>");
const replayed = (r: Replay) => (r.EventsReplayed === null || r.EventsReplayed === undefined ? NONE : String(r.EventsReplayed));

function replayBlock(r: Replay): string {
  return formatKV([
    ["ID", r.ID],
    ["Sink ID", replaySink(r)],
    ["From", r.From],
    ["To", r.To],
    ["State", r.State],
    ["Events Replayed", replayed(r)],
    ...(r.LastReplayedTime !== undefined ? ([["Last Replayed Time", orNone(r.LastReplayedTime)]] as const) : []),
    ["Started At", orNone(r.StartedAt)],
    ["Ended At", orNone(r.EndedAt)],
    ["Error", orNone(r.Error)],
  ]);
}

function replayTable(replays: readonly Replay[]): string {
  if (replays.length === 0) return "No replays found";
  return formatList(
    ["ID", "Sink ID", "From", "To", "State", "Events Replayed", "Started At", "Ended At"],
    replays.map((r) => [r.ID, replaySink(r), r.From, r.To, r.State, replayed(r), orNone(r.StartedAt), orNone(r.EndedAt)]),
  );
}

/** Prints `value` as JSON with `-json`, otherwise as `format` renders it. */
function show<T>(ctx: Context, value: T, format: (value: T) => string): void {
  ctx.out(ctx.json ? formatJson(value) : format(value));
}

// ---------- commands ----------

const JSON_FLAG_HELP = "Output in JSON format.";

async function readSinkFile(ctx: Context, source: string): Promise<{ id: string; body: string }> {
  let text: string;
  const from = source === "-" ? "stdin" : source;
  try {
    text = source === "-" ? await ctx.readStdin() : await readFile(source, "utf8");
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    const why = e.code === "ENOENT" ? "no such file" : e.code === "EISDIR" ? "it is a directory" : e.message;
    throw new CliError(`cannot read the sink from ${from}: ${why}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new CliError(`the sink in ${from} is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new CliError(`the sink in ${from} must be a JSON object such as {"ID":"my-sink","Type":"webhook","Address":"https://…","Topics":{"Job":["*"]}}; received ${Array.isArray(parsed) ? "an array" : JSON.stringify(parsed)}`);
  }
  const id = (parsed as { ID?: unknown }).ID;
  if (typeof id !== "string" || id === "") throw new CliError(`the sink in ${from} needs an "ID" (the sink's ID, used in the path); received ${id === undefined ? "none" : JSON.stringify(id)}`);
  return { id, body: text };
}

function perPageFlag(ctx: Context): number | undefined {
  const raw = ctx.args.strings.get("per-page");
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || value < 1 || value > DELIVERIES_PER_PAGE_MAX) throw new UsageError(`-per-page must be a whole number from 1 to ${DELIVERIES_PER_PAGE_MAX}; received ${JSON.stringify(raw)}`);
  return value;
}

export const COMMANDS: readonly Command[] = [
  {
    group: "sink",
    name: "register",
    usage: "<file|->",
    synopsis: "Register (create or replace) a sink from a JSON file",
    description: `Registers the event sink in <file> (JSON, as the API takes it; "-" reads stdin): PUT
/v1/event/sink/<ID> with the file's "ID". Registering an existing ID replaces it (and
enables it again if it was disabled). Example file:

  {"ID":"my-sink","Type":"webhook","Address":"https://example.com/hook",
   "Topics":{"Job":["*"],"Evaluation":["web"]},"Namespaces":["web"]}`,
    flags: [],
    json: false,
    async run(ctx) {
      const source = oneArg(ctx, 'a JSON file with the sink (or "-" for stdin)');
      const { id, body } = await readSinkFile(ctx, source);
      const index = await ctx.client.registerSink(id, body);
      ctx.out(`Successfully registered event sink ${JSON.stringify(id)}${index ? ` (index ${index})` : ""}`);
    },
  },
  {
    group: "sink",
    name: "list",
    usage: "",
    synopsis: "List the sinks",
    description: "Lists the event sinks the token may see (a team token: its team's), sorted by ID.",
    flags: [],
    json: true,
    async run(ctx) {
      noArgs(ctx);
      show(ctx, await ctx.client.listSinks(), sinkTable);
    },
  },
  {
    group: "sink",
    name: "show",
    aliases: ["status", "info"],
    usage: "<id>",
    synopsis: "Show a sink",
    description: "Shows one event sink: its address, topics, team, namespaces, whether it is enabled (and why not), and its indexes.",
    flags: [],
    json: true,
    async run(ctx) {
      show(ctx, await ctx.client.getSink(oneArg(ctx, "the sink's ID")), sinkBlock);
    },
  },
  {
    group: "sink",
    name: "deregister",
    usage: "<id>",
    synopsis: "Deregister (delete) a sink",
    description: "Deletes an event sink; its pending deliveries are dropped. Deleting a sink that does not exist succeeds, as in Nomad, except with a team token.",
    flags: [],
    json: false,
    async run(ctx) {
      const id = oneArg(ctx, "the sink's ID");
      await ctx.client.deregisterSink(id);
      ctx.out(`Successfully deregistered event sink ${JSON.stringify(id)}`);
    },
  },
  {
    group: "sink",
    name: "deliveries",
    usage: "<id>",
    synopsis: "List a sink's delivery attempts, newest first",
    description: `Lists the attempts to deliver to an event sink's webhook, newest first, one page at a
time (-per-page, then -next-token with the token printed under the table), or every page
with -all.`,
    flags: [
      { name: "per-page", kind: "string", placeholder: "<n>", help: `How many attempts per page, 1 to ${DELIVERIES_PER_PAGE_MAX} (the API's default is ${DELIVERIES_PER_PAGE_DEFAULT}).` },
      { name: "next-token", kind: "string", placeholder: "<token>", help: "Where to continue: the token printed under the previous page." },
      { name: "all", kind: "bool", help: "Follow the pages: list every attempt." },
    ],
    json: true,
    async run(ctx) {
      const id = oneArg(ctx, "the sink's ID");
      const perPage = perPageFlag(ctx) ?? (ctx.args.bools.get("all") ? DELIVERIES_PER_PAGE_MAX : undefined);
      let nextToken = ctx.args.strings.get("next-token") || undefined;
      const attempts: DeliveryAttempt[] = [];
      do {
        const page = await ctx.client.deliveries(id, { ...(perPage !== undefined ? { perPage } : {}), ...(nextToken !== undefined ? { nextToken } : {}) });
        attempts.push(...page.attempts);
        nextToken = page.nextToken;
      } while (ctx.args.bools.get("all") && nextToken !== undefined);

      if (ctx.json) ctx.out(formatJson(attempts));
      else ctx.out(attempts.length === 0 ? `No deliveries found for event sink ${JSON.stringify(id)}` : deliveriesTable(attempts));
      if (nextToken !== undefined) {
        const again = [PROGRAM, "sink", "deliveries", ...(perPage !== undefined ? ["-per-page", String(perPage)] : []), ...(ctx.json ? ["-json"] : []), "-next-token", nextToken, id].map(shellWord).join(" ");
        const hint = `\nResults have been paginated. To get the next page run:\n\n${again}`;
        // With -json, stdout stays one JSON document.
        if (ctx.json) ctx.err(hint.trimStart());
        else ctx.out(hint);
      }
    },
  },
  {
    group: "sink",
    name: "redrive",
    usage: "<id>",
    synopsis: "Send a sink's dead-lettered deliveries again",
    description: "Sends an event sink's dead-lettered deliveries back to the delivery queue, in order. A disabled sink must be registered again first.",
    flags: [],
    json: true,
    async run(ctx) {
      const id = oneArg(ctx, "the sink's ID");
      show(ctx, await ctx.client.redrive(id), (r) => `Sent ${r.Redriven} dead-lettered ${r.Redriven === 1 ? "delivery" : "deliveries"} of event sink ${JSON.stringify(id)} back to the delivery queue`);
    },
  },
  {
    group: "sink",
    name: "secret",
    usage: "<id>",
    synopsis: "Show a sink's signing secret",
    description: "Shows an event sink's signing secret (whsec_…) and the previous ones that still sign after a rotation.",
    flags: [],
    json: true,
    async run(ctx) {
      show(ctx, await ctx.client.sinkSecret(oneArg(ctx, "the sink's ID")), secretBlock);
    },
  },
  {
    group: "sink",
    name: "rotate-secret",
    usage: "<id>",
    synopsis: "Give a sink a new signing secret",
    description: "Gives an event sink a new signing secret and shows it; the old one keeps signing for 24 hours.",
    flags: [],
    json: true,
    async run(ctx) {
      show(ctx, await ctx.client.rotateSecret(oneArg(ctx, "the sink's ID")), secretBlock);
    },
  },
  {
    group: "token",
    name: "create",
    usage: "",
    synopsis: "Create a token",
    description: `Creates a management or team token and shows it, with its Secret ID (shown only now).
A team token may create tokens for its own team only, granting no more than it holds.`,
    flags: [
      { name: "name", kind: "string", placeholder: "<name>", help: "The token's name (free text)." },
      { name: "type", kind: "string", placeholder: "management|team", help: 'The token\'s type; default "team".' },
      { name: "team", kind: "string", placeholder: "<team>", help: "A team token's team (a team token creating one: its own, by default)." },
      { name: "namespace", kind: "list", placeholder: "<namespace>", help: "A Nomad namespace the team may receive events from; commas separate several." },
      { name: "cluster-topics", kind: "bool", help: "Allow the team the cluster-wide topics Node and NodePool." },
      { name: "ttl", kind: "string", placeholder: "<duration>", help: "Expire after this long, e.g. 72h." },
      { name: "expiration-time", kind: "string", placeholder: "<RFC3339>", help: "Expire at this time, e.g. 2030-01-02T15:04:05Z." },
    ],
    json: true,
    async run(ctx) {
      noArgs(ctx);
      const { strings, bools } = ctx.args;
      const type = strings.get("type") ?? "team";
      if (type !== "management" && type !== "team") throw new UsageError(`-type is "management" or "team"; received ${JSON.stringify(type)}`);
      const namespaces = listFlag(ctx.args, "namespace");
      const body: TokenRequest = {
        Type: type,
        ...(strings.has("name") ? { Name: strings.get("name")! } : {}),
        ...(strings.has("team") ? { Team: strings.get("team")! } : {}),
        ...(namespaces !== undefined ? { Namespaces: namespaces } : {}),
        ...(bools.has("cluster-topics") ? { ClusterTopics: bools.get("cluster-topics")! } : {}),
        ...expiry(ctx.args),
      };
      show(ctx, await ctx.client.createToken(body), tokenBlock);
    },
  },
  {
    group: "token",
    name: "list",
    usage: "",
    synopsis: "List tokens",
    description: "Lists the tokens (a team token: its team's). Secrets are never shown.",
    flags: [],
    json: true,
    async run(ctx) {
      noArgs(ctx);
      show(ctx, await ctx.client.listTokens(), tokenTable);
    },
  },
  {
    group: "token",
    name: "show",
    aliases: ["info"],
    usage: "<accessor>",
    synopsis: "Show a token",
    description: "Shows a token by its Accessor ID.",
    flags: [],
    json: true,
    async run(ctx) {
      show(ctx, await ctx.client.getToken(oneArg(ctx, "the token's Accessor ID")), tokenBlock);
    },
  },
  {
    group: "token",
    name: "self",
    usage: "",
    synopsis: "Show the token in use",
    description: 'Shows the token this command uses (Accessor ID "bootstrap" for the configured management token).',
    flags: [],
    json: true,
    async run(ctx) {
      noArgs(ctx);
      show(ctx, await ctx.client.selfToken(), tokenBlock);
    },
  },
  {
    group: "token",
    name: "update",
    usage: "<accessor>",
    synopsis: "Change a token's name, namespaces or expiry",
    description: `Changes a token's name, namespaces, cluster topics or expiry; what is not given stays.
Its type and team cannot change. A team token may narrow its team's tokens, and widen them
only within its own grants.`,
    flags: [
      { name: "name", kind: "string", placeholder: "<name>", help: "The new name." },
      { name: "namespace", kind: "list", placeholder: "<namespace>", help: "A namespace of the token, replacing the current ones; commas separate several." },
      { name: "cluster-topics", kind: "bool", help: "Allow (-cluster-topics) or refuse (-cluster-topics=false) the topics Node and NodePool." },
      { name: "ttl", kind: "string", placeholder: "<duration>", help: "Expire this long from now, e.g. 72h." },
      { name: "expiration-time", kind: "string", placeholder: "<RFC3339>", help: "Expire at this time, e.g. 2030-01-02T15:04:05Z." },
      { name: "no-expiration", kind: "bool", help: "Never expire." },
    ],
    json: true,
    async run(ctx) {
      const accessor = oneArg(ctx, "the token's Accessor ID");
      const { strings, bools } = ctx.args;
      const namespaces = listFlag(ctx.args, "namespace");
      const change = expiry(ctx.args);
      if (bools.get("no-expiration")) {
        if (Object.keys(change).length > 0) throw new UsageError("give -no-expiration, -ttl or -expiration-time, not several");
        change.ExpirationTime = null;
      }
      const body: TokenRequest = {
        ...(strings.has("name") ? { Name: strings.get("name")! } : {}),
        ...(namespaces !== undefined ? { Namespaces: namespaces } : {}),
        ...(bools.has("cluster-topics") ? { ClusterTopics: bools.get("cluster-topics")! } : {}),
        ...change,
      };
      if (Object.keys(body).length === 0) throw new UsageError("nothing to change: give -name, -namespace, -cluster-topics, -ttl, -expiration-time or -no-expiration");
      show(ctx, await ctx.client.updateToken(accessor, body), tokenBlock);
    },
  },
  {
    group: "token",
    name: "delete",
    usage: "<accessor>",
    synopsis: "Delete (revoke) a token",
    description: "Deletes a token by its Accessor ID; it stops working at once.",
    flags: [],
    json: false,
    async run(ctx) {
      const accessor = oneArg(ctx, "the token's Accessor ID");
      await ctx.client.deleteToken(accessor);
      ctx.out(`Token ${accessor} successfully deleted`);
    },
  },
  {
    group: "replay",
    name: "start",
    usage: "",
    synopsis: "Replay archived events to the sinks",
    description: `Starts replaying the events archived between -from and -to to one sink (-sink) or to
every sink whose filters match them, and shows the replay; follow it with
"replay status <ID>".`,
    flags: [
      { name: "from", kind: "string", placeholder: "<RFC3339>", help: "Start of the window (required), e.g. 2030-01-02T15:04:05Z." },
      { name: "to", kind: "string", placeholder: "<RFC3339>", help: "End of the window (required)." },
      { name: "sink", kind: "string", placeholder: "<id>", help: "Replay to this sink only." },
    ],
    json: true,
    async run(ctx) {
      noArgs(ctx);
      const from = rfc3339("from", ctx.args.strings.get("from"));
      const to = rfc3339("to", ctx.args.strings.get("to"));
      if (from === undefined || to === undefined) {
        throw new UsageError(`-from and -to are required: the replay's window, RFC 3339 times such as 2030-01-02T15:04:05Z; received ${from === undefined ? "no -from" : `-from=${from}`} and ${to === undefined ? "no -to" : `-to=${to}`}`);
      }
      const sink = ctx.args.strings.get("sink");
      if (sink === "") throw new UsageError('-sink names a sink; received ""');
      show(ctx, await ctx.client.startReplay({ From: from, To: to, ...(sink !== undefined ? { SinkID: sink } : {}) }), replayBlock);
    },
  },
  {
    group: "replay",
    name: "status",
    usage: "<id>",
    synopsis: "Show a replay",
    description: "Shows a replay: its window, sink, state (running, completed or failed) and how many events it replayed.",
    flags: [],
    json: true,
    async run(ctx) {
      show(ctx, await ctx.client.getReplay(oneArg(ctx, "the replay's ID")), replayBlock);
    },
  },
  {
    group: "replay",
    name: "list",
    usage: "",
    synopsis: "List replays",
    description: "Lists the replays (a team token: its team's).",
    flags: [],
    json: true,
    async run(ctx) {
      noArgs(ctx);
      show(ctx, await ctx.client.listReplays(), replayTable);
    },
  },
];

export const GROUPS: Readonly<Record<Command["group"], string>> = {
  sink: "Register, inspect and manage event sinks",
  token: "Create, inspect and revoke management and team tokens",
  replay: "Replay archived events to sinks",
};

export const GLOBAL_FLAGS: readonly FlagSpec[] = [
  { name: "address", kind: "string", placeholder: "<addr>", help: "The address of the nomad-event-sinks API. Overrides NOMAD_EVENT_SINKS_ADDR; default http://127.0.0.1:8080." },
  { name: "token", kind: "string", placeholder: "<token>", help: "The token (SecretID) to send as X-Nomad-Token. Overrides NOMAD_EVENT_SINKS_TOKEN." },
];

export const JSON_FLAG: FlagSpec = { name: "json", kind: "bool", help: JSON_FLAG_HELP };

export function flagsOf(command: Command): FlagSpec[] {
  return [...GLOBAL_FLAGS, ...command.flags, ...(command.json ? [JSON_FLAG] : [])];
}

export function findCommand(group: string, name: string): Command | undefined {
  return COMMANDS.find((c) => c.group === group && (c.name === name || c.aliases?.includes(name)));
}
