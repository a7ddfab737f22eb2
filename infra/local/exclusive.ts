import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";

/** The file that says which process runs on a data directory. */
export function dataDirLockFile(dataDir: string): string {
  return join(dataDir, "npm-start.pid");
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists, but belongs to another user.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Claims the data directory for this process: two runtimes on one directory would run two
 * DynamoDB Locals on the same files and overwrite each other's saved queues. A lock left by a
 * process that is gone (killed, or the machine restarted) is taken over. Returns the release.
 */
export function lockDataDir(dataDir: string): () => void {
  mkdirSync(dataDir, { recursive: true });
  const file = dataDirLockFile(dataDir);
  for (let attempt = 0; ; attempt++) {
    try {
      const fd = openSync(file, "wx", 0o600);
      writeSync(fd, `${process.pid}\n`);
      closeSync(fd);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST" || attempt > 0) throw error;
      let text = "";
      try {
        text = readFileSync(file, "utf8").trim();
      } catch {
        // Removed meanwhile: try again.
      }
      const pid = Number(text);
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid))
        throw new Error(`another npm start (process ${pid}) is using the data directory ${dataDir}: stop it first, or give this one a directory of its own with LOCAL_DATA_DIR (if no such process is running, delete ${file})`);
      rmSync(file, { force: true });
    }
  }
  return () => {
    try {
      if (readFileSync(file, "utf8").trim() === String(process.pid)) rmSync(file, { force: true });
    } catch {
      // Already gone.
    }
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
