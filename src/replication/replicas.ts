/**
 * The destination side of a cross-region replication: create the new image (status `saving`, shown as
 * replicating) with its job when the source asks, report the job's state, and cancel it. The transfer itself
 * is done by a worker (transfer.ts).
 * @module
 */
import { FerryError } from '../domain/errors.js';
import { newUuid } from '../domain/ids.js';
import { isTerminal, JOB_TASKS, JOB_TYPES, type JobStatus } from '../domain/job.js';
import { checkAgency, policyFor } from '../domain/replication-rules.js';
import { checkVaultFor, checkVaultSpace, MAX_WHOLE_SERVER_MEMBERS } from '../domain/vault.js';
import { findVault, insertBackups, vaultUsedBytes, type VaultRow } from '../store/vaults.js';
import { copyProperties, DEFAULT_OS_HASH_ALGO } from '../domain/image.js';
import { timestamp } from '../store/clock.js';
import { findAccount, findAgencyByName, findProject, findProjectByName } from '../store/identity.js';
import { deleteImage, insertImage, newImageRow } from '../store/images.js';
import { deleteJob, findJob, insertJob, newJobRow, updateJob, type JobRow } from '../store/jobs.js';
import { assertNewImageFits } from '../images/quotas.js';
import type { RegionContext } from '../region/context.js';
import type { JobState, ReplicaRequest } from './peer-api.js';

export type { JobState, ReplicaRequest };

export function jobState(job: JobRow): JobState {
  return {
    job_id: job.id,
    status: job.status as JobStatus,
    dest_image_id: job.dest_image_id,
    bytes_total: job.bytes_total,
    bytes_transferred: job.bytes_transferred,
    bytes_skipped_present: job.bytes_skipped_present,
    bytes_skipped_zero: job.bytes_skipped_zero,
    bytes_per_second: job.bytes_per_second,
    current_task: job.current_task,
    error_code: job.error_code,
    fail_reason: job.fail_reason,
    end_time: job.end_time,
    attempts: job.attempts,
  };
}

/** Creates the replica image and its job; idempotent for a job id the source sends again. */
export async function createReplica(
  ctx: RegionContext,
  sourceRegion: string,
  req: ReplicaRequest,
): Promise<JobState> {
  const existing = await findJob(ctx.db, req.job_id);
  if (existing) return jobState(existing);
  if (!(await findAccount(ctx.db, req.account_id))) {
    throw new FerryError(
      'REPLICATION_PROJECT_NOT_FOUND',
      `The account has no presence in region ${ctx.region}.`,
    );
  }
  const project = await findProjectByName(ctx.db, req.account_id, ctx.region, req.project_name);
  if (!project) {
    throw new FerryError(
      'REPLICATION_PROJECT_NOT_FOUND',
      `Your account has no project named ${req.project_name} in ${ctx.region}; name one of your projects there.`,
    );
  }
  checkAgency(
    req.agency_name,
    await findAgencyByName(ctx.db, req.account_id, req.agency_name),
    ctx.region,
    policyFor(req.image.image_type),
  );
  const vault = await replicationVaultFor(ctx, req, project.id);
  const shareWith = req.share_with ?? [];
  if (req.image.image_type === 'full-server' && shareWith.length > MAX_WHOLE_SERVER_MEMBERS) {
    throw new FerryError(
      'LIMIT_EXCEEDED',
      `share_with: a whole-server image may be shared with at most ${MAX_WHOLE_SERVER_MEMBERS} projects.`,
    );
  }
  for (const member of shareWith) {
    if (member === project.id) {
      throw new FerryError('VALIDATION_FAILED', `share_with: ${member} is the replica's own project.`);
    }
    if ((await findProject(ctx.db, member))?.region !== ctx.region) {
      throw new FerryError(
        'VALIDATION_FAILED',
        `share_with: no project ${member} exists in region ${ctx.region}.`,
      );
    }
  }
  const properties = copyProperties(req.image.properties, req.description);
  await assertNewImageFits(ctx, project.id, properties, req.image.tags);

  const now = timestamp(ctx.clock);
  const imageId = newUuid<string>();
  const disks = req.disks ?? null;
  const job = newJobRow(
    {
      id: req.job_id,
      job_type: JOB_TYPES.crossRegion,
      role: 'destination',
      account_id: req.account_id,
      user_id: req.user_id,
      source_region: sourceRegion,
      source_image_id: req.source_image_id,
      source_image_name: req.source_image_name,
      dest_region: ctx.region,
      dest_project_id: project.id,
      project_id: project.id,
      dest_image_id: imageId,
      image_name: req.name,
      description: req.description,
      agency_name: req.agency_name,
      vault_id: req.vault_id,
      manifest_digest: req.image.manifest_digest,
      disks: disks ? JSON.stringify(disks) : null,
      bytes_total: req.image.size,
      bandwidth_limit: req.bandwidth_limit ?? ctx.replication.bandwidthLimit,
      current_task: JOB_TASKS.queued,
      grant_secret: req.grant_secret,
      share_with: shareWith.length > 0 ? JSON.stringify(shareWith) : null,
      request_id: req.request_id ?? null,
    },
    now,
    ctx.replication.maxAttempts,
  );
  await insertJob(ctx.db, job);
  try {
    await insertImage(
      ctx.db,
      newImageRow(
        {
          id: imageId,
          owner: project.id,
          name: req.name,
          status: 'saving',
          // Shared from the start when it is to be shared: Glance gives members only to shared images.
          visibility: shareWith.length > 0 ? 'shared' : 'private',
          disk_format: req.image.disk_format,
          container_format: req.image.container_format,
          size: req.image.size,
          virtual_size: req.image.virtual_size,
          checksum: req.image.checksum,
          os_hash_algo: req.image.os_hash_value ? (req.image.os_hash_algo ?? DEFAULT_OS_HASH_ALGO) : null,
          os_hash_value: req.image.os_hash_value,
          manifest_digest: req.image.manifest_digest,
          min_disk: req.image.min_disk,
          min_ram: req.image.min_ram,
          image_type: req.image.image_type,
          source_region: sourceRegion,
          source_image_id: req.source_image_id,
          replication_job_id: req.job_id,
        },
        now,
      ),
      req.image.tags,
      properties,
    );
    // The disks' backups, `creating` until the transfer ends: their place in the vault is taken now, and their
    // manifests are garbage-collection roots while their chunks arrive.
    if (vault && disks) {
      await insertBackups(
        ctx.db,
        disks.map((disk) => ({
          id: newUuid(),
          vault_id: vault.id,
          image_id: imageId,
          disk_index: disk.disk_index,
          status: 'creating',
          disk_format: disk.disk_format,
          size: disk.size,
          virtual_size: disk.virtual_size,
          checksum: disk.checksum,
          os_hash_algo: disk.os_hash_algo,
          os_hash_value: disk.os_hash_value,
          manifest_digest: disk.manifest_digest,
          created_at: now,
        })),
      );
    }
  } catch (error) {
    await deleteImage(ctx.db, imageId, now);
    await deleteJob(ctx.db, job.id);
    throw error;
  }
  ctx.jobEvents.dispatchEvent(new Event('queued'));
  return jobState(job);
}

