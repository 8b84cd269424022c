/**
 * The in-memory blob driver, for tests and throwaway demos: objects live in a Map and vanish with the
 * process. It copies on put and on get, so neither side can change a stored object through a shared buffer.
 * @module
 */
import { assertValidKey, BlobNotFoundError, type BlobDriver } from '../driver.js';

export interface MemoryBlobDriverOptions {
  /** Reported as `capabilities.maxParallelism` (default: 64; memory has no real limit). */
  readonly maxParallelism?: number;
}

/** A driver with everything in memory; its `objects` map is exposed so tests can inspect or corrupt it. */
export interface MemoryBlobDriver extends BlobDriver {
  readonly objects: Map<string, Buffer>;
}

/**
 * Creates an empty in-memory blob store.
 * @example
 * const store = createChunkStore({ driver: createMemoryBlobDriver() });
 */
export function createMemoryBlobDriver(options: MemoryBlobDriverOptions = {}): MemoryBlobDriver {
  const objects = new Map<string, Buffer>();
  const modified = new Map<string, Date>();
  return {
    name: 'memory',
    capabilities: { maxParallelism: options.maxParallelism ?? 64 },
    objects,

    // Memory has no durability to defer: deferSync is accepted and changes nothing, and flush has nothing to do.
    async put(key, data) {
      assertValidKey(key);
      if (!objects.has(key)) objects.set(key, Buffer.from(data));
      modified.set(key, new Date());
    },

    async allocate(count, size, options) {
      if (options?.shared !== true) return Array.from({ length: count }, () => Buffer.allocUnsafeSlow(size));
      const memory = Buffer.from(new SharedArrayBuffer(count * size));
      return Array.from({ length: count }, (_, i) => memory.subarray(i * size, (i + 1) * size));
    },

    async touch(key) {
      assertValidKey(key);
      if (!objects.has(key)) return false;
      modified.set(key, new Date());
      return true;
    },

    async flush(keys) {
      keys?.forEach(assertValidKey);
    },

    async read(key, use) {
      assertValidKey(key);
      const data = objects.get(key);
      if (data === undefined) throw new BlobNotFoundError(key);
      return use(data);
    },

    async stat(key) {
      assertValidKey(key);
      const data = objects.get(key);
      return data === undefined ? undefined : { size: data.length, modifiedAt: modified.get(key)! };
    },

    async get(key) {
      assertValidKey(key);
      const data = objects.get(key);
      if (data === undefined) throw new BlobNotFoundError(key);
      return Buffer.from(data);
    },

    async has(key) {
      assertValidKey(key);
      return objects.has(key);
    },

    async delete(key) {
      assertValidKey(key);
      objects.delete(key);
      modified.delete(key);
    },

    async *list(prefix) {
      // Snapshot the keys: a put or delete during the walk must not break the iteration.
      for (const key of [...objects.keys()]) if (key.startsWith(prefix)) yield key;
    },
  } satisfies MemoryBlobDriver;
}
