/**
 * The filesystem blob driver: each object is a file at `<root>/<key>`, written durably and atomically by
 * staging it under `<root>/tmp/` (same filesystem), fdatasync'ing it, and linking it into place (`link`
 * is atomic and fails if the key exists, so objects stay immutable without a check before the write).
 *
 * Per object: open, write, fdatasync, close, link, unlink of the staged name, and an fsync of the object's
 * directory, which `put(…, { deferSync: true })` leaves to a later `flush` so that an ingest of 2048 chunks
 * fsyncs each of its (at most 256) shard directories once instead of once per chunk.
 *
 * Large objects are written with O_DIRECT from a small pool of aligned staging buffers: the bytes go from
 * memory to the disk without becoming page cache. Measured on the 2-core dev VM (a Firecracker guest whose
 * free memory is handed back to the host, so every page cache page it has not used recently costs a host
 * fault), writing 2 GiB as 1 MiB files with fdatasync: buffered 4.2-6.4 s with 4.8-5.1 s of system CPU,
 * O_DIRECT 2.0-2.5 s with 0.5-1.4 s. The price is one 1 MiB copy into the staging buffer (~0.1 ms) and
 * that a chunk just written is not in the page cache: its first read comes from the disk. Objects up to a
 * staging buffer's size are read with O_DIRECT too (see `readDirect`), for the same reason.
 * @module
 */
