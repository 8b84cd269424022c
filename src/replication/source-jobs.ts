/**
 * The source side of a cross-region replication: check the product rules, create the job and the grant,
 * ask the destination to create the replica, and keep the job's view current from the destination's
 * reports. The source's job row is what the user sees; the destination's row is where the work happens.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { loadVisibleImage, isOwner } from '../images/access.js';
import { ERROR_CODES, FerryError, isFerryError, type ErrorCode } from '../domain/errors.js';
import { newHexId } from '../domain/ids.js';
import { isTerminal, JOB_TASKS, JOB_TYPES } from '../domain/job.js';
import {
  checkAgency,
  checkDestination,
  checkImageReplicable,
  checkRunningJobs,
  defaultCopyName,
  policyFor,
  prefixedCopyName,
} from '../domain/replication-rules.js';
import type { Principal } from '../identity/tokens.js';
import { hashSecret } from '../identity/tokens.js';
import { findRegion, replicationTargets } from '../config/catalog.js';
import { timestamp } from '../store/clock.js';
import { deleteGrant, insertGrant, revokeGrant } from '../store/grants.js';
import { findAgencyByName } from '../store/identity.js';
import {
  insertSourceJobWithin,
  deleteJob,
  findJob,
  newJobRow,
  listActiveSourceJobsOfImage,
  listActiveSourceJobs,
  updateJob,
  type JobRow,
} from '../store/jobs.js';
import type { ImageRecord } from '../store/images.js';
import { jobState } from './replicas.js';
import { callPeer, PEER_CALLS, type JobState, type ReplicaDisk, type ReplicaRequest } from './peer-api.js';
import { listBackupsOfImage } from '../store/vaults.js';
import type { ImageReplications, RegionContext } from '../region/context.js';
import { jobOrigin } from './job-origin.js';
import { recordProgress, recordRequestStarted, recordStarted } from './events.js';
import { checkRunningEverywhere, runningInOtherRegions, type RunningElsewhere } from './running-limit.js';
import { REGION_CALL_TIMEOUT_MS, RegionCallError } from './region-call.js';

/** How long a grant lets the destination read (default: 7 days; resumed jobs keep using it). */
export const GRANT_TTL_MS = 7 * 24 * 3600 * 1000;

export interface CrossRegionRequest {
  /** The replica's name; else `namePrefix` + the source's name; else copy_<source region>_<source name>. */
  name?: string;
  namePrefix?: string;
  description?: string;
  projectName?: string;
  agencyName: string;
  vaultId?: string;
  bandwidthLimit?: number;
  /** A lower size cap for this request than the region's (the BCC-shaped call's 200 GiB). */
  maxImageBytes?: number;
  /** Projects of the destination region the replica is shared with once active. */
  shareWith?: string[];
}

export interface StartedJob {
  image_id: string;
  region: string;
  job_id: string;
}

export interface Refusal {
  image_id: string;
  region: string;
  error: { code: string; ims_code?: string; message: string };
}

export function refusalOf(imageId: string, region: string, error: FerryError): Refusal {
  const ims = (ERROR_CODES[error.code] as { ims?: string }).ims;
  return {
    image_id: imageId,
    region,
    error: { code: error.code, ...(ims ? { ims_code: ims } : {}), message: error.message },
  };
}

