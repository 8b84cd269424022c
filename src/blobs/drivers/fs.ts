/**
 * The filesystem blob driver: objects are records in pack files under `<root>/.packs/` (see `packs.ts`),
 * written with O_DIRECT (see `direct-io.ts`) and made durable in groups, one barrier (`flush`) for many
 * objects. A `put` without `deferSync` is a write and a barrier; concurrent ones share that barrier.
 *
 * Folders written by the earlier layout, one file per object at `<root>/<key>`, are read where they are:
 * their objects can be read, listed, touched and deleted as before, and no new object goes there. Nothing
 * needs migrating; garbage collection removes the old files as the images that use them go.
 * @module
 */
import { statSync } from 'node:fs';
import { opendir, readFile, readdir, stat, unlink, utimes } from 'node:fs/promises';
import { makePrivateDir } from '../../lib/private-files.js';
import { join } from 'node:path';
import {
  assertValidKey,
  BlobNotFoundError,
  InvalidBlobKeyError,
  RESERVED_KEY_SEGMENT,
  type AllocateOptions,
  type BlobDriver,
  type CompactReport,
  type PutOptions,
} from '../driver.js';
import {
  alignedBuffers,
  DIRECT_IO_ALIGNMENT,
  DIRECT_IO_STAGE_BYTES,
  isErrno,
  StagePool,
} from './direct-io.js';
import { DEFAULT_COMPACT_THRESHOLD } from '../../config/storage.js';
import { PACKS_DIR, PackStore } from './packs.js';

export { DIRECT_IO_ALIGNMENT };

export interface FsBlobDriverOptions {
  /** Directory holding the objects; created if missing. */
  readonly root: string;
  /**
   * fdatasync at every barrier (default: true). Only tests and throwaway demos should turn it off: without
   * it a power cut can lose objects `put` reported as stored.
   */
  readonly sync?: boolean;
  /** Reported as `capabilities.maxParallelism` (default: FS_MAX_PARALLELISM); also the number of stages. */
  readonly maxParallelism?: number;
  /** See FS_STAGE_WAIT_MS (the default). */
  readonly stageWaitMs?: number;
  /**
   * Write and read with O_DIRECT (default: true). Ignored where the filesystem refuses O_DIRECT (e.g.
   * tmpfs): I/O is then buffered.
   */
  readonly directIo?: boolean;
  /** A pack takes no more records past this size (default: config/storage.ts DEFAULT_PACK_BYTES). */
  readonly packBytes?: number;
  /** `compact`'s threshold when called without one (default: config/storage.ts DEFAULT_COMPACT_THRESHOLD). */
  readonly compactThreshold?: number;
}

/** The fs driver: a BlobDriver that also reclaims the space of deleted objects and says how much it holds. */
export interface FsBlobDriver extends BlobDriver {
  compact(threshold?: number): Promise<CompactReport>;
  close(): Promise<void>;
  usage(): { packs: number; bytes: number; liveBytes: number };
}

/**
 * Default parallelism: each read or write holds a libuv thread for a while, and the pool has 4 threads
 * unless UV_THREADPOOL_SIZE says otherwise; 8 keeps the pool's queue fed without piling up open files.
 */
export const FS_MAX_PARALLELISM = 8;

/**
 * How long a read waits for a staging buffer before it reads through the page cache into a buffer of its
 * own instead. Stages go round in a millisecond or so, but a lent one stays with its reader until the bytes
 * are passed on: a receiver that stops taking them keeps it for up to its send timeout (60 s), and a few
 * such receivers must not stop every other read of the region meanwhile.
 */
export const FS_STAGE_WAIT_MS = 100;

/** Scratch files (the O_DIRECT alignment probe) live here; whatever is left is removed at start. */
const TEMP_DIR = RESERVED_KEY_SEGMENT;

/**
 * Errors that mean "no object under this key": nothing there, a file where a directory would be, or a
 * directory (a key prefix, not an object).
 */
