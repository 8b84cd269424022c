/**
 * Indexed manifests kept in memory for the reads of image data, so a client reading an image in ranges
 * (the OpenStack client resuming, a VM streaming its disk, 1 MiB at a time) does not make Ferry read, hash
 * and index the whole manifest for every range: reading a 100 GiB image in 1 MiB ranges would otherwise cost
 * 102,400 manifest reads of 3.2 MiB each. A manifest never changes (it is stored under its own SHA-256), so
 * an entry is never stale; the cache is bounded by the memory its entries keep, least recently used first.
 * @module
 */
import type { Digest } from '../domain/ids.js';
import type { ManifestIndex } from '../domain/manifest.js';

/**
 * Memory the cache's entries may keep (default 64 MiB): the indexes of 2 TiB of images at 32 bytes per
 * 1 MiB chunk, so any one image up to the 1 TiB upload limit fits.
 */
export const DEFAULT_MANIFEST_CACHE_BYTES = 64 * 1024 * 1024;

export interface ManifestCacheOptions {
  /** See DEFAULT_MANIFEST_CACHE_BYTES (the default). An index larger than this is served but not kept. */
  readonly maxBytes?: number;
}

export interface ManifestCache {
  /**
   * The index of the manifest stored under `digest`, loaded once however many callers ask at the same time.
   * A failed load is not kept: the next call tries again.
   * @throws what the loader throws (BlobNotFoundError, DigestMismatchError, InvalidManifestError)
   */
  get(digest: Digest): Promise<ManifestIndex>;
  /** Memory the entries keep now (their `retainedBytes`). */
  readonly retainedBytes: number;
}

/**
 * A cache of manifest indexes over `load` (usually `ChunkStore.getManifestIndex`, which verifies each
 * manifest against its digest).
 * @example
 * const manifests = createManifestCache((digest) => store.getManifestIndex(digest));
 * const manifest = await manifests.get(image.manifest_digest);
 */
export function createManifestCache(
  load: (digest: Digest) => Promise<ManifestIndex>,
  options: ManifestCacheOptions = {},
): ManifestCache {
  const maxBytes = options.maxBytes ?? DEFAULT_MANIFEST_CACHE_BYTES;
  /** Loaded indexes, least recently used first (a Map keeps insertion order; a hit re-inserts). */
  const entries = new Map<Digest, ManifestIndex>();
  /** Loads under way, so concurrent readers of one image read its manifest once. */
  const loading = new Map<Digest, Promise<ManifestIndex>>();
  let retainedBytes = 0;

  function keep(digest: Digest, index: ManifestIndex): void {
    if (index.retainedBytes > maxBytes || entries.has(digest)) return;
    entries.set(digest, index);
    retainedBytes += index.retainedBytes;
    for (const [oldest, evicted] of entries) {
      if (retainedBytes <= maxBytes) break;
      entries.delete(oldest);
      retainedBytes -= evicted.retainedBytes;
    }
  }

  return {
    get(digest) {
      const hit = entries.get(digest);
      if (hit !== undefined) {
        entries.delete(digest);
        entries.set(digest, hit);
        return Promise.resolve(hit);
      }
      let pending = loading.get(digest);
      if (pending === undefined) {
        pending = load(digest)
          .then((index) => {
            keep(digest, index);
            return index;
          })
          .finally(() => loading.delete(digest));
        loading.set(digest, pending);
      }
      return pending;
    },
    get retainedBytes() {
      return retainedBytes;
    },
  };
}