/** Checks every rule for one image to one region; throws the refusal. */
async function checkRules(
  ctx: RegionContext,
  principal: Principal,
  image: ImageRecord,
  region: string,
  request: CrossRegionRequest,
  running: { here: number; elsewhere: RunningElsewhere },
): Promise<{ projectName: string }> {
  checkImageReplicable(
    {
      id: image.id,
      status: image.status,
      visibility: image.visibility,
      diskFormat: image.disk_format,
      imageType: image.image_type,
      encrypted: image.cmk_id !== null,
      frozen: image.frozen === 1,
      size: image.size,
      ownedByCaller: isOwner(image, principal) && image.owner === principal.projectId,
    },
    request.maxImageBytes === undefined
      ? ctx.replication.limits
      : {
          ...ctx.replication.limits,
          maxImageBytes: Math.min(ctx.replication.limits.maxImageBytes, request.maxImageBytes),
        },
  );
  checkDestination({
    sourceRegion: ctx.region,
    destRegion: region,
    destKnown: findRegion(ctx.catalog, region) !== undefined,
    pairAllowed: replicationTargets(ctx.catalog, ctx.region).includes(region),
  });
  if (image.image_type === 'full-server' && !request.vaultId) {
    throw new FerryError(
      'REPLICATION_FULL_SERVER_NEEDS_VAULT',
      `Image ${image.id} is a whole-server image: name a vault of protection type replication in ${region} (vault_id).`,
    );
  }
  // The destination checks that the project exists: projects are kept by their own region's database.
  const projectName = request.projectName ?? region;
  checkAgency(
    request.agencyName,
    await findAgencyByName(ctx.db, principal.accountId, request.agencyName),
    region,
    policyFor(image.image_type),
  );
  checkRunningEverywhere(running.here, running.elsewhere, region, ctx.replication.limits);
  return { projectName };
}

/**
 * The user's unfinished cross-region jobs from this region, after asking their destinations whether they
 * finished (what this region answers to PEER_CALLS.runningJobs, too).
 */
export async function countRunningJobs(ctx: RegionContext, userId: string): Promise<number> {
  const jobs = await listActiveSourceJobs(ctx.db, { userId });
  const refreshed = await Promise.all(jobs.map((job) => refreshSourceJob(ctx, job)));
  return refreshed.filter((job) => !isTerminal(job.status)).length;
}

/**
 * Starts one job per (image, region) pair that passes the rules. Refusals are collected, not thrown, so one
 * ineligible image does not stop the others; nothing is created for a refused pair. `requestId` is the API
 * request's own ID: the jobs keep it as their `request_id` and send it along in every call their replication
 * makes, so it finds their log lines in every region.
 */
export async function startCrossRegionCopies(
  ctx: RegionContext,
  principal: Principal,
  imageIds: string[],
  regions: string[],
  request: CrossRegionRequest,
  requestId: string,
): Promise<{ requestId: string; started: StartedJob[]; refused: Refusal[] }> {
  const started: StartedJob[] = [];
  const refused: Refusal[] = [];
  // This region's count as stored, brought up to date from the destinations only at the limit (see below).
  const [stored, elsewhere] = await Promise.all([
    listActiveSourceJobs(ctx.db, { userId: principal.userId }),
    runningInOtherRegions(ctx, principal.userId),
  ]);
  const running = { here: stored.length, elsewhere, refreshed: false };
  const tryPair = async (image: ImageRecord, region: string): Promise<string> => {
    const { projectName } = await checkRules(ctx, principal, image, region, request, running);
    return createSourceJob(ctx, principal, image, region, projectName, request, elsewhere, requestId);
  };
  // Asking the destinations whether the unfinished jobs ended (a call per job) can only lower the count, so it
  // is done only once the stored count reaches the limit: below it, the answers would change no decision. In
  // the load test (test/reliability/load.test.ts), submissions that asked none took half the time (p50 0.8 s
  // against 1.7 s). Asked once per request; then the refused pair is tried again.
  const startPair = async (image: ImageRecord, region: string): Promise<string> => {
    try {
      return await tryPair(image, region);
    } catch (error) {
      if (!isFerryError(error) || error.code !== 'REPLICATION_LIMIT_REACHED' || running.refreshed)
        throw error;
      running.here = await countRunningJobs(ctx, principal.userId);
      running.refreshed = true;
      return tryPair(image, region);
    }
  };
  for (const imageId of imageIds) {
    let image: ImageRecord;
    try {
      image = await loadVisibleImage(ctx, principal, imageId);
    } catch (error) {
      if (!isFerryError(error)) throw error;
      for (const region of regions) refused.push(refusalOf(imageId, region, error));
      continue;
    }
    for (const region of regions) {
      try {
        const jobId = await startPair(image, region);
        started.push({ image_id: image.id, region, job_id: jobId });
        running.here++;
      } catch (error) {
        if (!isFerryError(error)) throw error;
        refused.push(refusalOf(image.id, region, error));
      }
    }
  }
  if (started.length > 0) await recordRequestStarted(ctx, requestId, refused.length);
  return { requestId, started, refused };
}

