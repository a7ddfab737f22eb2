import { linkSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";

/** The file that says which process runs on a data directory. */
export function dataDirLockFile(dataDir: string): string {
  return join(dataDir, "npm-start.pid");
}

/** When a process started, in clock ticks since boot (Linux's /proc/<pid>/stat, field 22), so a reused pid is told apart; undefined elsewhere. */
function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) is in parentheses and may hold spaces: count from after it.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

/** Whether the process a lock names still runs: its pid exists and, where the start time is known, it is the same process. */
function holderRuns(lock: string): boolean {
  const [pidText, started] = lock.split(" ");
  const pid = Number(pidText);
  if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: it exists, but belongs to another user.
    if ((error as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  const now = startTime(pid);
  return started === undefined || started === "" || now === undefined || now === started;
}

function readLock(file: string): string | undefined {
  try {
    return readFileSync(file, "utf8").trim();
  } catch {
    return undefined;
  }
}

/**
 * Claims the data directory for this process: two runtimes on one directory would run two
 * DynamoDB Locals on the same files and overwrite each other's saved queues. The lock file
 * appears whole (written aside, then linked into place), naming this process's pid and start
 * time. A lock whose process is gone (killed, or the machine restarted; a reused pid is told
 * apart by its start time on Linux) is taken over. Returns the release.
 */
export function lockDataDir(dataDir: string): () => void {
  mkdirSync(dataDir, { recursive: true });
  const file = dataDirLockFile(dataDir);
  const mine = `${process.pid} ${startTime(process.pid) ?? ""}`.trim();
  const aside = `${file}.${process.pid}`;
  writeFileSync(aside, `${mine}\n`, { mode: 0o600 });
  const refuse = (holder: string) =>
    new Error(`another npm start (process ${holder.split(" ")[0]}) is using the data directory ${dataDir}: stop it first, or give this one a directory of its own with LOCAL_DATA_DIR (if no such process is running, delete ${file})`);
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        linkSync(aside, file);
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
        const holder = readLock(file);
        if (attempt > 3) throw refuse(holder ?? "unknown");
        if (holder === undefined) continue; // removed meanwhile
        if (holderRuns(holder)) throw refuse(holder);
        // Stale: moved away, unless another start took it over first (then it is theirs, and put back).
        const stale = `${file}.stale-${process.pid}`;
        try {
          renameSync(file, stale);
        } catch {
          continue;
        }
        const moved = readLock(stale);
        if (moved !== holder) {
          try {
            linkSync(stale, file);
          } catch {
            // Someone else's is in place already.
          }
          rmSync(stale, { force: true });
          throw refuse(moved ?? holder);
        }
        rmSync(stale, { force: true });
      }
    }
  } finally {
    rmSync(aside, { force: true });
  }
  return () => {
    if (readLock(file) === mine) rmSync(file, { force: true });
  };
}

/**
 * Fails early, before anything is started, when the API's port is taken, naming the variable
 * that sets it. (Port 0 is any free port: nothing to check.)
 */
export async function ensurePortFree(host: string, port: number): Promise<void> {
  if (port === 0) return;
  await new Promise<void>((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", (error: NodeJS.ErrnoException) =>
      reject(
        error.code === "EADDRINUSE"
          ? new Error(`port ${port} on ${host} is taken: stop what listens there, or choose another port for the sinks API with PORT`)
          : error.code === "EADDRNOTAVAIL"
            ? new Error(`cannot listen on ${host}: it is not an address of this machine (HOST)`)
            : error,
      ),
    );
    server.listen(port, host, () => server.close(() => resolve()));
  });
}
