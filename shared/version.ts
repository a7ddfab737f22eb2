/** The project's version, as in package.json (test/unit/version.test.ts keeps them in step). */
export const VERSION = "0.1.0";

/** What webhook requests identify themselves as. */
export const USER_AGENT = `nomad-event-sinks/${VERSION}`;