async function createSourceJob(
  ctx: RegionContext,
  principal: Principal,
  image: ImageRecord,
  region: string,
  projectName: string,
  request: CrossRegionRequest,
  elsewhere: RunningElsewhere,
  requestId: string,
): Promise<string> {
  const now = timestamp(ctx.clock);
  const jobId = newHexId<string>();
  const secret = randomBytes(32).toString('base64url');
  const name =
    request.name ??
    (request.namePrefix !== undefined
      ? prefixedCopyName(request.namePrefix, image.name)
      : defaultCopyName(ctx.region, image.name));
  const job = newJobRow(
    {
      id: jobId,
      job_type: JOB_TYPES.crossRegion,
      role: 'source',
      ...jobOrigin(ctx, principal, image),
      dest_region: region,
      image_name: name,
      description: request.description ?? '',
      agency_name: request.agencyName,
      vault_id: request.vaultId ?? null,
      bandwidth_limit: request.bandwidthLimit ?? null,
      share_with: request.shareWith?.length ? JSON.stringify(request.shareWith) : null,
      request_id: requestId,
      current_task: JOB_TASKS.createReplica,
    },
    now,
    ctx.replication.maxAttempts,
  );
  // A whole-server image's data is its disks: the grant covers each one's manifest, and the destination
  // gets them all (their backups arrive in the vault named by vault_id).
  const disks = await disksOf(ctx, image);
  // Counted again with the insert (see insertSourceJobWithin): requests sent at once each passed the count above.
  await insertSourceJobWithin(ctx.db, { ...job, disks: disks ? JSON.stringify(disks) : null }, (active) =>
    checkRunningJobs(active - 1 + elsewhere.running, ctx.replication.limits),
  );
  await insertGrant(ctx.db, {
    job_id: jobId,
    secret_hash: hashSecret(secret),
    image_id: image.id,
    manifest_digest: disks ? disks[0]!.manifest_digest : image.manifest_digest!,
    disk_manifests: disks ? JSON.stringify(disks.map((d) => d.manifest_digest)) : null,
    account_id: principal.accountId,
    dest_region: region,
    expires_at: new Date(ctx.clock.now().getTime() + GRANT_TTL_MS).toISOString(),
    revoked_at: null,
  });
  const replica: ReplicaRequest = {
    job_id: jobId,
    request_id: requestId,
    account_id: principal.accountId,
    user_id: principal.userId,
    source_image_id: image.id,
    source_image_name: image.name,
    project_name: projectName,
    agency_name: request.agencyName,
    vault_id: request.vaultId ?? null,
    name,
    description: request.description ?? '',
    grant_secret: secret,
    bandwidth_limit: request.bandwidthLimit ?? null,
    ...(request.shareWith?.length ? { share_with: request.shareWith } : {}),
    image: {
      disk_format: image.disk_format,
      container_format: image.container_format,
      size: image.size ?? 0,
      virtual_size: image.virtual_size,
      checksum: image.checksum,
      os_hash_algo: image.os_hash_algo,
      os_hash_value: image.os_hash_value,
      manifest_digest: disks ? null : image.manifest_digest!,
      min_disk: image.min_disk,
      min_ram: image.min_ram,
      image_type: image.image_type,
      properties: image.properties,
      tags: image.tags,
    },
    ...(disks ? { disks } : {}),
  };
  try {
    const state = await callPeer<JobState>(ctx.regions, region, PEER_CALLS.createReplica, {
      body: replica,
      requestId,
    });
    await applyDestinationState(ctx, jobId, state);
  } catch (error) {
    // Nothing may remain of a refused request (no event was recorded: a job that had events was taken).
    await deleteGrant(ctx.db, jobId);
    await deleteJob(ctx.db, jobId);
    if (error instanceof RegionCallError) {
      if (error.transient) {
        throw new FerryError('REGION_UNREACHABLE', `Region ${region} cannot be reached now; retry later.`);
      }
      const code = (error.code && error.code in ERROR_CODES ? error.code : 'BAD_REQUEST') as ErrorCode;
      throw new FerryError(code, error.message);
    }
    throw error;
  }
  await recordStarted(ctx, (await findJob(ctx.db, jobId))!);
  return jobId;
}

