/**
 * The chunk store: content-addressed, verified storage of chunks and manifests on top of a dumb BlobDriver.
 * Hashing and verification happen here and nowhere else: nothing is stored under a digest it doesn't have.
 * Chunks in shared memory (the ingest ring, replication lanes: `allocateChunkBuffers(…, { shared: true })`)
 * are hashed on the process's hash pool (hash-pool.ts), in place, off the main thread.
 * Keys come from `layout.ts`. Write order (chunks before the manifest that lists them) is the caller's
 * duty; `ingest.ts` keeps it.
 * @module
 */
import { createHash } from 'node:crypto';
import {
  CHUNK_SIZE,
  indexManifest,
  parseManifest,
  serializeManifest,
  type Manifest,
  type ManifestIndex,
} from '../domain/manifest.js';
import { isDigest, type Digest } from '../domain/ids.js';
import type { AllocateOptions, BlobDriver } from './driver.js';
import { SharedBufferPool } from './buffer-pool.js';
import { processHashPool, isSharedMemory, type HashPool } from './hash-pool.js';
import { chunkKey, manifestKey } from './layout.js';

/**
 * CHUNK_SIZE zero bytes, shared by everything that compares against or serves zero chunks.
 * Never write to it (a typed array can't be frozen): every zero chunk served would change.
 */
export const ZERO_CHUNK: Buffer = Buffer.alloc(CHUNK_SIZE);

/** Whether `data` is all zero bytes: a memcmp against ZERO_CHUNK (about 35 GiB/s here, so ~30 µs per chunk). */
export function isZeroChunk(data: Uint8Array): boolean {
  for (let offset = 0; offset < data.length; offset += ZERO_CHUNK.length) {
    const length = Math.min(ZERO_CHUNK.length, data.length - offset);
    if (Buffer.compare(data.subarray(offset, offset + length), ZERO_CHUNK.subarray(0, length)) !== 0)
      return false;
  }
  return true;
}

/** SHA-256 of `data` as lower-case hex. */
export function sha256Digest(data: Uint8Array): Digest {
  return createHash('sha256').update(data).digest('hex') as Digest;
}

/** Thrown when bytes don't hash to the digest they were offered or fetched under. */
export class DigestMismatchError extends Error {
  constructor(
    readonly expected: Digest,
    readonly actual: Digest,
    readonly what: 'chunk' | 'manifest',
  ) {
    super(`${what} digest mismatch: expected ${expected}, got ${actual}`);
    this.name = 'DigestMismatchError';
  }
}

export interface PutChunkOptions {
  /** Leave the chunk's durability to a later flush() (see ChunkStore.putChunk). Default false. */
  readonly deferSync?: boolean;
  /**
   * Adds the chunk to this hold before it is looked up or stored, so that this process's garbage
   * collection cannot remove it, found or written, before the caller's manifest references it.
   */
  readonly hold?: ChunkHold;
}

/**
 * Chunks kept from garbage collection while a writer that has no referenced manifest yet uses them: an
 * upload in progress, which may last longer than the collector's grace period (gc.ts), or a transfer that
 * counts on chunks already stored. Kept in memory, so only from the collector of the same process.
 */
export interface ChunkHold {
  /** Keeps `digest` until release (adding it again changes nothing). */
  add(digest: Digest): void;
  /**
   * Lets go of every chunk this hold keeps, once every collection running now has ended: such a collection
   * listed its roots before the caller's manifest was referenced, so only the hold keeps the chunks from its
   * sweep. Idempotent.
   */
  release(): void;
}

export interface ChunkStoreOptions {
  readonly driver: BlobDriver;
  /** Where chunks in shared memory are hashed (default: the process's pool, `processHashPool()`). */
  readonly hashPool?: HashPool;
}

/**
 * Shared chunks shorter than this are hashed on the calling thread. Measured on the 2-core dev VM: hashing
 * 64 KiB there takes ~43 µs, and handing a chunk to the pool costs the main thread ~37 µs (one message each
 * way) and ~100 µs of latency, while a 1 MiB chunk takes ~600 µs to hash. Only an image's last chunk is
 * ever that short.
 */
const POOL_MIN_BYTES = 64 * 1024;

