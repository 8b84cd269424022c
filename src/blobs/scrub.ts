/**
 * Scrubbing the chunk store: re-reads every stored chunk and checks that it still hashes to its name, then
 * checks that every chunk an image references is stored. Disks rot and operators make mistakes; a chunk is
 * hashed when it is stored, and never again on the way out (a download does not re-hash: ~0.6 ms of CPU per
 * MiB). Swift's object auditor and Ceph's deep scrub do the same walk, paced so that it does not starve the
 * region's own traffic.
 *
 * A corrupt chunk is deleted. Chunks are content-addressed and shared, so that heals every image that
 * references it as soon as the same bytes arrive again: an upload or a replication into this region that
 * contains the chunk finds it missing and stores a good copy, where it would otherwise have deduplicated
 * against the bad one (an upload that finds its chunk stored only refreshes its age, it does not compare the
 * bytes). Until then the images that reference it are reported as damaged: their download stops at that
 * chunk instead of serving wrong bytes under the image's checksum.
 * @module
 */
import type { Digest } from '../domain/ids.js';
import { distinctDigests, InvalidManifestError, type Manifest } from '../domain/manifest.js';
import { createTokenBucket } from '../lib/token-bucket.js';
import { BlobNotFoundError, type BlobDriver } from './driver.js';
import { DigestMismatchError, type ChunkStore } from './chunk-store.js';
import { CHUNKS_PREFIX, parseChunkKey } from './layout.js';

export interface ScrubReport {
  chunksChecked: number;
  bytesChecked: number;
  /** Chunks whose bytes no longer hash to their name; deleted. */
  corruptChunks: Digest[];
  /** Chunks some image references that are not stored (deleted above as corrupt, or lost). */
  missingChunks: Digest[];
  /** Manifests some image references that are absent or corrupt. */
  badManifests: Digest[];
  /** IDs of the images whose data cannot be read in full until the chunks above are stored again. */
  damagedImages: string[];
}

/** Whether a scrub found anything damaged: logged as an error, for the operator to act on. */
export function foundDamage(report: ScrubReport): boolean {
  return report.corruptChunks.length + report.missingChunks.length + report.badManifests.length > 0;
}

export interface ScrubOptions {
  /** Read at most this many bytes of chunks per second (null or absent: as fast as the disk goes). */
  readonly bytesPerSecond?: number | null;
  /** Stops the walk between chunks (the report so far is not returned: the call rejects). */
  readonly signal?: AbortSignal;
}

/**
 * The images whose data must be whole, with their manifests: given by the caller (images/storage-maintenance.ts
 * reads them from the region's rows), so that this module reads no rows itself. Asked after the walk.
 */
export type ListCompleteImages = () => Promise<Array<{ id: string; manifestDigest: Digest }>>;

export async function scrubChunkStore(
  listImages: ListCompleteImages,
  chunks: ChunkStore,
  driver: BlobDriver,
  options: ScrubOptions = {},
): Promise<ScrubReport> {
  const report: ScrubReport = {
    chunksChecked: 0,
    bytesChecked: 0,
    corruptChunks: [],
    missingChunks: [],
    badManifests: [],
    damagedImages: [],
  };
  const pace = createTokenBucket(options.bytesPerSecond ?? null);
  for await (const key of driver.list(CHUNKS_PREFIX)) {
    options.signal?.throwIfAborted();
    const digest = parseChunkKey(key);
    if (digest === undefined) continue;
    let length: number;
    let intact: boolean;
    try {
      ({ length, intact } = await chunks.checkChunk(digest));
    } catch (error) {
      if (error instanceof BlobNotFoundError) continue; // collected meanwhile
      throw error;
    }
    report.chunksChecked++;
    report.bytesChecked += length;
    if (!intact) {
      // Nothing rewrites a stored chunk (a re-put of the same digest only refreshes its age), so these bytes
      // stay wrong: delete them, so that the next writer of the chunk stores it again.
      await driver.delete(key);
      report.corruptChunks.push(digest);
    }
    await pace.take(length, options.signal);
  }

  // Images whose data is now incomplete. Listed after the walk: an image that became active meanwhile has
  // all its chunks stored (an upload or transfer checks that last), whichever shard the walk was in.
  const imagesByManifest = new Map<Digest, string[]>();
  for (const { id, manifestDigest } of await listImages()) {
    const ids = imagesByManifest.get(manifestDigest);
    if (ids === undefined) imagesByManifest.set(manifestDigest, [id]);
    else ids.push(id);
  }
  const missing = new Set<Digest>();
  for (const [manifestDigest, imageIds] of imagesByManifest) {
    options.signal?.throwIfAborted();
    let manifest: Manifest;
    try {
      manifest = await chunks.getManifest(manifestDigest);
    } catch (error) {
      if (!isUnreadableManifest(error)) throw error;
      report.badManifests.push(manifestDigest);
      report.damagedImages.push(...imageIds);
      continue;
    }
    const absent = await chunks.missingChunks(distinctDigests(manifest));
    if (absent.length === 0) continue;
    for (const digest of absent) missing.add(digest);
    report.damagedImages.push(...imageIds);
  }
  report.missingChunks = [...missing];
  report.damagedImages.sort();
  return report;
}

function isUnreadableManifest(error: unknown): boolean {
  return (
    error instanceof BlobNotFoundError ||
    error instanceof DigestMismatchError ||
    error instanceof InvalidManifestError
  );
}
