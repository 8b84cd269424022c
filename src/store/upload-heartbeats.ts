/**
 * Heartbeats of uploads in progress: an upload records one before its image becomes `saving` and refreshes
 * it while it runs; an image `saving` with no recent heartbeat has no live upload in any process of the
 * region (region/abandoned-uploads.ts).
 * @module
 */
import type { Db } from './db.js';

/** Records that the upload of `imageId` is alive at `at` (creating or refreshing its heartbeat). */
export async function markUploadAlive(db: Db, imageId: string, at: string): Promise<void> {
  await db
    .insertInto('upload_heartbeats')
    .values({ image_id: imageId, alive_at: at })
    .onConflict((conflict) => conflict.column('image_id').doUpdateSet({ alive_at: at }))
    .execute();
}

export async function endUploadHeartbeat(db: Db, imageId: string): Promise<void> {
  await db.deleteFrom('upload_heartbeats').where('image_id', '=', imageId).execute();
}

/**
 * Uploaded (not replicated) images still `saving` whose upload showed no sign of life since `staleBefore`:
 * its heartbeat is older, or it has none and the image has not changed since then either (an upload records
 * its heartbeat just after its image became `saving`, and versions of Ferry before heartbeats recorded none).
 */
export async function listAbandonedUploads(db: Db, staleBefore: string): Promise<string[]> {
  const rows = await db
    .selectFrom('images')
    .leftJoin('upload_heartbeats', 'upload_heartbeats.image_id', 'images.id')
    .select('images.id')
    .where('images.status', '=', 'saving')
    .where('images.replication_job_id', 'is', null)
    .where((eb) =>
      eb.or([
        eb('upload_heartbeats.alive_at', '<', staleBefore),
        eb.and([eb('upload_heartbeats.alive_at', 'is', null), eb('images.updated_at', '<', staleBefore)]),
      ]),
    )
    .execute();
  return rows.map((row) => row.id);
}

/**
 * When the oldest upload still alive (a heartbeat since `aliveSince`) began: its image became `saving` then.
 * Every chunk it wrote or touched is at least that recent, so garbage collection in any process of the region
 * spares what is newer (images/storage-maintenance.ts). Undefined when no upload is running.
 */
export async function oldestLiveUploadStart(db: Db, aliveSince: string): Promise<string | undefined> {
  const row = await db
    .selectFrom('upload_heartbeats')
    .innerJoin('images', 'images.id', 'upload_heartbeats.image_id')
    .select((eb) => eb.fn.min<string>('images.updated_at').as('started'))
    .where('images.status', '=', 'saving')
    .where('upload_heartbeats.alive_at', '>=', aliveSince)
    .executeTakeFirst();
  return row?.started ?? undefined;
}
