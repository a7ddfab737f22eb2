import { VERSION } from "../shared/version";
import { ApiError, ConnectionError, createClient } from "./client";
import { COMMANDS, findCommand, flagsOf, GLOBAL_FLAGS, GROUPS, JSON_FLAG, PROGRAM, type Command } from "./commands";
import { CliError, UsageError } from "./errors";
import { parseArgs, type FlagSpec } from "./flags";

/**
 * The `nomad-event-sinks` command: `nomad-event-sinks <sink|token|replay> <command> [flags] [args]`,
 * modelled on Nomad's CLI. Exit 0 on success, 1 on an API error (the server's message) or a
 * usage error (what was wrong and what was received); never a stack trace for either.
 */

const DEFAULT_ADDRESS = "http://127.0.0.1:8080";
const ADDRESS_VARIABLE = "NOMAD_EVENT_SINKS_ADDR";
const TOKEN_VARIABLE = "NOMAD_EVENT_SINKS_TOKEN";

export interface Io {
  out(text: string): void;
  err(text: string): void;
  readStdin(): Promise<string>;
}

const HELP_WORDS = new Set(["-help", "--help", "-h", "--h", "help"]);
const VERSION_WORDS = new Set(["-version", "--version", "-v", "version"]);
const groupNames = Object.keys(GROUPS) as Array<Command["group"]>;

function describeFlags(flags: readonly FlagSpec[]): string {
  return flags.map((f) => `  -${f.name}${f.kind === "bool" ? "" : `=${f.placeholder ?? "<value>"}`}\n    ${f.help}${f.kind === "list" ? " (repeatable)" : ""}`).join("\n\n");
}

const VARIABLES = `Environment variables:

  ${ADDRESS_VARIABLE}
    The address of the nomad-event-sinks API (default ${DEFAULT_ADDRESS}).

  ${TOKEN_VARIABLE}
    The token to use: the management token or a token made with "token create".

  (NOMAD_ADDR and NOMAD_TOKEN are Nomad's own and are not read: they point the streamer at Nomad.)`;

function commandLines(commands: readonly Command[], full: boolean): string {
  const names = commands.map((c) => (full ? `${c.group} ${c.name}` : c.name));
  const width = Math.max(...names.map((n) => n.length));
  return commands.map((c, i) => `    ${names[i]!.padEnd(width)}    ${c.synopsis}`).join("\n");
}

function topHelp(): string {
  const groups = groupNames.map((g) => `${g[0]!.toUpperCase()}${g.slice(1)} commands (${GROUPS[g].toLowerCase()}):\n${commandLines(COMMANDS.filter((c) => c.group === g), true)}`).join("\n\n");
  return `Usage: ${PROGRAM} [-version] [-help] <command> <subcommand> [options] [args]

Manages the event sinks, tokens and replays of a nomad-event-sinks deployment through its
API, as Nomad's CLI manages Nomad.

${groups}

Every command takes these flags (single or double dash; -flag=value or -flag value):

${describeFlags(GLOBAL_FLAGS)}

  -json
    Output in JSON format (every command that prints something: not deregister, delete).

  -help
    Show a command's help, e.g. ${PROGRAM} sink register -help.

${VARIABLES}

Exit status: 0 on success; 1 on an error from the API (its message is printed), a usage
error, or an API that cannot be reached.
`;
}

function groupHelp(group: Command["group"]): string {
  return `Usage: ${PROGRAM} ${group} <subcommand> [options] [args]

${GROUPS[group]}.

Subcommands:
${commandLines(COMMANDS.filter((c) => c.group === group), false)}

For a subcommand's options: ${PROGRAM} ${group} <subcommand> -help
`;
}

function commandHelp(command: Command): string {
  const own = [...command.flags, ...(command.json ? [JSON_FLAG] : [])];
  const title = `${command.name[0]!.toUpperCase()}${command.name.slice(1)}`;
  return `Usage: ${PROGRAM} ${command.group} ${command.name} [options]${command.usage ? ` ${command.usage}` : ""}

${command.description
  .split("\n")
  .map((line) => (line ? `  ${line}` : line))
  .join("\n")}
${command.aliases?.length ? `\n  Also: ${command.aliases.map((a) => `${PROGRAM} ${command.group} ${a}`).join(", ")}\n` : ""}
General options:

${describeFlags(GLOBAL_FLAGS)}
${own.length > 0 ? `\n${title} options:\n\n${describeFlags(own)}\n` : ""}
${VARIABLES}
`;
}