/**
 * For a whole-server image: the vault its disks arrive in, which must be a vault of the destination project
 * here, of protection type `replication`, with room for them (CBR's rules); undefined for a disk image.
 */
async function replicationVaultFor(
  ctx: RegionContext,
  req: ReplicaRequest,
  projectId: string,
): Promise<VaultRow | undefined> {
  if (req.image.image_type !== 'full-server') return undefined;
  if (!req.disks?.length)
    throw new FerryError('VALIDATION_FAILED', 'A whole-server image comes with its disks.');
  if (!req.vault_id) {
    throw new FerryError(
      'REPLICATION_FULL_SERVER_NEEDS_VAULT',
      `Image ${req.source_image_id} is a whole-server image: name a vault of protection type replication in ${ctx.region} (vault_id).`,
    );
  }
  const vault = await findVault(ctx.db, req.vault_id);
  if (!vault || vault.project_id !== projectId) {
    throw new FerryError(
      'REPLICATION_VAULT_NOT_FOUND',
      `No vault ${req.vault_id} of the destination project exists in ${ctx.region}: create one of protection type replication there.`,
    );
  }
  checkVaultFor('replication', vault);
  const needed = req.disks.reduce((sum, disk) => sum + disk.size, 0);
  checkVaultSpace(vault, await vaultUsedBytes(ctx.db, vault.id), needed);
  return vault;
}

/** The replica job `jobId` that region `caller` asked this region for; else JOB_NOT_FOUND. */
export async function replicaJobFrom(ctx: RegionContext, caller: string, jobId: string): Promise<JobRow> {
  const job = await findJob(ctx.db, jobId);
  if (!job || job.role !== 'destination' || job.source_region !== caller) {
    throw new FerryError('JOB_NOT_FOUND', `No replica job ${jobId} from ${caller}.`);
  }
  return job;
}

/**
 * Cancels a replica job here: the job ends CANCELLED and its image leaves the list at once; the worker
 * notices at its next progress save and stops. Chunks it stored are left to garbage collection.
 * Returns the job's state; a finished job is left as it is.
 */
export async function cancelReplica(ctx: RegionContext, job: JobRow, reason: string): Promise<JobState> {
  if (isTerminal(job.status)) return jobState(job);
  const now = timestamp(ctx.clock);
  const cancelled = await updateJob(
    ctx.db,
    job.id,
    { role: job.role },
    {
      status: 'CANCELLED',
      cancel_requested: 1,
      current_task: '',
      fail_reason: reason,
      end_time: now,
      updated_at: now,
    },
  );
  if (cancelled && job.dest_image_id) await deleteImage(ctx.db, job.dest_image_id, now);
  return jobState((await findJob(ctx.db, job.id))!);
}