import { constants as fsConstants, statSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import {
  link,
  mkdir,
  open,
  opendir,
  type FileHandle,
  readFile,
  readdir,
  stat,
  unlink,
  utimes,
} from 'node:fs/promises';
import { dirname, join } from 'node:path';
import {
  assertValidKey,
  BlobNotFoundError,
  InvalidBlobKeyError,
  RESERVED_KEY_SEGMENT,
  type AllocateOptions,
  type BlobDriver,
  type PutOptions,
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
  /** Reported as `capabilities.maxParallelism` (default: FS_MAX_PARALLELISM); also the number of stages. */
  readonly maxParallelism?: number;
  /** See FS_STAGE_WAIT_MS (the default). */
  readonly stageWaitMs?: number;
  /**
   * Write objects of DIRECT_IO_MIN_BYTES or more (whole multiples of DIRECT_IO_ALIGNMENT) with O_DIRECT
   * (default: true). Ignored where the filesystem refuses O_DIRECT (e.g. tmpfs): puts are then buffered.
   */
  readonly directIo?: boolean;
}

/** O_DIRECT needs buffer address, file offset and length aligned; 4 KiB covers every common device. */
export const DIRECT_IO_ALIGNMENT = 4096;
/** Smaller objects (manifests, short tails) are written through the page cache. */
export const DIRECT_IO_MIN_BYTES = 64 * 1024;
/**
 * Size of one aligned staging buffer: a block more than a chunk, so that a read which fills it is known to be
 * of an object too large for it without asking the file's size first. Larger objects are written through
 * it in pieces and read buffered.
 */
const DIRECT_IO_STAGE_BYTES = 1024 * 1024 + DIRECT_IO_ALIGNMENT;

/**
 * Default parallelism: each put holds a libuv thread in fsync for a while, and the pool has 4 threads unless
 * UV_THREADPOOL_SIZE says otherwise; 8 keeps the pool's queue fed without piling up open files.
 */
export const FS_MAX_PARALLELISM = 8;

/**
 * How long a read waits for a staging buffer before it reads through the page cache into a buffer of its
 * own instead. Stages go round in a millisecond or so, but a lent one stays with its reader until the bytes
 * are passed on: a receiver that stops taking them keeps it for up to its send timeout (60 s), and a few
 * such receivers must not stop every other read of the region meanwhile.
 */
export const FS_STAGE_WAIT_MS = 100;

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

/**
 * Whether a file is at `path`. A synchronous `stat` on purpose: it is asked for every chunk stored or
 * looked up (ingest, transfer, missing-chunk checks), and on a local filesystem the syscall takes a few
 * microseconds, while the promise version costs a thread-pool round trip and, for the usual answer "absent",
 * an exception with a stack trace: 0.6 s of the main thread per 2 GiB ingested in a `--cpu-prof` of the
 * upload bench on the dev VM.
 */
function isFilePresent(path: string): boolean {
  try {
    return statSync(path, { throwIfNoEntry: false })?.isFile() ?? false;
  } catch (error) {
    if (isAbsent(error)) return false; // ENOTDIR: a file where a directory of the key should be
    throw error;
  }
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
 * Memory known to be aligned for O_DIRECT: for each ArrayBuffer carved into aligned buffers, the residue
 * (modulo DIRECT_IO_ALIGNMENT) of the byte offsets that are aligned. Only directIoStages adds to it.
 */
const alignedResidue = new WeakMap<ArrayBufferLike, number>();

/** Whether `data` starts at an address O_DIRECT accepts (as far as this module knows). */
function isAligned(data: Buffer): boolean {
  return alignedResidue.get(data.buffer) === data.byteOffset % DIRECT_IO_ALIGNMENT;
}

/**
 * `count` buffers of `size` bytes (default: DIRECT_IO_STAGE_BYTES; a multiple of DIRECT_IO_ALIGNMENT) whose
 * addresses are DIRECT_IO_ALIGNMENT-aligned, carved out of one ArrayBuffer (a SharedArrayBuffer if
 * `shared`), or undefined if O_DIRECT is unavailable in `tempDir`. JavaScript cannot see a buffer's
 * address, so the alignment is found by trial: O_DIRECT writes from an unaligned address fail with EINVAL,
 * and malloc'd memory is 16-byte aligned, so one of the first 256 offsets of a 16-byte step works.
 */
async function directIoStages(
  tempDir: string,
  count: number,
  size = DIRECT_IO_STAGE_BYTES,
  shared = false,
): Promise<Buffer[] | undefined> {
  const { O_DIRECT, O_WRONLY, O_CREAT, O_EXCL } = fsConstants;
  if (O_DIRECT === undefined) return undefined; // not Linux
  const bytes = count * size + DIRECT_IO_ALIGNMENT;
  const memory = shared ? Buffer.from(new SharedArrayBuffer(bytes)) : Buffer.allocUnsafeSlow(bytes);
  const probe = join(tempDir, `${process.pid}-${randomBytes(8).toString('hex')}`);
  let handle;
  try {
    handle = await open(probe, O_WRONLY | O_CREAT | O_EXCL | O_DIRECT);
  } catch {
    return undefined;
  }
  try {
    for (let offset = 0; offset < DIRECT_IO_ALIGNMENT; offset += 16) {
      try {
        await handle.write(memory, offset, DIRECT_IO_ALIGNMENT, 0);
      } catch (error) {
        if (isErrno(error, 'EINVAL')) continue;
        return undefined;
      }
      alignedResidue.set(memory.buffer, (memory.byteOffset + offset) % DIRECT_IO_ALIGNMENT);
      return Array.from({ length: count }, (_, i) =>
        memory.subarray(offset + i * size, offset + (i + 1) * size),
      );
    }
    return undefined;
  } finally {
    await handle.close();
    await unlink(probe).catch(() => undefined);
  }
}

/**
 * Removes files in the staging directory left by a crash: those whose writer process (the pid prefix of
 * the name) is gone, and any older than `staleMs`. Removing a live put's staged file is safe, only
 * unlucky: its link fails and the put rejects, so no object is ever half-written. A crashed process
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

  const maxParallelism = options.maxParallelism ?? FS_MAX_PARALLELISM;
  const stages = options.directIo === false ? undefined : await directIoStages(tempDir, maxParallelism);
  const freeStages = stages ?? [];
  const stageWaiters: Array<(stage: Buffer) => void> = [];
  const stageWaitMs = options.stageWaitMs ?? FS_STAGE_WAIT_MS;

  /**
   * A free stage; when none is, the next one given back, in call order. With `waitMs`, undefined if none came
   * free within it (the caller then does without).
   */
  function acquireStage(): Promise<Buffer>;
  function acquireStage(waitMs: number): Promise<Buffer | undefined>;
  function acquireStage(waitMs?: number): Promise<Buffer | undefined> {
    const free = freeStages.pop();
    if (free !== undefined) return Promise.resolve(free);
    return new Promise<Buffer | undefined>((resolve) => {
      const waiter = (stage: Buffer): void => {
        clearTimeout(timer);
        resolve(stage);
      };
      const timer =
        waitMs === undefined
          ? undefined
          : setTimeout(() => {
              const at = stageWaiters.indexOf(waiter);
              if (at >= 0) stageWaiters.splice(at, 1);
              resolve(undefined);
            }, waitMs);
      stageWaiters.push(waiter);
    });
  }

  function releaseStage(stage: Buffer): void {
    const waiter = stageWaiters.shift();
    if (waiter !== undefined) waiter(stage);
    else freeStages.push(stage);
  }

  async function writeAll(handle: FileHandle, data: Buffer, position: number): Promise<void> {
    let written = 0;
    while (written < data.length) {
      const { bytesWritten } = await handle.write(data, written, data.length - written, position + written);
      written += bytesWritten;
    }
  }

  async function writeStaged(tempPath: string, data: Buffer): Promise<void> {
    const direct =
      stages !== undefined && data.length >= DIRECT_IO_MIN_BYTES && data.length % DIRECT_IO_ALIGNMENT === 0;
    const { O_DIRECT, O_WRONLY, O_CREAT, O_EXCL } = fsConstants;
    // Buffered for small or odd-sized objects; memory from `allocate` is written as it is, no staging copy.
    if (!direct || isAligned(data)) {
      const handle = await open(tempPath, O_WRONLY | O_CREAT | O_EXCL | (direct ? O_DIRECT : 0), 0o666);
      try {
        await writeAll(handle, data, 0);
        if (sync) await handle.datasync();
      } finally {
        await handle.close();
      }
      return;
    }
    const stage = await acquireStage();
    try {
      const handle = await open(tempPath, O_WRONLY | O_CREAT | O_EXCL | O_DIRECT, 0o666);
      try {
        for (let at = 0; at < data.length; at += stage.length) {
          const piece = stage.subarray(0, data.copy(stage, 0, at, Math.min(at + stage.length, data.length)));
          await writeAll(handle, piece, at);
        }
        // O_DIRECT bypasses the page cache, not the disk's write cache nor the file's metadata.
        if (sync) await handle.datasync();
      } finally {
        await handle.close();
      }
    } finally {
      releaseStage(stage);
    }
  }

  /**
   * Reads the file at `path` with O_DIRECT into a staging buffer, lent to the caller until it calls
   * `release`; or undefined (nothing held) if the file does not fit in a staging buffer or is not a file
   * O_DIRECT can open (a directory). A chunk read by a download or a replication source then costs neither
   * page cache nor the VM's host faults for fresh pages. Measured on the dev VM, reading 1 GiB not in the
   * page cache: buffered 1.39 s with 1.21 s of system CPU, O_DIRECT 0.47 s with 0.07 s. The price: a chunk
   * read twice comes from the disk twice. Also undefined if no stage came free within FS_STAGE_WAIT_MS.
   */
  async function readDirect(path: string): Promise<{ data: Buffer; release(): void } | undefined> {
    // Asked for before anything is awaited: stages go to reads in the order of the calls (see BlobReader).
    const stage = await acquireStage(stageWaitMs);
    if (stage === undefined) return undefined;
    let lent = false;
    try {
      let handle: FileHandle;
      try {
        handle = await open(path, fsConstants.O_RDONLY | fsConstants.O_DIRECT);
      } catch (error) {
        if (isErrno(error, 'EINVAL')) return undefined; // e.g. a directory: the buffered path says what it is
        throw error;
      }
      // One read, no stat first (a thread-pool round trip less per chunk): a read of a regular file comes
      // back short only at the file's end, and one that fills the stage is of a file too large for it.
      let size: number;
      try {
        ({ bytesRead: size } = await handle.read(stage, 0, stage.length, 0));
      } finally {
        // Not awaited: closing a file opened for reading loses nothing, and the caller need not wait for it.
        handle.close().catch(() => undefined);
      }
      if (size === stage.length) return undefined;
      lent = true;
      return { data: stage.subarray(0, size), release: () => releaseStage(stage) };
    } finally {
      if (!lent) releaseStage(stage);
    }
  }

  /**
   * The object at `key`: lent from a staging buffer (see readDirect; then `release` gives it back), or read
   * into a buffer of its own (no `release`).
   */
  async function readObject(key: string): Promise<{ data: Buffer; release?: () => void }> {
    const path = pathOf(key);
    try {
      return (stages !== undefined ? await readDirect(path) : undefined) ?? { data: await readFile(path) };
    } catch (error) {
      if (isAbsent(error)) throw new BlobNotFoundError(key);
      throw error;
    }
  }

  /** Directories holding objects put with deferSync whose entries are not fsync'd yet. */
  const unsyncedDirectories = new Set<string>();
  /** Flushes run one after another, so a flush resolves only after every earlier one has. */
  let flushing: Promise<void> = Promise.resolve();

  async function fsyncDirectories(dirs: string[]): Promise<void> {
    let next = 0;
    const lane = async (): Promise<void> => {
      while (next < dirs.length) await fsyncDirectory(dirs[next++] as string);
    };
    await Promise.all(Array.from({ length: Math.min(maxParallelism, dirs.length) }, lane));
  }

  const driver = {
    name: 'fs',
    capabilities: { maxParallelism },

    async put(key: string, data: Buffer, putOptions?: PutOptions): Promise<void> {
      const path = pathOf(key);
      const dir = dirname(path);
      await ensureDirectory(dir);
      const tempPath = join(tempDir, `${process.pid}-${randomBytes(8).toString('hex')}`);
      try {
        await writeStaged(tempPath, data);
        try {
          await link(tempPath, path);
        } catch (error) {
          if (!isErrno(error, 'EEXIST') || !(await driver.touch(key))) throw error;
          return; // already stored: same key, same bytes; its age is refreshed
        }
      } finally {
        await unlink(tempPath).catch(() => undefined);
      }
      if (!sync) return;
      if (putOptions?.deferSync === true) unsyncedDirectories.add(dir);
      else await fsyncDirectory(dir);
    },

    async allocate(count: number, size: number, allocateOptions?: AllocateOptions): Promise<Buffer[]> {
      const shared = allocateOptions?.shared === true;
      const aligned = Math.ceil(size / DIRECT_IO_ALIGNMENT) * DIRECT_IO_ALIGNMENT;
      const buffers =
        stages === undefined ? undefined : await directIoStages(tempDir, count, aligned, shared);
      if (buffers !== undefined) return buffers.map((buffer) => buffer.subarray(0, size));
      if (!shared) return Array.from({ length: count }, () => Buffer.allocUnsafeSlow(size));
      const memory = Buffer.from(new SharedArrayBuffer(count * size));
      return Array.from({ length: count }, (_, i) => memory.subarray(i * size, (i + 1) * size));
    },

    async touch(key: string): Promise<boolean> {
      const path = pathOf(key);
      if (!isFilePresent(path)) return false;
      try {
        // Putting an existing object again marks it as wanted now: garbage collection spares recent objects,
        // so a chunk an upload just found already stored is not collected under it.
        const now = new Date();
        await utimes(path, now, now);
        return true;
      } catch (error) {
        if (isAbsent(error)) return false; // deleted meanwhile
        throw error;
      }
    },

    flush(keys?: readonly string[]): Promise<void> {
      const dirs = keys?.map((key) => dirname(pathOf(key)));
      const run = flushing.then(async () => {
        const unsynced = [...unsyncedDirectories].filter((dir) => dirs === undefined || dirs.includes(dir));
        for (const dir of unsynced) unsyncedDirectories.delete(dir);
        try {
          await fsyncDirectories(unsynced);
        } catch (error) {
          for (const dir of unsynced) unsyncedDirectories.add(dir);
          throw error;
        }
      });
      flushing = run.catch(() => undefined);
      return run;
    },

    async get(key: string): Promise<Buffer> {
      const { data, release } = await readObject(key);
      if (release === undefined) return data;
      try {
        return Buffer.from(data); // a copy the caller owns
      } finally {
        release();
      }
    },

    async read<T>(key: string, use: (data: Buffer) => Promise<T>): Promise<T> {
      const { data, release } = await readObject(key);
      try {
        return await use(data);
      } finally {
        release?.();
      }
    },

    async has(key: string): Promise<boolean> {
      return isFilePresent(pathOf(key));
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