/** A whole-server image's disks as a replication carries them; undefined for a one-disk image. */
async function disksOf(ctx: RegionContext, image: ImageRecord): Promise<ReplicaDisk[] | undefined> {
  if (image.image_type !== 'full-server') return undefined;
  const backups = await listBackupsOfImage(ctx.db, image.id);
  if (backups.length === 0 || backups.some((b) => b.status !== 'available')) {
    throw new FerryError(
      'REPLICATION_IMAGE_UNAVAILABLE',
      `Image ${image.id} is a whole-server image whose disks are not all complete here.`,
    );
  }
  return backups.map((b) => ({
    disk_index: b.disk_index,
    disk_format: b.disk_format,
    size: b.size,
    virtual_size: b.virtual_size,
    checksum: b.checksum,
    os_hash_algo: b.os_hash_algo,
    os_hash_value: b.os_hash_value,
    manifest_digest: b.manifest_digest,
  }));
}

/** Copies the destination's report into the source's job row; a finished job's grant is revoked. */
export async function applyDestinationState(
  ctx: RegionContext,
  jobId: string,
  state: JobState,
): Promise<void> {
  const now = timestamp(ctx.clock);
  // The state and the events it means are one change: a reader that sees the job ended finds its end's event,
  // and reports that arrive at once (a milestone's and the end's) record their events in order.
  await ctx.db.transaction().execute(async (trx) => {
    const before = await findJob(trx, jobId);
    await updateJob(
      trx,
      jobId,
      { role: 'source' },
      {
        status: state.status,
        dest_image_id: state.dest_image_id,
        bytes_total: state.bytes_total,
        bytes_transferred: state.bytes_transferred,
        bytes_skipped_present: state.bytes_skipped_present,
        bytes_skipped_zero: state.bytes_skipped_zero,
        bytes_per_second: state.bytes_per_second,
        current_task: state.current_task,
        error_code: state.error_code,
        fail_reason: state.fail_reason,
        attempts: state.attempts,
        ...(isTerminal(state.status) ? { end_time: state.end_time ?? now } : {}),
        updated_at: now,
      },
    );
    if (isTerminal(state.status)) await revokeGrant(trx, jobId, now);
    const job = await findJob(trx, jobId);
    if (job) await recordProgress(ctx, job, before, trx);
  });
}

/** A destination's report of a job it runs for this region (peer-api.ts: pushed when a run ends). */
export async function acceptDestinationReport(
  ctx: RegionContext,
  caller: string,
  jobId: string,
  state: JobState,
): Promise<void> {
  const job = await findJob(ctx.db, jobId);
  if (!job || job.role !== 'source' || job.dest_region !== caller || state.job_id !== job.id) {
    throw new FerryError('JOB_NOT_FOUND', `No job ${jobId} replicates into ${caller}.`);
  }
  await applyDestinationState(ctx, job.id, state);
}

/**
 * How long a job's request to create its replica may be in flight: while it is, the destination may not know
 * the job yet, and its "no such job" means nothing. Beyond it, the request has failed or its process died.
 */
const REPLICA_CREATION_MS = 2 * REGION_CALL_TIMEOUT_MS;

/** The source job, brought up to date from its destination when unfinished (unreachable: left as it was). */
export async function refreshSourceJob(ctx: RegionContext, job: JobRow): Promise<JobRow> {
  if (job.role !== 'source' || isTerminal(job.status)) return job;
  // Another request (a count of running jobs, a list) must not read a job whose replica is being created as
  // lost: on PostgreSQL such reads came between the insert and the destination's answer, and failed the job.
  const creating =
    job.current_task === JOB_TASKS.createReplica &&
    ctx.clock.now().getTime() - Date.parse(job.begin_time) < REPLICA_CREATION_MS;
  if (creating) return job;
  try {
    const state = await callPeer<JobState>(ctx.regions, job.dest_region, PEER_CALLS.replicaState, {
      job: job.id,
      requestId: job.request_id,
    });
    await applyDestinationState(ctx, job.id, state);
  } catch (error) {
    if (error instanceof RegionCallError && error.status === 404) {
      // The destination has no such job (it was never created or was lost): the job cannot finish.
      await applyDestinationState(ctx, job.id, {
        ...jobState(job),
        status: 'FAIL',
        error_code: 'REPLICA_LOST',
        fail_reason: `region ${job.dest_region} has no record of this job`,
      });
    } else {
      // The destination cannot say how the job goes: its last rate (and the ETA made from it) no longer holds.
      await updateJob(ctx.db, job.id, { role: 'source' }, { bytes_per_second: 0 });
    }
  }
  return (await findJob(ctx.db, job.id))!;
}

