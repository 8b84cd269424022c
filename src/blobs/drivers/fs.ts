/**
 * The filesystem blob driver: each object is a file at `<root>/<key>`, written durably and atomically by
 * staging it under `<root>/tmp/` (same filesystem, so the final rename is atomic) and renaming it into place.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, opendir, readFile, readdir, rename, stat, unlink, utimes } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import {
  assertValidKey,
  BlobNotFoundError,
  InvalidBlobKeyError,
  RESERVED_KEY_SEGMENT,
  type BlobDriver,
} from '../driver.js';

export interface FsBlobDriverOptions {
  /** Directory holding the objects; created if missing. */
  readonly root: string;
  /**
   * fsync each object and its directory before `put` resolves (default: true). Only tests and throwaway
   * demos should turn it off: without it a power cut can lose objects `put` reported as stored.
   */
  readonly sync?: boolean;
  /**
   * How old a staged file of a still-running process must be before the driver removes it at creation
   * (default: FS_STALE_TEMP_MS). Staged files of processes that are gone are removed whatever their age.
   */
  readonly staleTempMs?: number;
  /** Reported as `capabilities.maxParallelism` (default: FS_MAX_PARALLELISM). */
  readonly maxParallelism?: number;
}

/**
 * Default parallelism: each put holds a libuv thread in fsync for a while, and the pool has 4 threads unless
 * UV_THREADPOOL_SIZE says otherwise; 8 keeps the pool's queue fed without piling up open files.
 */
export const FS_MAX_PARALLELISM = 8;

/** A put takes milliseconds; a staged file untouched for 10 minutes belongs to no live put. */
export const FS_STALE_TEMP_MS = 10 * 60 * 1000;

const TEMP_DIR = RESERVED_KEY_SEGMENT;

function isErrno(error: unknown, code: string): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === code;
}

/**
 * Errors that mean "no object under this key": nothing there, a file where a directory would be, or a
 * directory (a key prefix, not an object).
 */
function isAbsent(error: unknown): boolean {
  return isErrno(error, 'ENOENT') || isErrno(error, 'ENOTDIR') || isErrno(error, 'EISDIR');
}

function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return isErrno(error, 'EPERM'); // exists, owned by someone else
  }
}

