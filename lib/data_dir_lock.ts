/**
 * One service per data directory: the service holds an exclusive lock on `p1reader.lock` in it
 * while it runs, so that a second one (a second unit, a container started twice) cannot append to
 * the same push queues or write the same history. The lock is the kernel's `flock`, which the
 * kernel lets go when the process ends however it ends (`kill -9`, a power cut): a stale lock
 * file never keeps the service from starting. The file holds the holder's process id, for the
 * message that names it.
 *
 * `p1reader backup` and `p1reader import` take no such lock: they touch only the history
 * database, which SQLite locks for them, and they are meant to run beside the service.
 *
 * @module
 */

/** The lock file's name in the data directory. */
export const LOCK_FILE = "p1reader.lock";

/** A data directory held by this process. */
export interface DataDirLock {
  /** The lock file. */
  readonly path: string;
  /** Why it is not locked after all: its file system has no `flock` (some network mounts). */
  readonly unlocked?: string;
  /** Lets go of the directory (closing the file releases the lock). */
  release(): void;
}

/** Another process holds the data directory. */
export class DataDirInUseError extends Error {
  /**
   * Makes the error.
   *
   * @param dir The data directory.
   * @param pid The holder's process id, when its lock file says it.
   */
  constructor(readonly dir: string, readonly pid: number | undefined) {
    super(
      `"${dir}" is in use by another p1reader${pid === undefined ? "" : ` (pid ${pid})`}: ` +
        "stop it, or give each its own --data-dir",
    );
    this.name = "DataDirInUseError";
  }
}

const encoder = new TextEncoder();

/**
 * Creates the directory when missing and takes its lock, without waiting for it.
 *
 * @param dir The data directory.
 * @returns The lock, held until it is released or the process ends (or, where the file system
 *   cannot lock, the reason in `unlocked`).
 * @throws {DataDirInUseError} When another process holds it.
 * @throws What the file system says when the directory or the lock file cannot be created.
 */
export async function lockDataDir(dir: string): Promise<DataDirLock> {
  await Deno.mkdir(dir, { recursive: true });
  const path = `${dir.replace(/\/+$/, "")}/${LOCK_FILE}`;
  const file = await Deno.open(path, { read: true, write: true, create: true });
  const release = () => file.close();
  let locked: boolean;
  try {
    locked = await file.tryLock(true);
  } catch (error) {
    // Better to run unlocked, and say so, than not at all where the data lives on such a mount.
    return { path, unlocked: (error as Error).message, release };
  }
  if (!locked) {
    file.close();
    throw new DataDirInUseError(dir, await holder(path));
  }
  try {
    await file.truncate(0);
    await file.write(encoder.encode(`${Deno.pid}\n`));
  } catch {
    // A full disk: the lock holds all the same, only the message naming this process lacks its id.
  }
  return { path, release };
}

/** The process id a lock file holds, if it holds one. */
async function holder(path: string): Promise<number | undefined> {
  // The holder writes its id just after taking the lock (it may not be there yet); a file that
  // cannot be read names no one.
  const text = await Deno.readTextFile(path).catch(() => "");
  const pid = Number(text.trim());
  return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
}