/** Cancels a job from its source: the grant is revoked at once, so the destination can read no more. */
export async function cancelSourceJob(ctx: RegionContext, job: JobRow): Promise<JobRow> {
  const current = await refreshSourceJob(ctx, job);
  if (isTerminal(current.status)) {
    throw new FerryError('JOB_FINISHED', `Job ${job.id} has already ended (${current.status}).`);
  }
  const now = timestamp(ctx.clock);
  await revokeGrant(ctx.db, job.id, now);
  try {
    const state = await callPeer<JobState>(ctx.regions, job.dest_region, PEER_CALLS.cancelReplica, {
      job: job.id,
      requestId: job.request_id,
    });
    await applyDestinationState(ctx, job.id, state);
  } catch {
    // The destination is unreachable: its next read is refused (grant revoked) and it cancels itself.
  }
  const before = await findJob(ctx.db, job.id);
  await updateJob(
    ctx.db,
    job.id,
    { role: 'source' },
    {
      status: 'CANCELLED',
      current_task: '',
      end_time: now,
      updated_at: now,
    },
  );
  const cancelled = (await findJob(ctx.db, job.id))!;
  await recordProgress(ctx, cancelled, before);
  return cancelled;
}

/** Destination → source: report this job's state now (after a run ends), so the source lock lifts promptly. */
export async function notifySource(ctx: RegionContext, jobId: string): Promise<void> {
  const job = await findJob(ctx.db, jobId);
  if (!job || job.role !== 'destination') return;
  await reportState(ctx, job.source_region, jobState(job), job.request_id);
}

/** Destination → source: the job's state, pushed (peer-api.ts says when). */
export async function reportState(
  ctx: RegionContext,
  sourceRegion: string,
  state: JobState,
  requestId: string | null,
): Promise<void> {
  await callPeer(ctx.regions, sourceRegion, PEER_CALLS.jobState, {
    job: state.job_id,
    body: state,
    requestId,
  });
}

/** Refuses a change to an image that an unfinished replication is reading. */
export async function assertNotBeingReplicated(ctx: RegionContext, imageId: string): Promise<void> {
  const jobs = await listActiveSourceJobsOfImage(ctx.db, imageId);
  const refreshed = await Promise.all(jobs.map((job) => refreshSourceJob(ctx, job)));
  const active = refreshed.filter((job) => !isTerminal(job.status));
  if (active.length > 0) {
    throw new FerryError(
      'IMAGE_IN_USE',
      `Image ${imageId} is being replicated (job ${active[0]!.id}); wait for the job to end or cancel it.`,
    );
  }
}

/** Cancels every unfinished replication of the image; one that ended meanwhile is left as it ended. */
export async function cancelReplicationsOfImage(ctx: RegionContext, imageId: string): Promise<void> {
  for (const job of await listActiveSourceJobsOfImage(ctx.db, imageId)) {
    await cancelSourceJob(ctx, job).catch((error: unknown) => {
      if (!(isFerryError(error) && error.code === 'JOB_FINISHED')) throw error;
    });
  }
}

/** This region's answers to the image use cases (region/context.ts, ImageReplications). */
export function imageReplicationsOf(ctx: RegionContext): ImageReplications {
  return {
    assertNoneReading: (imageId) => assertNotBeingReplicated(ctx, imageId),
    cancelAllReading: (imageId) => cancelReplicationsOfImage(ctx, imageId),
  };
}
