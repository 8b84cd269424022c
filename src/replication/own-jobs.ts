/**
 * The jobs a caller sees and cancels: its account's jobs in its project (as images are), source and local
 * rows only (a destination's row is the source region's business), each brought up to date from its
 * destination before it is shown.
 * @module
 */
import { FerryError } from '../domain/errors.js';
import type { JobStatus } from '../domain/job.js';
import type { Principal } from '../identity/tokens.js';
import { loadOwnedImage } from '../images/access.js';
import { findJob, findJobByDestImage, listActiveSourceJobs, listJobs, type JobRow } from '../store/jobs.js';
import type { RegionContext } from '../region/context.js';
import { cancelReplica, type JobState } from './replicas.js';
import { cancelSourceJob, refreshSourceJob, reportState } from './source-jobs.js';

/** Whether the caller may see this job: its account's, in its project (as images), a source or local row. */
function isOwnJob(principal: Principal, job: JobRow | undefined): job is JobRow {
  return (
    job !== undefined &&
    job.account_id === principal.accountId &&
    (job.project_id === null || job.project_id === principal.projectId) &&
    job.role !== 'destination'
  );
}

async function loadOwnJob(ctx: RegionContext, principal: Principal, jobId: string): Promise<JobRow> {
  const job = await findJob(ctx.db, jobId);
  if (!isOwnJob(principal, job)) throw new FerryError('JOB_NOT_FOUND', `No job ${jobId} was found.`);
  return job;
}

/** One of the caller's jobs, as its destination last reported it. */
export async function showOwnJob(ctx: RegionContext, principal: Principal, jobId: string): Promise<JobRow> {
  return refreshSourceJob(ctx, await loadOwnJob(ctx, principal, jobId));
}

export interface JobListing {
  status?: JobStatus;
  jobType?: string;
  imageId?: string;
  limit: number;
  /** The page starts after this job, which must be one of the caller's. */
  marker?: string;
}

/** A page of the caller's jobs, newest first, filtered. */
export async function listOwnJobs(
  ctx: RegionContext,
  principal: Principal,
  listing: JobListing,
): Promise<JobRow[]> {
  let after: JobRow | undefined;
  if (listing.marker !== undefined) {
    const marker = await findJob(ctx.db, listing.marker);
    if (!isOwnJob(principal, marker)) {
      throw new FerryError('VALIDATION_FAILED', `marker ${listing.marker} is not one of your jobs.`);
    }
    after = marker;
  }
  // Unfinished jobs first learn how far their destinations got, so that the status filter sees the truth.
  const active = await listActiveSourceJobs(ctx.db, { accountId: principal.accountId });
  await Promise.all(active.map((job) => refreshSourceJob(ctx, job)));
  return listJobs(ctx.db, {
    accountId: principal.accountId,
    projectId: principal.projectId,
    limit: listing.limit,
    ...(listing.status !== undefined ? { status: listing.status } : {}),
    ...(listing.jobType !== undefined ? { jobType: listing.jobType } : {}),
    ...(listing.imageId !== undefined ? { imageId: listing.imageId } : {}),
    ...(after ? { after } : {}),
  });
}

/** Cancels one of the caller's replications from its source region (an in-region copy is done at once). */
export async function cancelOwnJob(ctx: RegionContext, principal: Principal, jobId: string): Promise<JobRow> {
  const job = await loadOwnJob(ctx, principal, jobId);
  if (job.role !== 'source')
    throw new FerryError('JOB_FINISHED', `Job ${job.id} has already ended (${job.status}).`);
  return cancelSourceJob(ctx, job);
}

/**
 * Cancels, from the destination region, the replication that writes the caller's replica `imageId` (IMS's
 * cancel_copy); the source is told at once.
 */
export async function cancelReplicationInto(
  ctx: RegionContext,
  principal: Principal,
  imageId: string,
): Promise<JobState> {
  const image = await loadOwnedImage(ctx, principal, imageId);
  const job = await findJobByDestImage(ctx.db, image.id);
  if (!job || job.role !== 'destination') {
    throw new FerryError('JOB_NOT_FOUND', `Image ${image.id} is not a replica: no replication writes it.`);
  }
  if (image.status !== 'saving') {
    throw new FerryError('JOB_FINISHED', `The replication of image ${image.id} has already ended.`);
  }
  const state = await cancelReplica(ctx, job, 'cancelled from the destination region');
  // The source learns it at its next refresh otherwise.
  await reportState(ctx, job.source_region, state, job.request_id).catch(() => undefined);
  return state;
}
