/**
 * The region's storage maintenance as its callers ask for it (the administrator's routes and the periodic
 * tasks): garbage collection and the scrub of the chunk store, given what the region's rows say. The blob
 * layer walks the store; the rows are read here.
 * @module
 */
import { collectGarbage, type GcReport, type GcRoots } from '../blobs/gc.js';
import { scrubChunkStore, type ListCompleteImages, type ScrubReport } from '../blobs/scrub.js';
import type { RegionContext } from '../region/context.js';
import { forgetChunks } from '../store/account-chunks.js';
import type { Db } from '../store/db.js';
import { listImageManifests, listReferencedManifests } from '../store/images.js';
import { listActiveJobManifests } from '../store/jobs.js';
import { oldestLiveUploadStart } from '../store/upload-heartbeats.js';
import { uploadHeartbeatLifetimeMs } from '../config/limits.js';
import { listAvailableBackupManifests, listBackupManifests } from '../store/vaults.js';
import type { Digest } from '../domain/ids.js';

/** Clock skew between the region's processes that an upload's start may carry. */
const HOLD_MARGIN_MS = 60_000;

/** The collection's roots from the region's rows: image rows', backups' and unfinished jobs' manifests. */
export function gcRootsOf(db: Db): GcRoots {
  return {
    listManifests: async () => [
      ...(await listReferencedManifests(db)),
      ...(await listBackupManifests(db)),
      ...(await listActiveJobManifests(db)),
    ],
    chunksDeleted: (digests) => forgetChunks(db, digests), // what an account holds (store/account-chunks.ts)
  };
}

/** The data the scrub checks, from the region's rows: `active` and `deactivated` images, complete backups. */
export function completeImagesOf(db: Db): ListCompleteImages {
  return async () => [
    ...(await listImageManifests(db)),
    ...(await listAvailableBackupManifests(db)).map((b) => ({
      id: `backup ${b.id}`,
      manifestDigest: b.manifestDigest as Digest,
    })),
  ];
}

/** Collects what no image row and no unfinished job references, older than `graceMs`. */
export async function collectRegionGarbage(
  ctx: Pick<RegionContext, 'db' | 'chunks' | 'blobs' | 'clock' | 'metrics' | 'limits'>,
  graceMs: number,
): Promise<GcReport> {
  const now = ctx.clock.now();
  // The chunk holds of uploads are per process (ChunkStore.hold); an upload in another process of the region
  // (a scale-out region's API processes) is seen through its heartbeat: nothing newer than its start is taken.
  const aliveSince = new Date(now.getTime() - uploadHeartbeatLifetimeMs(ctx.limits));
  const oldestUpload = await oldestLiveUploadStart(ctx.db, aliveSince.toISOString());
  const uploadGraceMs =
    oldestUpload === undefined ? 0 : now.getTime() - Date.parse(oldestUpload) + HOLD_MARGIN_MS;
  const report = await collectGarbage(gcRootsOf(ctx.db), ctx.chunks, ctx.blobs, {
    graceMs: Math.max(graceMs, uploadGraceMs),
    now,
  });
  ctx.metrics.gcRuns.inc();
  ctx.metrics.gcDeletedObjects.inc(report.chunksDeleted + report.manifestsDeleted);
  return report;
}

/** Verifies every stored chunk at `bytesPerSecond` (null: as fast as the disk goes); see blobs/scrub.ts. */
export async function scrubRegion(
  ctx: Pick<RegionContext, 'db' | 'chunks' | 'blobs' | 'metrics'>,
  options: { bytesPerSecond: number | null; signal?: AbortSignal },
): Promise<ScrubReport> {
  const report = await scrubChunkStore(completeImagesOf(ctx.db), ctx.chunks, ctx.blobs, options);
  ctx.metrics.scrubbedBytes.inc(report.bytesChecked);
  ctx.metrics.scrubCorruptChunks.inc(report.corruptChunks.length);
  return report;
}
