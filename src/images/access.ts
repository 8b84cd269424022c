/**
 * Who may see and change one image. An image the caller may not see is reported as not found, never as
 * forbidden, so nobody learns that another account's image exists.
 * @module
 */
import { FerryError } from '../domain/errors.js';
import type { MemberStatus } from '../domain/image.js';
import { inSets, needsMembership, readableSets } from '../domain/visibility.js';
import type { Principal } from '../identity/tokens.js';
import { findImage, type ImageRecord } from '../store/images.js';
import { findMember } from '../store/members.js';
import type { RegionContext } from '../region/context.js';

export function notFound(id: string): FerryError {
  return new FerryError('IMAGE_NOT_FOUND', `No image with ID ${id} was found.`);
}

export function isOwner(image: ImageRecord, principal: Principal): boolean {
  return principal.isAdmin || image.owner === principal.projectId;
}

/** The image if the caller may read it (domain/visibility.ts): owner, admin, public/community, or a member. */
export async function loadVisibleImage(
  ctx: RegionContext,
  principal: Principal,
  id: string,
): Promise<ImageRecord> {
  const image = await findImage(ctx.db, id);
  if (!image) throw notFound(id);
  const sets = readableSets(principal);
  if (inSets(sets, image, principal, undefined)) return image;
  const membership = needsMembership(sets) ? await findMember(ctx.db, id, principal.projectId) : undefined;
  if (membership && inSets(sets, image, principal, membership.status as MemberStatus)) return image;
  throw notFound(id);
}

/** The image if the caller owns it; a visible image the caller doesn't own is forbidden to change. */
export async function loadOwnedImage(
  ctx: RegionContext,
  principal: Principal,
  id: string,
): Promise<ImageRecord> {
  const image = await loadVisibleImage(ctx, principal, id);
  if (!isOwner(image, principal)) {
    throw new FerryError('FORBIDDEN', `Only the owner of image ${id} may change it.`);
  }
  return image;
}

/** Frozen images are held by an administrator: refuse any change until it is unfrozen. */
export function assertNotFrozen(image: ImageRecord): void {
  if (image.frozen === 1) {
    throw new FerryError(
      'IMAGE_FROZEN',
      `Image ${image.id} is frozen by an administrator and cannot be changed, shared or replicated.`,
    );
  }
}

/**
 * Refuses a change to an image that is frozen, that a replication reads (source), or that a replication still
 * writes (a replica in `saving`: its name and data belong to the job until it ends).
 */
export async function assertChangeable(ctx: RegionContext, image: ImageRecord): Promise<void> {
  assertNotFrozen(image);
  if (image.status === 'saving' && image.replication_job_id !== null) {
    throw new FerryError(
      'IMAGE_IN_USE',
      `Image ${image.id} is being replicated into this region: wait for the copy to end, or cancel it (cancel_copy).`,
    );
  }
  await ctx.imageReplications.assertNoneReading(image.id);
}

/** The image if the caller owns it and may change it now (assertChangeable). */
export async function loadChangeableImage(
  ctx: RegionContext,
  principal: Principal,
  id: string,
): Promise<ImageRecord> {
  const image = await loadOwnedImage(ctx, principal, id);
  await assertChangeable(ctx, image);
  return image;
}