function normaliseAddress(raw: string, from: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new UsageError(`${from} must be an http:// or https:// URL such as ${DEFAULT_ADDRESS}; received ${JSON.stringify(raw)}`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new UsageError(`${from} must be an http:// or https:// URL such as ${DEFAULT_ADDRESS}; received ${JSON.stringify(raw)}`);
  if (url.search !== "" || url.hash !== "") throw new UsageError(`${from} is the API's base URL, without ?query or #fragment; received ${JSON.stringify(raw)}`);
  return url.toString();
}

const nonEmpty = (value: string | undefined) => (value === undefined || value === "" ? undefined : value);

/** Runs one invocation; resolves with the exit code. */
export async function main(argv: readonly string[], env: NodeJS.ProcessEnv, io: Io): Promise<number> {
  let command: Command | undefined;
  try {
    const [first, second] = argv;
    if (first === undefined) {
      io.err(topHelp());
      return 1;
    }
    if (HELP_WORDS.has(first)) {
      // `help sink register` shows that command's help.
      const third = argv[2];
      const target = second !== undefined && third !== undefined ? findCommand(second, third) : undefined;
      const group = second !== undefined && groupNames.includes(second as Command["group"]) ? (second as Command["group"]) : undefined;
      io.out(target ? commandHelp(target) : group ? groupHelp(group) : topHelp());
      return 0;
    }
    if (VERSION_WORDS.has(first)) {
      io.out(`${PROGRAM} v${VERSION}`);
      return 0;
    }
    if (!groupNames.includes(first as Command["group"])) {
      if (first.startsWith("-")) throw new UsageError(`flags go after the command, as in ${PROGRAM} sink list ${first}; received ${JSON.stringify(first)} before any command`);
      throw new UsageError(`unknown command ${JSON.stringify(first)}; the commands are ${groupNames.join(", ")} (each with subcommands)`);
    }
    const group = first as Command["group"];
    if (second === undefined) {
      io.err(groupHelp(group));
      return 1;
    }
    if (HELP_WORDS.has(second)) {
      io.out(groupHelp(group));
      return 0;
    }
    command = findCommand(group, second);
    if (command === undefined) {
      const names = COMMANDS.filter((c) => c.group === group).map((c) => c.name);
      io.err(`Error: unknown command ${JSON.stringify(`${group} ${second}`)}; the ${group} commands are ${names.join(", ")}\nFor additional help try '${PROGRAM} ${group} -help'`);
      return 1;
    }
    const args = parseArgs(argv.slice(2), flagsOf(command));
    if (args.help) {
      io.out(commandHelp(command));
      return 0;
    }
    const flagAddress = args.strings.get("address");
    const envAddress = nonEmpty(env[ADDRESS_VARIABLE]);
    const address =
      flagAddress !== undefined ? normaliseAddress(flagAddress, "-address") : envAddress !== undefined ? normaliseAddress(envAddress, ADDRESS_VARIABLE) : normaliseAddress(DEFAULT_ADDRESS, "the address");
    const token = nonEmpty(args.strings.get("token")) ?? nonEmpty(env[TOKEN_VARIABLE]);
    const client = createClient({ address, ...(token !== undefined ? { token } : {}) });
    try {
      await command.run({ args, client, json: args.bools.get("json") === true, out: io.out, err: io.err, readStdin: io.readStdin });
    } catch (error) {
      if (error instanceof ApiError && error.status === 403 && token === undefined) {
        throw new ApiError(error.status, `${error.body.trim()} (no token was given: set -token or ${TOKEN_VARIABLE})`);
      }
      throw error;
    } finally {
      await client.close();
    }
    return 0;
  } catch (error) {
    if (error instanceof UsageError) {
      const help = command ? `${PROGRAM} ${command.group} ${command.name} -help` : `${PROGRAM} -help`;
      io.err(`Error: ${error.message}\nFor additional help try '${help}'`);
    } else if (error instanceof ApiError || error instanceof ConnectionError || error instanceof CliError) {
      io.err(`Error: ${error.message}`);
    } else {
      // A bug, not a usage or API error: still no stack trace unless asked for.
      io.err(`Error: unexpected failure: ${(error as Error)?.message ?? String(error)}${env.NOMAD_EVENT_SINKS_DEBUG ? `\n${(error as Error)?.stack ?? ""}` : ""}`);
    }
    return 1;
  }
}

/** Reads all of stdin as UTF-8. */
export async function readStdin(stream: NodeJS.ReadableStream = process.stdin): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string));
  return Buffer.concat(chunks).toString("utf8");
}

/** The process entry (cli/bin.mjs): runs `main` with this process's arguments and streams. */
export async function runProcess(): Promise<void> {
  const write = (stream: NodeJS.WriteStream) => (text: string) => {
    stream.write(text.endsWith("\n") ? text : `${text}\n`);
  };
  process.exitCode = await main(process.argv.slice(2), process.env, { out: write(process.stdout), err: write(process.stderr), readStdin: () => readStdin() });
}