/**
 * Idle shared chunk buffers a store keeps for reuse (buffer-pool.ts): one replication's lanes (8 × 2 MiB by
 * default) and an upload's ring (12 MiB), about; more at once is allocated and let go of after.
 */
const IDLE_SHARED_BUFFER_BYTES = 32 * 1024 * 1024;

export interface ChunkStore {
  /** Bound on parallel driver requests (the driver's `capabilities.maxParallelism`). */
  readonly maxParallelism: number;

  /** Whether the chunk is stored. Never rejects for an absent chunk. */
  hasChunk(digest: Digest): Promise<boolean>;

  /**
   * Verifies that `data` hashes to `digest`, then stores it (durable and visible once this resolves; a
   * no-op if already stored, apart from refreshing its age for GC). Resolves true if this call stored it,
   * false if it was there. Concurrency-safe. `data` must not change until this settles (in shared memory it
   * is hashed in place on another thread); the store keeps no reference to it afterwards.
   *
   * With `{ deferSync: true }` the chunk is visible when this resolves, but it may be lost in a crash until
   * a later `flush()` (or `putManifest`, which flushes first) resolves: for callers storing many chunks
   * before one commit point, which then pay one barrier for all of them instead of one per chunk. Such a caller must `flush()` before it records anything that relies on the chunks
   * (a manifest, saved progress, an activated image).
   * @throws DigestMismatchError (nothing stored) if the SHA-256 of `data` is not `digest`
   */
  putChunk(digest: Digest, data: Uint8Array, options?: PutChunkOptions): Promise<boolean>;

  /**
   * Hashes `data` and stores it under its own digest (no-op if present): the ingest path, which has no
   * digest to check against and would otherwise hash each chunk twice. Same guarantees as putChunk with
   * the same options: ingest passes deferSync and relies on putManifest's flush.
   */
  addChunk(data: Uint8Array, options?: PutChunkOptions): Promise<{ digest: Digest; written: boolean }>;

  /** A new, empty hold (see ChunkHold); release it once a stored manifest references its chunks, or on failure. */
  hold(): ChunkHold;

  /** Whether some hold of this store keeps `digest` (garbage collection spares it). */
  isHeld(digest: Digest): boolean;

  /**
   * Marks a garbage collection as running, before it lists its roots: holds released meanwhile keep their
   * chunks until it (and every other one then running) ends. Call `end` when it ends, however it ends.
   */
  beginCollection(): { end(): void };

  /**
   * `count` buffers of `size` bytes that putChunk stores fastest (see BlobWriter.allocate): for callers
   * that receive many chunks into a few reused buffers.
   */
  allocateChunkBuffers(count: number, size: number, options?: AllocateOptions): Promise<Buffer[]>;

  /**
   * Says that buffers from `allocateChunkBuffers` are no longer used: every read and write of them has
   * ended. Shared ones are kept for the next caller (buffer-pool.ts), or the hash pool lets go of them.
   */
  releaseChunkBuffers(buffers: readonly Buffer[]): void;

  /**
   * Makes durable every chunk stored with deferSync whose put resolved before this call (see putChunk).
   * Cheap when there is nothing to flush.
   */
  flush(): Promise<void>;

  /**
   * The chunk's bytes (a buffer the caller owns). Not re-hashed unless `verify` (default: false): chunks are
   * verified when stored, and re-hashing every read would cost a download ~0.6 ms of CPU per MiB.
   * @throws BlobNotFoundError if absent; DigestMismatchError if `verify` and the stored bytes are corrupt
   */
  getChunk(digest: Digest, options?: { verify?: boolean }): Promise<Buffer>;

  /**
   * Calls `use` with the chunk's bytes lent for that call (see BlobReader.read: not to be kept or written
   * once `use` settles), without re-hashing them: for bytes only passed on, as a replication source does.
   * @throws BlobNotFoundError if absent (`use` is not called)
   */
  readChunk<T>(digest: Digest, use: (data: Buffer) => Promise<T>): Promise<T>;

  /**
   * Re-reads the stored chunk and checks its bytes against its digest (the scrub's question), hashing them
   * on the pool's threads when the driver lends them in shared memory.
   * @throws BlobNotFoundError if absent
   */
  checkChunk(digest: Digest): Promise<{ length: number; intact: boolean }>;

