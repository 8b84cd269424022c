/**
 * Changes to an image's record by its owner (update, delete, deactivate, reactivate) and by an administrator
 * (freeze, unfreeze). Each refuses an image that is frozen or that a replication reads or writes
 * (access.ts, loadChangeableImage).
 * @module
 */
import { FerryError } from '../domain/errors.js';
import type { ImageStatus } from '../domain/image.js';
import type { Principal } from '../identity/tokens.js';
import { timestamp } from '../store/clock.js';
import { findProject } from '../store/identity.js';
import {
  deleteImage,
  findImage,
  transitionImage,
  updateImage,
  type ImageChanges,
  type ImageRecord,
} from '../store/images.js';
import type { RegionContext } from '../region/context.js';
import { assertChangeable, loadChangeableImage, loadOwnedImage, notFound } from './access.js';
import { assertMetadataQuota } from './quotas.js';

async function reload(ctx: RegionContext, id: string): Promise<ImageRecord> {
  const image = await findImage(ctx.db, id);
  if (!image) throw notFound(id);
  return image;
}

/**
 * Applies the changes `change` makes of the image as it is now (a Glance JSON patch: api/image-patch.ts) and
 * returns the image as stored.
 */
export async function updateImageRecord(
  ctx: RegionContext,
  principal: Principal,
  id: string,
  change: (image: ImageRecord) => ImageChanges,
): Promise<ImageRecord> {
  const image = await loadChangeableImage(ctx, principal, id);
  const changes = change(image);
  const owner = changes.columns?.owner;
  if (owner !== undefined && !(await findProject(ctx.db, owner))) {
    throw new FerryError('VALIDATION_FAILED', `Owner ${owner} is not a project of this region.`);
  }
  assertMetadataQuota(propertiesAfter(image.properties, changes), changes.tags ?? image.tags);
  await updateImage(ctx.db, image.id, changes, timestamp(ctx.clock));
  return reload(ctx, image.id);
}

/** The image's free-form properties once `changes` are applied. */
function propertiesAfter(properties: Readonly<Record<string, string>>, changes: ImageChanges) {
  const after = { ...properties, ...changes.setProperties };
  for (const name of changes.removeProperties ?? []) delete after[name];
  return after;
}

/** Deletes an image (its ID is never reused); a protected one must be unprotected first. */
export async function deleteOwnImage(
  ctx: RegionContext,
  principal: Principal,
  id: string,
): Promise<ImageRecord> {
  const image = await loadOwnedImage(ctx, principal, id);
  if (image.protected === 1) {
    throw new FerryError('IMAGE_PROTECTED', `Image ${image.id} is protected: set protected=false first.`);
  }
  await assertChangeable(ctx, image);
  await deleteImage(ctx.db, image.id, timestamp(ctx.clock));
  return image;
}

/**
 * Glance's deactivate (`active` → `deactivated`) and reactivate (back); nothing to do if the image is there
 * already. Returns the image if it moved.
 */
export async function changeImageStatus(
  ctx: RegionContext,
  principal: Principal,
  id: string,
  action: { name: string; from: ImageStatus; to: ImageStatus },
): Promise<ImageRecord | undefined> {
  const image = await loadChangeableImage(ctx, principal, id);
  if (image.status === action.to) return undefined;
  // Compare-and-set: an upload or delete that moved the image meanwhile wins.
  const moved =
    image.status === action.from &&
    (await transitionImage(ctx.db, image.id, action.from, action.to, timestamp(ctx.clock)));
  if (!moved) {
    throw new FerryError(
      'INVALID_STATUS_TRANSITION',
      `Cannot ${action.name} image ${image.id} in status '${image.status}'.`,
    );
  }
  return image;
}

/**
 * An administrator's hold: a frozen image cannot be changed, shared or replicated, and the replications of it
 * already under way stop (their replicas leave the destination).
 */
export async function setImageFrozen(ctx: RegionContext, id: string, frozen: boolean): Promise<ImageRecord> {
  const image = await findImage(ctx.db, id);
  if (!image) throw notFound(id);
  await updateImage(ctx.db, image.id, { columns: { frozen: frozen ? 1 : 0 } }, timestamp(ctx.clock));
  if (frozen) await ctx.imageReplications.cancelAllReading(image.id);
  return image;
}
