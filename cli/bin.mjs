#!/usr/bin/env node
// The `nomad-event-sinks` command (package.json "bin"): loads the CLI's TypeScript through
// tsx's API, so it runs straight from a checkout after `npm ci`, with no build step.
let tsImport;
try {
  ({ tsImport } = await import("tsx/esm/api"));
} catch {
  process.stderr.write("Error: nomad-event-sinks needs tsx (a devDependency); run `npm ci` in the repository first\n");
  process.exit(1);
}
const { runProcess } = await tsImport("./main.ts", import.meta.url);
await runProcess();
