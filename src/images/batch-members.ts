/**
 * IMS's batch sharing (`/v1/cloudimages/members`): images × projects added or removed by the owner, or
 * accepted or rejected by the recipient, in one call that IMS runs as a job. Ferry does each pair at once,
 * with the member rules of members.ts, and records the call as a finished job (`imsAddImageMembersJob`,
 * `imsDelImageMembersJob`, `imsUpdateImageMembersJob`) whose `fail_reason` names each pair refused: SUCCESS if
 * none was, else FAIL. IMS shares an owner's private image as it is; Ferry makes it `shared` first (Glance gives
 * members only to shared images).
 * @module
 */
import { FerryError, isFerryError } from '../domain/errors.js';
import { newHexId } from '../domain/ids.js';
import { JOB_TYPES, type JobStatus } from '../domain/job.js';
import type { MemberStatus } from '../domain/image.js';
import type { Principal } from '../identity/tokens.js';
import { timestamp } from '../store/clock.js';
import { updateImage } from '../store/images.js';
import { insertJob, newJobRow } from '../store/jobs.js';
import type { RegionContext } from '../region/context.js';
import { assertNotFrozen, loadOwnedImage } from './access.js';
import { addMember, answerMembership, removeMember, type MemberRef } from './members.js';

type BatchJobType =
  typeof JOB_TYPES.addMembers | typeof JOB_TYPES.deleteMembers | typeof JOB_TYPES.updateMembers;

/** Runs `each` on every pair and records the call as a finished job; resolves its ID. */
async function recordBatch(
  ctx: RegionContext,
  principal: Principal,
  jobType: BatchJobType,
  refs: MemberRef[],
  each: (ref: MemberRef) => Promise<unknown>,
): Promise<string> {
  const refusals: string[] = [];
  for (const ref of refs) {
    try {
      await each(ref);
    } catch (error) {
      if (!isFerryError(error)) throw error;
      refusals.push(`image ${ref.imageId}, project ${ref.memberId}: ${error.code}: ${error.message}`);
    }
  }
  const now = timestamp(ctx.clock);
  const status: JobStatus = refusals.length === 0 ? 'SUCCESS' : 'FAIL';
  const jobId = newHexId<string>();
  await insertJob(
    ctx.db,
    newJobRow(
      {
        id: jobId,
        job_type: jobType,
        role: 'local',
        status,
        account_id: principal.accountId,
        project_id: principal.projectId,
        user_id: principal.userId,
        source_region: ctx.region,
        source_image_id: refs[0]!.imageId,
        source_image_name: null,
        dest_region: ctx.region,
        image_name: '',
        manifest_digest: null,
        bytes_total: 0,
        attempts: 1,
        end_time: now,
        ...(status === 'FAIL'
          ? {
              error_code: 'MEMBERS_REFUSED',
              fail_reason: `${refusals.length} of ${refs.length} refused: ${refusals.join('; ')}`,
            }
          : {}),
      },
      now,
      1,
    ),
  );
  return jobId;
}

function pairs(images: readonly string[], projects: readonly string[]): MemberRef[] {
  return images.flatMap((imageId) => projects.map((memberId) => ({ imageId, memberId })));
}

/** The owner shares each image with each project (a private image becomes shared first). */
export function addMembersInBatch(
  ctx: RegionContext,
  principal: Principal,
  images: readonly string[],
  projects: readonly string[],
): Promise<string> {
  return recordBatch(ctx, principal, JOB_TYPES.addMembers, pairs(images, projects), async (ref) => {
    const image = await loadOwnedImage(ctx, principal, ref.imageId);
    assertNotFrozen(image);
    if (image.visibility === 'private') {
      await updateImage(ctx.db, image.id, { columns: { visibility: 'shared' } }, timestamp(ctx.clock));
    }
    await addMember(ctx, principal, ref);
  });
}

/** The owner stops sharing each image with each project. */
export function removeMembersInBatch(
  ctx: RegionContext,
  principal: Principal,
  images: readonly string[],
  projects: readonly string[],
): Promise<string> {
  return recordBatch(ctx, principal, JOB_TYPES.deleteMembers, pairs(images, projects), (ref) =>
    removeMember(ctx, principal, ref),
  );
}

/** The recipient (`projectId`, the caller's own project) accepts or rejects each image. */
export function answerMembersInBatch(
  ctx: RegionContext,
  principal: Principal,
  images: readonly string[],
  projectId: string,
  status: MemberStatus,
  vaultId?: string,
): Promise<string> {
  if (projectId !== principal.projectId) {
    throw new FerryError(
      'FORBIDDEN',
      'project_id must be your own project: only the member answers for itself.',
    );
  }
  return recordBatch(ctx, principal, JOB_TYPES.updateMembers, pairs(images, [projectId]), (ref) =>
    answerMembership(ctx, principal, ref, status, vaultId),
  );
}