  /**
   * Stores the serialised manifest under its digest and returns the digest. Every chunk it lists must be
   * stored first (chunks before the manifest), so a stored manifest is always complete; chunks stored
   * with deferSync are flushed first, so it is also complete after a crash. With `hold`, the manifest is
   * held from garbage collection as its chunks are, until the writer's image row references it.
   * @throws InvalidManifestError for a manifest breaking the type's invariants
   */
  putManifest(manifest: Manifest, options?: { hold?: ChunkHold }): Promise<Digest>;

  /**
   * The manifest stored under `digest`, verified (its bytes hash to `digest`) and parsed.
   * @throws BlobNotFoundError if absent; DigestMismatchError or InvalidManifestError if corrupt
   */
  getManifest(digest: Digest): Promise<Manifest>;

  /**
   * The manifest stored under `digest`, verified as by getManifest but indexed in place rather than parsed
   * (domain/manifest.ts ManifestIndex): what a reader of a few of its chunks needs, see blobs/manifest-cache.ts.
   * @throws BlobNotFoundError if absent; DigestMismatchError or InvalidManifestError if corrupt
   */
  getManifestIndex(digest: Digest): Promise<ManifestIndex>;

  /**
   * The digests among `digests` that are not stored, deduplicated, in input order. Asks the driver at most
   * `maxParallelism` at a time.
   */
  missingChunks(digests: Iterable<Digest>): Promise<Digest[]>;
}

function assertDigest(digest: Digest): void {
  if (!isDigest(digest)) throw new TypeError(`not a SHA-256 digest: ${JSON.stringify(digest)}`);
}

