/**
 * Reading image records: one page of the images a caller may see (the query and the visibility rule are the
 * store's: store/image-list.ts, domain/visibility.ts), and the replication job of each replica still
 * arriving, whose progress the view shows.
 * @module
 */
import { listImages, type ListOptions } from '../store/image-list.js';
import type { ImageRecord } from '../store/images.js';
import { findJobsByIds, type JobRow } from '../store/jobs.js';
import type { RegionContext } from '../region/context.js';

export interface ImageWithJob {
  image: ImageRecord;
  /** The job replicating the image into this region (or copying it in the region), if any. */
  job: JobRow | undefined;
}

/** Each image with its replication job, in one query for the lot. */
export async function withReplicationJobs(
  ctx: RegionContext,
  images: ImageRecord[],
): Promise<ImageWithJob[]> {
  const jobIds = images.flatMap((image) =>
    image.replication_job_id === null ? [] : [image.replication_job_id],
  );
  const jobs = new Map((await findJobsByIds(ctx.db, jobIds)).map((job) => [job.id, job]));
  return images.map((image) => ({ image, job: jobs.get(image.replication_job_id ?? '') }));
}

/** One page of the images the caller may see, filtered and sorted, with their replication jobs. */
export async function listVisibleImages(ctx: RegionContext, options: ListOptions): Promise<ImageWithJob[]> {
  return withReplicationJobs(ctx, await listImages(ctx.db, options));
}
