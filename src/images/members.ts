/**
 * Sharing an image with other projects (image members), with Glance's rules: only the owner adds or removes
 * members, and only of a `shared` image; only the member answers (pending → accepted/rejected); a member sees
 * only its own entry. Ferry adds IMS's rules: frozen and encrypted images are not shared, and a member must
 * be a project of this region.
 * @module
 */
import { FerryError } from '../domain/errors.js';
import type { MemberStatus } from '../domain/image.js';
import type { Principal } from '../identity/tokens.js';
import { timestamp } from '../store/clock.js';
import { findProject } from '../store/identity.js';
import type { ImageRecord } from '../store/images.js';
import {
  countMembers,
  deleteMember,
  findMember,
  insertMember,
  listMembers,
  updateMemberStatus,
  type MemberRow,
} from '../store/members.js';
import type { RegionContext } from '../region/context.js';
import { assertNotFrozen, isOwner, loadOwnedImage, loadVisibleImage } from './access.js';
import { checkVaultFor, checkVaultSpace, MAX_WHOLE_SERVER_MEMBERS } from '../domain/vault.js';
import { vaultUsedBytes } from '../store/vaults.js';
import { loadVault } from './vaults.js';

/** Glance's default image_member_quota. */
export const MAX_MEMBERS = 128;

/** Glance's rule for reading and answering memberships: only a `shared` image has members. */
function assertShared(image: ImageRecord): void {
  if (image.visibility !== 'shared') {
    throw new FerryError(
      'FORBIDDEN',
      `Image ${image.id} has visibility '${image.visibility}': only shared images have members.`,
    );
  }
}

/** One membership: a project `memberId` of the image `imageId`. */
export interface MemberRef {
  imageId: string;
  memberId: string;
}

function memberNotFound(imageId: string, memberId: string): FerryError {
  return new FerryError('MEMBER_NOT_FOUND', `Project ${memberId} is not a member of image ${imageId}.`);
}

/**
 * The membership `memberId` of the shared image `imageId`, as `principal` may see it: the owner sees every
 * member's entry, a member only its own. Another member's entry is not found, whether it exists or not:
 * members do not learn of each other.
 */
export async function findMembership(
  ctx: RegionContext,
  principal: Principal,
  { imageId, memberId }: MemberRef,
): Promise<{ image: ImageRecord; member: MemberRow }> {
  const image = await loadVisibleImage(ctx, principal, imageId);
  assertShared(image);
  if (!isOwner(image, principal) && memberId !== principal.projectId)
    throw memberNotFound(image.id, memberId);
  const member = await findMember(ctx.db, image.id, memberId);
  if (!member) throw memberNotFound(image.id, memberId);
  return { image, member };
}

/** The owner shares the image with another project of this region; the membership starts `pending`. */
export async function addMember(
  ctx: RegionContext,
  principal: Principal,
  { imageId, memberId }: MemberRef,
): Promise<MemberRow> {
  const image = await loadOwnedImage(ctx, principal, imageId);
  assertNotFrozen(image);
  assertShared(image);
  if (image.cmk_id !== null) throw new FerryError('FORBIDDEN', 'Encrypted images cannot be shared.');
  if (memberId === image.owner) throw new FerryError('VALIDATION_FAILED', 'The owner cannot be a member.');
  if ((await findProject(ctx.db, memberId))?.region !== ctx.region) {
    throw new FerryError('VALIDATION_FAILED', `No project ${memberId} exists in region ${ctx.region}.`);
  }
  if (await findMember(ctx.db, image.id, memberId)) {
    throw new FerryError('DUPLICATE', `Project ${memberId} is already a member of image ${image.id}.`);
  }
  const limit = image.image_type === 'full-server' ? MAX_WHOLE_SERVER_MEMBERS : MAX_MEMBERS;
  if ((await countMembers(ctx.db, image.id)) >= limit) {
    throw new FerryError(
      'LIMIT_EXCEEDED',
      image.image_type === 'full-server'
        ? `A whole-server image may be shared with at most ${limit} projects.`
        : `An image may be shared with at most ${limit} projects.`,
    );
  }
  const now = timestamp(ctx.clock);
  const member = {
    image_id: image.id,
    member_id: memberId,
    status: 'pending',
    created_at: now,
    updated_at: now,
    vault_id: null,
  };
  await insertMember(ctx.db, member);
  return member;
}

/** The memberships `principal` may see: all of them for the owner, its own for a member. */
export async function membersOf(
  ctx: RegionContext,
  viewer: Principal,
  imageId: string,
): Promise<MemberRow[]> {
  const image = await loadVisibleImage(ctx, viewer, imageId);
  assertShared(image);
  const members = await listMembers(ctx.db, image.id);
  return isOwner(image, viewer) ? members : members.filter((m) => m.member_id === viewer.projectId);
}

/**
 * The member itself accepts or rejects the image (or sets its answer back to pending). Accepting a
 * whole-server image names a vault of the member's (IMS's rule): a `backup` vault of its project here with
 * room for the image's disks; the membership keeps it.
 */
export async function answerMembership(
  ctx: RegionContext,
  principal: Principal,
  ref: MemberRef,
  status: MemberStatus,
  vaultId?: string,
): Promise<MemberRow> {
  const { image, member } = await findMembership(ctx, principal, ref);
  if (member.member_id !== principal.projectId) {
    throw new FerryError('FORBIDDEN', 'Only the member itself may accept or reject a shared image.');
  }
  let vault: string | null = null;
  if (image.image_type === 'full-server' && status === 'accepted') {
    if (vaultId === undefined) {
      throw new FerryError(
        'VAULT_REQUIRED',
        `Image ${image.id} is a whole-server image: accept it with vault_id, a vault of protection type backup of yours.`,
      );
    }
    const own = await loadVault(ctx, principal, vaultId);
    checkVaultFor('whole-server image', own);
    checkVaultSpace(own, await vaultUsedBytes(ctx.db, own.id), image.size ?? 0);
    vault = own.id;
  }
  const now = timestamp(ctx.clock);
  await updateMemberStatus(ctx.db, image.id, member.member_id, status, now, vault);
  return { ...member, status, updated_at: now, vault_id: vault };
}

/** The owner stops sharing the image with a project; a member cannot leave (it rejects instead). */
export async function removeMember(ctx: RegionContext, principal: Principal, ref: MemberRef): Promise<void> {
  const { imageId, memberId } = ref;
  const image = await loadVisibleImage(ctx, principal, imageId);
  if (!isOwner(image, principal)) {
    if (memberId === principal.projectId && (await findMember(ctx.db, image.id, memberId))) {
      throw new FerryError('FORBIDDEN', 'Only the owner may remove a member; reject the image instead.');
    }
    throw memberNotFound(image.id, memberId);
  }
  assertNotFrozen(image);
  if (!(await deleteMember(ctx.db, image.id, memberId))) throw memberNotFound(image.id, memberId);
}
