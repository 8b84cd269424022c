/**
 * Garbage collection of the chunk store: deletes the chunks and manifests that nothing references any more.
 *
 * Roots are the manifests of every image row and of every unfinished replication job in this region (a
 * transfer stores its manifest first, precisely so that the chunks it has fetched so far are kept). Mark: the
 * chunks those manifests list. Sweep: every other chunk or manifest older than the grace period.
 *
 * Why the grace period makes it safe against concurrent uploads and jobs: an upload has no manifest until it
 * ends, but every chunk it stores or finds already stored is written or re-put (which refreshes its age) as
 * it goes, so it is younger than the grace period. A chunk collected in the instant between an upload's
 * re-put check and its use would be missing at the end: uploads and transfers verify that every chunk of
 * their manifest is stored before an image becomes active (docs/design.md), so the worst case is a failed
 * upload or a transfer run that fetches the chunk again — never an active image with missing data.
 * @module
 */
import type { Db } from '../store/db.js';
import { listReferencedManifests } from '../store/images.js';
import { listActiveJobManifests } from '../store/jobs.js';
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
}

export async function collectGarbage(
  db: Db,
  chunks: ChunkStore,
  driver: BlobDriver,
  options: { graceMs?: number; now?: Date } = {},
): Promise<GcReport> {
  const cutoff = (options.now ?? new Date()).getTime() - (options.graceMs ?? DEFAULT_GC_GRACE_MS);
  const roots = new Set([...(await listReferencedManifests(db)), ...(await listActiveJobManifests(db))]);
  const live = new Set<string>();
  for (const root of roots) {
    try {
      for (const digest of distinctDigests(await chunks.getManifest(root as Digest))) live.add(digest);
    } catch (error) {
      if (!(error instanceof BlobNotFoundError)) throw error;
      // A job that has not stored its manifest yet has stored no chunk either.
    }
  }
  const report: GcReport = { chunksKept: 0, chunksDeleted: 0, bytesDeleted: 0, manifestsDeleted: 0 };
  const old = async (key: string) => {
    const stat = await driver.stat(key);
    return stat !== undefined && stat.modifiedAt.getTime() < cutoff ? stat : undefined;
  };
  for await (const key of driver.list(CHUNKS_PREFIX)) {
    const digest = parseChunkKey(key);
    if (digest === undefined || live.has(digest)) {
      report.chunksKept++;
      continue;
    }
    const stat = await old(key);
    if (!stat) {
      report.chunksKept++;
      continue;
    }
    await driver.delete(key);
    report.chunksDeleted++;
    report.bytesDeleted += stat.size;
  }
  for await (const key of driver.list(MANIFESTS_PREFIX)) {
    const digest = parseManifestKey(key);
    if (digest === undefined || roots.has(digest) || !(await old(key))) continue;
    await driver.delete(key);
    report.manifestsDeleted++;
  }
  return report;
}
