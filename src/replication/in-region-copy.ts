/**
 * In-region copy (IMS CopyImageInRegion): a new image in the same region that shares the source's chunks
 * (its row points at the same manifest), so no data is copied. Also how the recipient of an accepted shared
 * image turns it into its own private image. Optionally encrypted with a key id (`cmk_id`).
 * @module
 */
import { isOwner, loadVisibleImage } from '../images/access.js';
import { FerryError } from '../domain/errors.js';
import { newHexId, newUuid, type Digest } from '../domain/ids.js';
import { distinctDigests } from '../domain/manifest.js';
import { JOB_TYPES } from '../domain/job.js';
import type { Principal } from '../identity/tokens.js';
import { copyProperties } from '../domain/image.js';
import { timestamp } from '../store/clock.js';
import { recordAccountChunks } from '../store/account-chunks.js';
import { insertImage } from '../store/images.js';
import { insertJob, newJobRow } from '../store/jobs.js';
import { findMember } from '../store/members.js';
import { assertNewImageFits } from '../images/quotas.js';
import type { RegionContext } from '../region/context.js';
import { jobOrigin } from './job-origin.js';

export interface InRegionCopyRequest {
  name: string;
  description?: string;
  cmkId?: string;
}

export async function copyInRegion(
  ctx: RegionContext,
  principal: Principal,
  imageId: string,
  request: InRegionCopyRequest,
): Promise<{ jobId: string; imageId: string }> {
  const image = await loadVisibleImage(ctx, principal, imageId);
  if (!isOwner(image, principal)) {
    const member = await findMember(ctx.db, image.id, principal.projectId);
    if (image.visibility !== 'shared' || member?.status !== 'accepted') {
      throw new FerryError('FORBIDDEN', `Accept the shared image ${image.id} before copying it.`);
    }
    if (image.cmk_id !== null)
      throw new FerryError('FORBIDDEN', 'An encrypted shared image cannot be copied.');
  }
  if (image.image_type === 'full-server') {
    throw new FerryError(
      'WHOLE_SERVER_IMAGE',
      `Image ${image.id} is a whole-server image: IMS copies whole-server images only across regions.`,
    );
  }
  if (image.disk_format === 'iso' || image.image_type === 'iso') {
    // The same codes as a cross-region copy gives for the same refusals.
    throw new FerryError(
      'REPLICATION_ISO',
      `Image ${image.id} is an ISO image: ISO images cannot be copied.`,
    );
  }
  if (image.frozen === 1) {
    throw new FerryError(
      'REPLICATION_FROZEN',
      `Image ${image.id} is frozen: ask an administrator to unfreeze it.`,
    );
  }
  if (image.status !== 'active' || image.manifest_digest === null) {
    throw new FerryError(
      'REPLICATION_IMAGE_UNAVAILABLE',
      `Image ${image.id} is ${image.status}: only active images can be copied.`,
    );
  }
  if ((image.size ?? 0) > ctx.replication.limits.maxImageBytes) {
    throw new FerryError(
      'REPLICATION_TOO_LARGE',
      `Image ${image.id} is larger than ${ctx.replication.limits.maxImageBytes} bytes.`,
    );
  }
  const { tags, properties: sourceProperties, ...row } = image;
  const properties = copyProperties(sourceProperties, request.description);
  await assertNewImageFits(ctx, principal.projectId, properties, tags);
  // The copy's account now holds the source's chunks (see store/account-chunks.ts).
  const manifest = await ctx.chunks.getManifest(image.manifest_digest as Digest);
  await recordAccountChunks(ctx.db, principal.accountId, distinctDigests(manifest));
  const now = timestamp(ctx.clock);
  const jobId = newHexId<string>();
  const copyId = newUuid<string>();
  await insertImage(
    ctx.db,
    {
      ...row,
      id: copyId,
      owner: principal.projectId,
      name: request.name,
      status: 'active',
      visibility: 'private',
      protected: 0,
      frozen: 0,
      cmk_id: request.cmkId ?? null,
      created_at: now,
      updated_at: now,
      source_region: ctx.region,
      source_image_id: image.id,
      replication_job_id: jobId,
    },
    tags,
    properties,
  );
  await insertJob(
    ctx.db,
    newJobRow(
      {
        id: jobId,
        job_type: JOB_TYPES.inRegion,
        role: 'local',
        status: 'SUCCESS',
        ...jobOrigin(ctx, principal, image),
        dest_region: ctx.region,
        dest_project_id: principal.projectId,
        dest_image_id: copyId,
        image_name: request.name,
        description: request.description ?? '',
        cmk_id: request.cmkId ?? null,
        bytes_skipped_present: image.size ?? 0,
        attempts: 1,
        end_time: now,
      },
      now,
      1,
    ),
  );
  return { jobId, imageId: copyId };
}
