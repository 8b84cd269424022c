/**
 * Garbage collection of the chunk store: deletes the chunks and manifests that nothing references any more.
 *
 * Roots are the manifests of every image row and of every unfinished replication job in this region (a
 * transfer stores its manifest first, precisely so that the chunks it has fetched so far are kept). Mark: the
 * chunks those manifests list. Sweep: every other chunk or manifest older than the grace period.
 *
 * Why it is safe against concurrent uploads and jobs: an upload has no manifest until it ends, so it holds
 * every chunk it stores or finds already stored (ChunkHold) until its image row references its manifest,
 * and the sweep spares held chunks whatever their age: an upload may last longer than the grace period, and
 * an administrator may collect with no grace at all. A transfer holds every chunk of its manifest, those
 * it fetches and those it finds stored, until its image is active. A hold released while a collection runs
 * lasts until that collection ends: the collection listed its roots before the new image row existed, and
 * its sweep would otherwise take the chunks on that old list. A collector in another process sharing the blob folder
 * cannot see those holds; there the grace period protects an upload's chunks, which it writes or re-puts
 * (refreshing their age) as it goes, for as long as the upload is younger than the grace period. A chunk
 * deleted in the instant between the sweep's check and an upload's re-put would be missing at the end:
 * uploads and transfers verify that every chunk of their manifest is stored before an image becomes active
 * (docs/design.md), so the worst case is a failed upload or a transfer run that fetches the chunk again —
 * never an active image with missing data.
 * @module
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { Digest } from '../domain/ids.js';
import { distinctDigests } from '../domain/manifest.js';
import type { BlobDriver } from './driver.js';
import type { ChunkStore } from './chunk-store.js';
import { BlobNotFoundError } from './driver.js';
import { CHUNKS_PREFIX, MANIFESTS_PREFIX, parseChunkKey, parseManifestKey } from './layout.js';

/** Objects younger than this are never collected (default: 1 hour). */
export const DEFAULT_GC_GRACE_MS = 60 * 60 * 1000;

export interface GcReport {
  chunksKept: number;
  chunksDeleted: number;
  bytesDeleted: number;
  manifestsDeleted: number;
  /** Pack files removed or rewritten to free the space of what was deleted (drivers that pack). */
  packsCompacted: number;
  /** Bytes of storage freed by that. */
  bytesReclaimed: number;
}

/**
 * What the metadata says about the store, given by the caller (images/storage-maintenance.ts reads it from
 * the region's rows), so that this module reads no rows itself.
 */
export interface GcRoots {
  /** The manifests to keep, with every chunk they list: those of image rows and of unfinished jobs. */
  listManifests(): Promise<Iterable<string>>;
  /** Told, once the sweep ends, which chunks it deleted (an account can no longer be said to hold them). */
  chunksDeleted(digests: string[]): Promise<void>;
}

export async function collectGarbage(
  roots: GcRoots,
  chunks: ChunkStore,
  driver: BlobDriver,
  options: { graceMs?: number; now?: Date } = {},
): Promise<GcReport> {
  const cutoff = (options.now ?? new Date()).getTime() - (options.graceMs ?? DEFAULT_GC_GRACE_MS);
  // Before the roots are listed: a writer whose manifest becomes referenced after that keeps its hold until
  // this collection ends (ChunkHold.release), so the sweep cannot take its chunks on the old list of roots.
  const collection = chunks.beginCollection();
  let report: GcReport;
  try {
    report = await sweep(roots, chunks, driver, cutoff);
  } finally {
    collection.end();
  }
  // After the sweep, outside the collection: compaction only moves objects that are not deleted, so what
  // runs meanwhile (uploads, transfers, a next collection) sees every live chunk throughout.
  const compacted = await driver.compact?.();
  report.packsCompacted = compacted?.packsRemoved ?? 0;
  report.bytesReclaimed = compacted?.bytesReclaimed ?? 0;
  return report;
}

/** Chunks looked at between two turns of the event loop. */
const YIELD_EVERY = 256;

async function sweep(
  gcRoots: GcRoots,
  chunks: ChunkStore,
  driver: BlobDriver,
  cutoff: number,
): Promise<GcReport> {
  const roots = new Set(await gcRoots.listManifests());
  const live = new Set<string>();
  for (const root of roots) {
    try {
      for (const digest of distinctDigests(await chunks.getManifest(root as Digest))) live.add(digest);
    } catch (error) {
      if (!(error instanceof BlobNotFoundError)) throw error;
      // A job that has not stored its manifest yet has stored no chunk either.
    }
  }
  const report: GcReport = {
    chunksKept: 0,
    chunksDeleted: 0,
    bytesDeleted: 0,
    manifestsDeleted: 0,
    packsCompacted: 0,
    bytesReclaimed: 0,
  };
  /** Deleted chunks, told to the roots' owner at the end. */
  const deleted: string[] = [];
  const old = async (key: string) => {
    const stat = await driver.stat(key);
    return stat !== undefined && stat.modifiedAt.getTime() < cutoff ? stat : undefined;
  };
  let seen = 0;
  for await (const key of driver.list(CHUNKS_PREFIX)) {
    // The fs driver lists and deletes packed chunks from memory, so without this the loop would run to its
    // end in one turn of the event loop (2,000 chunks held it ~50 ms).
    if (++seen % YIELD_EVERY === 0) await yieldToEventLoop();
    const digest = parseChunkKey(key);
    if (digest === undefined || live.has(digest)) {
      report.chunksKept++;
      continue;
    }
    const stat = await old(key);
    // Asked after the stat, right before the delete: an upload may have taken the chunk meanwhile.
    if (!stat || chunks.isHeld(digest)) {
      report.chunksKept++;
      continue;
    }
    await driver.delete(key);
    deleted.push(digest);
    report.chunksDeleted++;
    report.bytesDeleted += stat.size;
  }
  await gcRoots.chunksDeleted(deleted);
  for await (const key of driver.list(MANIFESTS_PREFIX)) {
    const digest = parseManifestKey(key);
    // Held: an upload's, stored before this collection listed its roots and referenced only after.
    if (digest === undefined || roots.has(digest) || chunks.isHeld(digest) || !(await old(key))) continue;
    await driver.delete(key);
    report.manifestsDeleted++;
  }
  return report;
}
