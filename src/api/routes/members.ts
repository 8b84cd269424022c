/**
 * Image members (sharing), with Glance's rules: only the owner adds or removes members, and only of a
 * `shared` image; only the member answers (pending → accepted/rejected); a member sees only its own entry.
 * Ferry adds IMS's rules: frozen and encrypted images are not shared, and a member must be a project of
 * this region.
 * @module
 */
import type { FastifyInstance } from 'fastify';
import { FerryError } from '../../domain/errors.js';
import { MEMBER_STATUSES } from '../../domain/image.js';
import { timestamp } from '../../store/clock.js';
import { findProject } from '../../store/identity.js';
import {
  countMembers,
  deleteMember,
  findMember,
  insertMember,
  listMembers,
  type MemberRow,
  updateMemberStatus,
} from '../../store/members.js';
import { principalOf } from '../auth.js';
import { assertNotFrozen, isOwner, loadOwnedImage, loadVisibleImage } from '../../images/access.js';
import { memberView } from '../image-view.js';
import type { ImageRecord } from '../../store/images.js';
import type { Principal } from '../../identity/tokens.js';
import type { RegionContext } from '../../region/context.js';

/** Glance's default image_member_quota. */
export const MAX_MEMBERS = 128;

type Params = { id: string; member: string };

/** Glance's rule for reading and answering memberships: only a `shared` image has members. */
function assertShared(image: ImageRecord): void {
  if (image.visibility !== 'shared') {
    throw new FerryError(
      'FORBIDDEN',
      `Image ${image.id} has visibility '${image.visibility}': only shared images have members.`,
    );
  }
}

function memberNotFound(imageId: string, memberId: string): FerryError {
  return new FerryError('MEMBER_NOT_FOUND', `Project ${memberId} is not a member of image ${imageId}.`);
}

/**
 * The membership `params.member` of the shared image `params.id`, as `principal` may see it: the owner sees
 * every member's entry, a member only its own. Another member's entry is not found, whether it exists or
 * not: members do not learn of each other.
 */
async function loadMembership(
  ctx: RegionContext,
  principal: Principal,
  params: Params,
): Promise<{ image: ImageRecord; member: MemberRow }> {
  const image = await loadVisibleImage(ctx, principal, params.id);
  assertShared(image);
  if (!isOwner(image, principal) && params.member !== principal.projectId)
    throw memberNotFound(image.id, params.member);
  const member = await findMember(ctx.db, image.id, params.member);
  if (!member) throw memberNotFound(image.id, params.member);
  return { image, member };
}

export function registerMemberRoutes(app: FastifyInstance, ctx: RegionContext): void {
  app.post<{ Params: Params }>('/v2/images/:id/members', async (request) => {
    const principal = principalOf(request);
    const image = await loadOwnedImage(ctx, principal, request.params.id);
    assertNotFrozen(image);
    const body = request.body as { member?: unknown } | null;
    const memberId = body?.member;
    if (typeof body !== 'object' || body === null || typeof memberId !== 'string' || memberId.length === 0) {
      throw new FerryError('VALIDATION_FAILED', 'Send {"member": "<project id>"}.');
    }
    assertShared(image);
    if (image.cmk_id !== null) throw new FerryError('FORBIDDEN', 'Encrypted images cannot be shared.');
    if (memberId === image.owner) throw new FerryError('VALIDATION_FAILED', 'The owner cannot be a member.');
    if ((await findProject(ctx.db, memberId))?.region !== ctx.region) {
      throw new FerryError('VALIDATION_FAILED', `No project ${memberId} exists in region ${ctx.region}.`);
    }
    if (await findMember(ctx.db, image.id, memberId)) {
      throw new FerryError('DUPLICATE', `Project ${memberId} is already a member of image ${image.id}.`);
    }
    if ((await countMembers(ctx.db, image.id)) >= MAX_MEMBERS) {
      throw new FerryError('LIMIT_EXCEEDED', `An image may be shared with at most ${MAX_MEMBERS} projects.`);
    }
    const now = timestamp(ctx.clock);
    const member = {
      image_id: image.id,
      member_id: memberId,
      status: 'pending',
      created_at: now,
      updated_at: now,
    };
    await insertMember(ctx.db, member);
    request.log.info(
      { audit: 'member.add', image: image.id, member: memberId, by: principal.userId },
      'shared',
    );
    return memberView(member);
  });

  app.get<{ Params: Params }>('/v2/images/:id/members', async (request) => {
    const principal = principalOf(request);
    const image = await loadVisibleImage(ctx, principal, request.params.id);
    assertShared(image);
    const members = await listMembers(ctx.db, image.id);
    const visible = isOwner(image, principal)
      ? members
      : members.filter((m) => m.member_id === principal.projectId);
    return { members: visible.map(memberView), schema: '/v2/schemas/members' };
  });

  app.get<{ Params: Params }>('/v2/images/:id/members/:member', async (request) => {
    const { member } = await loadMembership(ctx, principalOf(request), request.params);
    return memberView(member);
  });

  app.put<{ Params: Params }>('/v2/images/:id/members/:member', async (request) => {
    const principal = principalOf(request);
    const { image, member } = await loadMembership(ctx, principal, request.params);
    const memberId = member.member_id;
    if (memberId !== principal.projectId) {
      throw new FerryError('FORBIDDEN', 'Only the member itself may accept or reject a shared image.');
    }
    const status = (request.body as { status?: unknown } | null)?.status;
    if (typeof status !== 'string' || !(MEMBER_STATUSES as readonly string[]).includes(status)) {
      throw new FerryError('VALIDATION_FAILED', 'status must be pending, accepted or rejected.');
    }
    const now = timestamp(ctx.clock);
    await updateMemberStatus(ctx.db, image.id, memberId, status, now);
    request.log.info(
      { audit: 'member.update', image: image.id, status, by: principal.userId },
      'member answered',
    );
    return memberView({ ...member, status, updated_at: now });
  });

  app.delete<{ Params: Params }>('/v2/images/:id/members/:member', async (request, reply) => {
    const principal = principalOf(request);
    const image = await loadVisibleImage(ctx, principal, request.params.id);
    const memberId = request.params.member;
    if (!isOwner(image, principal)) {
      if (memberId === principal.projectId && (await findMember(ctx.db, image.id, memberId))) {
        throw new FerryError('FORBIDDEN', 'Only the owner may remove a member; reject the image instead.');
      }
      throw memberNotFound(image.id, memberId);
    }
    assertNotFrozen(image);
    if (!(await deleteMember(ctx.db, image.id, memberId))) throw memberNotFound(image.id, memberId);
    request.log.info(
      { audit: 'member.remove', image: image.id, member: memberId, by: principal.userId },
      'unshared',
    );
    return reply.code(204).send();
  });
}
