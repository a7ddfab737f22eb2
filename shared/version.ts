/** The project's version, as in package.json (kept in step by a test). */
export const VERSION = "0.1.0";

/** What webhook requests and Nomad calls identify themselves as. */
export const USER_AGENT = `nomad-event-sinks/${VERSION}`;
