// The entry of the local runtime's worker threads: a worker does not inherit the parent's
// `--import tsx` hooks (Node 20 loads its first module before them), so it loads its
// TypeScript entry (workerData.entry, a file URL) through tsx's API instead.
import { workerData } from "node:worker_threads";
import { tsImport } from "tsx/esm/api";

await tsImport(workerData.entry, import.meta.url);