function asBuffer(data: Uint8Array): Buffer {
  return Buffer.isBuffer(data) ? data : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/**
 * Creates a chunk store over `options.driver`.
 * @example
 * const store = createChunkStore({ driver: await createFsBlobDriver({ root }) });
 * const missing = await store.missingChunks(distinctDigests(manifest));
 */
export function createChunkStore(options: ChunkStoreOptions): ChunkStore {
  const { driver } = options;
  const maxParallelism = Math.max(1, driver.capabilities.maxParallelism);
  const hashPool = options.hashPool ?? processHashPool();
  const sharedBuffers = new SharedBufferPool({
    allocate: (count, size) => driver.allocate(count, size, { shared: true }),
    discard: (memory) => hashPool.forget(memory),
    maxIdleBytes: IDLE_SHARED_BUFFER_BYTES,
  });

  /** The chunk's SHA-256: on the pool, in place, if it is in shared memory, else on this thread. */
  function chunkDigest(data: Uint8Array): Promise<Digest> | Digest {
    if (isSharedMemory(data) && data.byteLength >= POOL_MIN_BYTES) return hashPool.sha256(data);
    return sha256Digest(data);
  }

  /** Digests some hold keeps, with the number of holds keeping each. */
  const held = new Map<Digest, number>();

  /** Collections running now, and holds released while they ran, each with the collections it waits for. */
  const collections = new Set<symbol>();
  const deferred: Array<{ digests: Set<Digest>; waitsFor: Set<symbol> }> = [];

  function unhold(digests: Iterable<Digest>): void {
    for (const digest of digests) {
      const count = (held.get(digest) ?? 1) - 1;
      if (count === 0) held.delete(digest);
      else held.set(digest, count);
    }
  }

  /** Puts in progress by digest, so two callers storing the same chunk at once write it once. */
  const storing = new Map<Digest, Promise<boolean>>();

  async function storeVerified(digest: Digest, data: Uint8Array, deferSync: boolean): Promise<boolean> {
    const key = chunkKey(digest);
    const inProgress = storing.get(digest);
    if (inProgress !== undefined) {
      await inProgress; // rejects if that put failed: then this chunk isn't stored either
      // That put may have deferred its sync; this caller may not.
      if (!deferSync) await driver.flush([key]);
      return false;
    }
    const put = (async () => {
      // Present already: touching it refreshes its age, so garbage collection spares it while its new user
      // (an upload in progress) has no manifest yet. One call, no data written.
      if (await driver.touch(key)) {
        // It may be another writer's chunk whose sync is deferred.
        if (!deferSync) await driver.flush([key]);
        return false;
      }
      await driver.put(key, asBuffer(data), { deferSync });
      return true;
    })();
    storing.set(digest, put);
    try {
      return await put;
    } finally {
      storing.delete(digest);
    }
  }

  return {
    maxParallelism,

    hasChunk(digest) {
      return driver.has(chunkKey(digest));
    },

    async putChunk(digest, data, putOptions) {
      assertDigest(digest);
      const actual = await chunkDigest(data);
      if (actual !== digest) throw new DigestMismatchError(digest, actual, 'chunk');
      putOptions?.hold?.add(digest);
      return storeVerified(digest, data, putOptions?.deferSync === true);
    },

    async addChunk(data, putOptions) {
      const digest = await chunkDigest(data);
      putOptions?.hold?.add(digest);
      return { digest, written: await storeVerified(digest, data, putOptions?.deferSync === true) };
    },

    hold() {
      let mine: Set<Digest> | undefined = new Set<Digest>();
      return {
        add(digest) {
          if (mine === undefined) throw new Error('this chunk hold is released');
          if (mine.has(digest)) return;
          mine.add(digest);
          held.set(digest, (held.get(digest) ?? 0) + 1);
        },
        release() {
          if (mine === undefined) return;
          if (collections.size === 0) unhold(mine);
          else deferred.push({ digests: mine, waitsFor: new Set(collections) });
          mine = undefined;
        },
      };
    },

    isHeld(digest) {
      return held.has(digest);
    },

    beginCollection() {
      const collection = Symbol('collection');
      collections.add(collection);
      return {
        end() {
          if (!collections.delete(collection)) return;
          for (let i = deferred.length - 1; i >= 0; i--) {
            const release = deferred[i]!;
            release.waitsFor.delete(collection);
            if (release.waitsFor.size > 0) continue;
            deferred.splice(i, 1);
            unhold(release.digests);
          }
        },
      };
    },

    flush() {
      return driver.flush();
    },

    releaseChunkBuffers(buffers) {
      sharedBuffers.give(buffers);
    },

    allocateChunkBuffers(count, size, allocateOptions) {
      if (allocateOptions?.shared === true) return sharedBuffers.take(count, size);
      return driver.allocate(count, size, allocateOptions);
    },

    async getChunk(digest, getOptions) {
      const data = await driver.get(chunkKey(digest));
      if (getOptions?.verify === true) {
        const actual = sha256Digest(data);
        if (actual !== digest) throw new DigestMismatchError(digest, actual, 'chunk');
      }
      return data;
    },

    readChunk(digest, use) {
      return driver.read(chunkKey(digest), use);
    },

    checkChunk(digest) {
      return driver.read(chunkKey(digest), async (data) => ({
        length: data.length,
        intact: (await chunkDigest(data)) === digest,
      }));
    },

    async putManifest(manifest, putOptions) {
      const bytes = serializeManifest(manifest);
      const digest = sha256Digest(bytes);
      putOptions?.hold?.add(digest);
      // Chunks stored with deferSync (this manifest's, among others) become durable before the manifest.
      await driver.flush();
      await driver.put(manifestKey(digest), bytes);
      return digest;
    },

    async getManifest(digest) {
      const bytes = await driver.get(manifestKey(digest));
      const actual = sha256Digest(bytes);
      if (actual !== digest) throw new DigestMismatchError(digest, actual, 'manifest');
      return parseManifest(bytes);
    },

    async getManifestIndex(digest) {
      const bytes = await driver.get(manifestKey(digest));
      const actual = sha256Digest(bytes);
      if (actual !== digest) throw new DigestMismatchError(digest, actual, 'manifest');
      return indexManifest(bytes);
    },

    async missingChunks(digests) {
      const unique = [...new Set(digests)];
      unique.forEach(assertDigest);
      const present = new Array<boolean>(unique.length);
      let next = 0;
      const lane = async (): Promise<void> => {
        while (next < unique.length) {
          const index = next++;
          try {
            present[index] = await driver.has(chunkKey(unique[index] as Digest));
          } catch (error) {
            next = unique.length; // stop the other lanes too
            throw error;
          }
        }
      };
      await Promise.all(Array.from({ length: Math.min(maxParallelism, unique.length) }, lane));
      return unique.filter((_, index) => !present[index]);
    },
  };
}