async function fsyncDirectory(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Removes files in the staging directory left by a crash: those whose writer process (the pid prefix of
 * the name) is gone, and any older than `staleMs`. Removing a live put's staged file is safe, only
 * unlucky: its rename fails and the put rejects, so no object is ever half-written. A crashed process
 * whose pid is alive again (a container restarted as pid 1) has its files removed by age, at a later start.
 */
async function removeStaleTempFiles(tempDir: string, staleMs: number): Promise<void> {
  const now = Date.now();
  for (const name of await readdir(tempDir)) {
    const path = join(tempDir, name);
    const pid = Number.parseInt(name, 10);
    let stale = !Number.isSafeInteger(pid) || (pid !== process.pid && !isProcessAlive(pid));
    if (!stale) {
      try {
        stale = now - (await stat(path)).mtimeMs > staleMs;
      } catch (error) {
        if (isErrno(error, 'ENOENT')) continue;
        throw error;
      }
    }
    if (stale)
      await unlink(path).catch((error: unknown) =>
        isErrno(error, 'ENOENT') ? undefined : Promise.reject(error),
      );
  }
}

/**
 * Opens (creating if needed) a filesystem blob store at `options.root` and removes stale staged files.
 * Concurrency-safe within a process and across processes sharing the root on one host.
 * @example
 * const driver = await createFsBlobDriver({ root: './data/north-1/blobs' });
 */
export async function createFsBlobDriver(options: FsBlobDriverOptions): Promise<BlobDriver> {
  const root = options.root;
  const sync = options.sync ?? true;
  const tempDir = join(root, TEMP_DIR);
  await mkdir(tempDir, { recursive: true });
  await removeStaleTempFiles(tempDir, options.staleTempMs ?? FS_STALE_TEMP_MS);

  /**
   * Directories made (durably) or being made, so a put pays for mkdir + parent fsync once per directory,
   * and a concurrent put into the same new directory waits for that fsync too.
   */
  const directories = new Map<string, Promise<void>>();

  function pathOf(key: string): string {
    assertValidKey(key);
    return join(root, ...key.split('/'));
  }

  function ensureDirectory(dir: string): Promise<void> {
    let made = directories.get(dir);
    if (made === undefined) {
      made = (async () => {
        const firstCreated = await mkdir(dir, { recursive: true });
        if (firstCreated === undefined || !sync) return;
        // A new directory's entry lives in its parent: fsync the parent of each directory mkdir created.
        for (let d = dir; d.length >= firstCreated.length; d = dirname(d)) await fsyncDirectory(dirname(d));
      })();
      directories.set(dir, made);
      made.catch(() => directories.delete(dir)); // let a later put retry
    }
    return made;
  }

  async function writeStaged(tempPath: string, data: Buffer): Promise<void> {
    const handle = await open(tempPath, 'wx');
    try {
      let written = 0;
      while (written < data.length) {
        const { bytesWritten } = await handle.write(data, written, data.length - written, written);
        written += bytesWritten;
      }
      if (sync) await handle.datasync();
    } finally {
      await handle.close();
    }
  }

  const driver = {
    name: 'fs',
    capabilities: { maxParallelism: options.maxParallelism ?? FS_MAX_PARALLELISM },

    async put(key: string, data: Buffer): Promise<void> {
      const path = pathOf(key);
      if (await driver.has(key)) {
        // Putting an existing object again marks it as wanted now: garbage collection spares recent objects,
        // so a chunk an upload just found already stored is not collected under it.
        const now = new Date();
        await utimes(path, now, now).catch(() => undefined);
        return;
      }
      const dir = dirname(path);
      await ensureDirectory(dir);
      const tempPath = join(tempDir, `${process.pid}-${randomBytes(8).toString('hex')}`);
      try {
        await writeStaged(tempPath, data);
        await rename(tempPath, path);
      } catch (error) {
        await unlink(tempPath).catch(() => undefined);
        throw error;
      }
      if (sync) await fsyncDirectory(dir);
    },

    async get(key: string): Promise<Buffer> {
      const path = pathOf(key);
      try {
        return await readFile(path);
      } catch (error) {
        if (isAbsent(error)) throw new BlobNotFoundError(key);
        throw error;
      }
    },

    async has(key: string): Promise<boolean> {
      const path = pathOf(key);
      try {
        return (await stat(path)).isFile();
      } catch (error) {
        if (isAbsent(error)) return false;
        throw error;
      }
    },

    async stat(key: string) {
      try {
        const info = await stat(pathOf(key));
        return info.isFile() ? { size: info.size, modifiedAt: info.mtime } : undefined;
      } catch (error) {
        if (isErrno(error, 'ENOENT') || isErrno(error, 'ENOTDIR')) return undefined;
        throw error;
      }
    },

    /** Unlinks the file. Not fsynced: a delete lost in a crash only leaves garbage for the next GC. */
    async delete(key: string): Promise<void> {
      const path = pathOf(key);
      try {
        await unlink(path);
      } catch (error) {
        if (isAbsent(error)) return;
        throw error;
      }
    },

    async *list(prefix: string): AsyncIterable<string> {
      // Walk only the deepest directory the prefix names, e.g. `v1/chunks/ab` for `v1/chunks/ab/abc`.
      const slash = prefix.lastIndexOf('/');
      const base = slash < 0 ? '' : prefix.slice(0, slash);
      if (base !== '') assertValidKey(base);
      else if (prefix.startsWith('.')) throw new InvalidBlobKeyError(prefix, 'bad prefix');
      yield* walk(base === '' ? root : join(root, ...base.split('/')), base, prefix);
    },
  } satisfies BlobDriver;

  async function* walk(dir: string, keyOfDir: string, prefix: string): AsyncGenerator<string> {
    let entries;
    try {
      entries = await opendir(dir);
    } catch (error) {
      if (isErrno(error, 'ENOENT') || isErrno(error, 'ENOTDIR')) return;
      throw error;
    }
    for await (const entry of entries) {
      const key = keyOfDir === '' ? entry.name : `${keyOfDir}/${entry.name}`;
      if (keyOfDir === '' && entry.name === TEMP_DIR) continue;
      if (entry.isDirectory()) {
        // Descend only where keys can still match the prefix.
        if (prefix.startsWith(`${key}/`) || key.startsWith(prefix))
          yield* walk(join(dir, entry.name), key, prefix);
      } else if (entry.isFile() && key.startsWith(prefix)) {
        yield key;
      }
    }
  }

  return driver;
}