function isAbsent(error: unknown): boolean {
  return isErrno(error, 'ENOENT') || isErrno(error, 'ENOTDIR') || isErrno(error, 'EISDIR');
}

/**
 * Whether a file of the earlier layout is at `path`. Synchronous on purpose: asked for every chunk looked
 * up in a folder that has such files, it takes a few microseconds, where the promise version costs a
 * thread-pool round trip and, for the usual answer "absent", an exception with a stack trace.
 */
function isFilePresent(path: string): boolean {
  try {
    return statSync(path, { throwIfNoEntry: false })?.isFile() ?? false;
  } catch (error) {
    if (isAbsent(error)) return false;
    throw error;
  }
}

/** Whether `root` holds objects of the earlier one-file-per-object layout (any entry but ours). */
async function hasLooseObjects(root: string): Promise<boolean> {
  return (await readdir(root)).some((name) => name !== TEMP_DIR && name !== PACKS_DIR);
}

/**
 * Opens (creating if needed) a filesystem blob store at `options.root`, recovering its packs after a crash.
 * One process at a time: a second one is refused while the first lives.
 * @example
 * const driver = await createFsBlobDriver({ root: './data/north-1/blobs' });
 */
export async function createFsBlobDriver(options: FsBlobDriverOptions): Promise<FsBlobDriver> {
  const root = options.root;
  const tempDir = join(root, TEMP_DIR);
  await makePrivateDir(tempDir);

  const maxParallelism = options.maxParallelism ?? FS_MAX_PARALLELISM;
  // Shared memory, so a chunk read through a stage can be hashed in place by the hash pool's threads (the
  // scrub re-hashes every stored chunk: on the main thread that was ~0.6 ms per MiB, 1.2 s per 2 GiB pass).
  const stageBuffers =
    options.directIo === false
      ? undefined
      : await alignedBuffers(tempDir, maxParallelism, DIRECT_IO_STAGE_BYTES, true);
  const stages = stageBuffers === undefined ? undefined : new StagePool(stageBuffers);
  const packs = await PackStore.open({
    root,
    sync: options.sync ?? true,
    stages,
    stageWaitMs: options.stageWaitMs ?? FS_STAGE_WAIT_MS,
    packBytes: options.packBytes,
  });
  // The folder is this process's now (the packs' lock): what another left in the scratch folder is garbage.
  for (const name of await readdir(tempDir)) {
    if (!name.startsWith(`${process.pid}-`)) await unlink(join(tempDir, name)).catch(() => undefined);
  }
  /** Objects of the earlier layout may exist: look for them where a key is not in the packs. */
  const loose = await hasLooseObjects(root);

  function pathOf(key: string): string {
    assertValidKey(key);
    return join(root, ...key.split('/'));
  }

  /** Puts in progress by key, so concurrent puts of one key write it once. */
  const writing = new Map<string, Promise<void>>();

  const driver = {
    name: 'fs',
    capabilities: { maxParallelism },

    async put(key: string, data: Buffer, putOptions?: PutOptions): Promise<void> {
      assertValidKey(key);
      let write = writing.get(key);
      if (write === undefined) {
        // Registered before anything is awaited, so a concurrent put of the key waits for this one.
        write = (async () => {
          if (!(await driver.touch(key))) await packs.write(key, data);
        })();
        writing.set(key, write);
        try {
          await write;
        } finally {
          writing.delete(key);
        }
      } else {
        await write;
      }
      if (putOptions?.deferSync !== true) await packs.barrier();
    },

    async allocate(count: number, size: number, allocateOptions?: AllocateOptions): Promise<Buffer[]> {
      const shared = allocateOptions?.shared === true;
      const aligned = Math.ceil(size / DIRECT_IO_ALIGNMENT) * DIRECT_IO_ALIGNMENT;
      const buffers =
        stages === undefined ? undefined : await alignedBuffers(tempDir, count, aligned, shared);
      if (buffers !== undefined) return buffers.map((buffer) => buffer.subarray(0, size));
      if (!shared) return Array.from({ length: count }, () => Buffer.allocUnsafeSlow(size));
      const memory = Buffer.from(new SharedArrayBuffer(count * size));
      return Array.from({ length: count }, (_, i) => memory.subarray(i * size, (i + 1) * size));
    },

    async touch(key: string): Promise<boolean> {
      assertValidKey(key);
      if (packs.touch(key)) return true;
      if (!loose) return false;
      const path = pathOf(key);
      if (!isFilePresent(path)) return false;
      try {
        const now = new Date();
        await utimes(path, now, now);
        return true;
      } catch (error) {
        if (isAbsent(error)) return false; // deleted meanwhile
        throw error;
      }
    },

    /** One barrier for everything written so far (`keys` only narrows what must be covered). */
    async flush(keys?: readonly string[]): Promise<void> {
      keys?.forEach(assertValidKey);
      await packs.barrier();
    },

    async get(key: string): Promise<Buffer> {
      return driver.read(key, async (data) => Buffer.from(data)); // a copy the caller owns
    },

    async read<T>(key: string, use: (data: Buffer) => Promise<T>): Promise<T> {
      assertValidKey(key);
      const packed = await packs.read(key, use);
      if (packed !== undefined) return packed.value;
      if (!loose) throw new BlobNotFoundError(key);
      let data: Buffer;
      try {
        data = await readFile(pathOf(key));
      } catch (error) {
        if (isAbsent(error)) throw new BlobNotFoundError(key);
        throw error;
      }
      return use(data);
    },

    async has(key: string): Promise<boolean> {
      assertValidKey(key);
      return packs.lookup(key) !== undefined || (loose && isFilePresent(pathOf(key)));
    },

    async stat(key: string) {
      assertValidKey(key);
      const record = packs.lookup(key);
      if (record !== undefined) return { size: record.length, modifiedAt: new Date(record.time) };
      if (!loose) return undefined;
      try {
        const info = await stat(pathOf(key));
        return info.isFile() ? { size: info.size, modifiedAt: info.mtime } : undefined;
      } catch (error) {
        if (isAbsent(error)) return undefined;
        throw error;
      }
    },

    /** Durable with the next barrier: a delete lost in a crash only leaves garbage for the next GC. */
    async delete(key: string): Promise<void> {
      assertValidKey(key);
      if (packs.remove(key) || !loose) return;
      try {
        await unlink(pathOf(key));
      } catch (error) {
        if (isAbsent(error)) return;
        throw error;
      }
    },

    async *list(prefix: string): AsyncIterable<string> {
      if (prefix.startsWith('.')) throw new InvalidBlobKeyError(prefix, 'bad prefix');
      yield* packs.keys(prefix);
      if (!loose) return;
      // Walk only the deepest directory the prefix names, e.g. `v1/chunks/ab` for `v1/chunks/ab/abc`.
      const slash = prefix.lastIndexOf('/');
      const base = slash < 0 ? '' : prefix.slice(0, slash);
      if (base !== '') assertValidKey(base);
      for await (const key of walk(base === '' ? root : join(root, ...base.split('/')), base, prefix)) {
        if (packs.lookup(key) === undefined) yield key;
      }
    },

    compact(threshold = options.compactThreshold ?? DEFAULT_COMPACT_THRESHOLD): Promise<CompactReport> {
      return packs.compact(threshold);
    },

    usage() {
      return packs.usage();
    },

    close(): Promise<void> {
      return packs.close();
    },
  } satisfies FsBlobDriver;

  return driver;
}

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
    if (keyOfDir === '' && (entry.name === TEMP_DIR || entry.name === PACKS_DIR)) continue;
    if (entry.isDirectory()) {
      // Descend only where keys can still match the prefix.
      if (prefix.startsWith(`${key}/`) || key.startsWith(prefix))
        yield* walk(join(dir, entry.name), key, prefix);
    } else if (entry.isFile() && key.startsWith(prefix)) {
      yield key;
    }
  }
}
