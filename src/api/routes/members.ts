/**
 * Image members (sharing): Glance's routes, and IMS's batch calls (`/v1/cloudimages/members`); the rules are
 * images/members.ts's.
 * @module
 */
import type { FastifyInstance } from 'fastify';
import {
  addMember,
  answerMembership,
  findMembership,
  membersOf,
  removeMember,
} from '../../images/members.js';
import { addMembersInBatch, answerMembersInBatch, removeMembersInBatch } from '../../images/batch-members.js';
import { principalOf } from '../auth.js';
import { memberView } from '../image-view.js';
import { IdParams } from '../schemas/common.js';
import {
  BatchAnswerBody,
  BatchMembersBody,
  MemberAnswerBody,
  MemberBody,
  MemberParams,
} from '../schemas/members.js';
import type { RegionContext } from '../../region/context.js';

export function registerMemberRoutes(app: FastifyInstance, ctx: RegionContext): void {
  app.post<{ Params: { id: string }; Body: MemberBody }>(
    '/v2/images/:id/members',
    { schema: { params: IdParams, body: MemberBody } },
    async (request) => {
      const principal = principalOf(request);
      const member = await addMember(ctx, principal, {
        imageId: request.params.id,
        memberId: request.body.member,
      });
      request.log.info(
        { audit: 'member.add', image: member.image_id, member: member.member_id, by: principal.userId },
        'shared',
      );
      return memberView(member);
    },
  );

  app.get<{ Params: { id: string } }>(
    '/v2/images/:id/members',
    { schema: { params: IdParams } },
    async (request) => {
      const members = await membersOf(ctx, principalOf(request), request.params.id);
      return { members: members.map(memberView), schema: '/v2/schemas/members' };
    },
  );

  app.get<{ Params: MemberParams }>(
    '/v2/images/:id/members/:member',
    { schema: { params: MemberParams } },
    async (request) => {
      const { id: imageId, member: memberId } = request.params;
      return memberView((await findMembership(ctx, principalOf(request), { imageId, memberId })).member);
    },
  );

  app.put<{ Params: MemberParams; Body: MemberAnswerBody }>(
    '/v2/images/:id/members/:member',
    { schema: { params: MemberParams, body: MemberAnswerBody } },
    async (request) => {
      const principal = principalOf(request);
      const { id: imageId, member: memberId } = request.params;
      const answered = await answerMembership(
        ctx,
        principal,
        { imageId, memberId },
        request.body.status,
        request.body.vault_id,
      );
      request.log.info(
        { audit: 'member.update', image: answered.image_id, status: answered.status, by: principal.userId },
        'member answered',
      );
      return memberView(answered);
    },
  );

  app.delete<{ Params: MemberParams }>(
    '/v2/images/:id/members/:member',
    { schema: { params: MemberParams } },
    async (request, reply) => {
      const principal = principalOf(request);
      const { id: imageId, member: memberId } = request.params;
      await removeMember(ctx, principal, { imageId, memberId });
      request.log.info(
        { audit: 'member.remove', image: imageId, member: memberId, by: principal.userId },
        'unshared',
      );
      return reply.code(204).send();
    },
  );

  // IMS's batch calls: each answers a job ID, the job finished at once (images/batch-members.ts).
  const batch = { tags: ['Image members (IMS)'] };
  app.post<{ Body: BatchMembersBody }>(
    '/v1/cloudimages/members',
    { schema: { ...batch, summary: 'Share images with projects (IMS, as a job)', body: BatchMembersBody } },
    async (request) => ({
      job_id: await addMembersInBatch(ctx, principalOf(request), request.body.images, request.body.projects),
    }),
  );
  app.delete<{ Body: BatchMembersBody }>(
    '/v1/cloudimages/members',
    {
      schema: {
        ...batch,
        summary: 'Stop sharing images with projects (IMS, as a job)',
        body: BatchMembersBody,
      },
    },
    async (request) => ({
      job_id: await removeMembersInBatch(
        ctx,
        principalOf(request),
        request.body.images,
        request.body.projects,
      ),
    }),
  );
  app.put<{ Body: BatchAnswerBody }>(
    '/v1/cloudimages/members',
    {
      schema: {
        ...batch,
        summary: 'Accept or reject images shared with you (IMS, as a job)',
        body: BatchAnswerBody,
      },
    },
    async (request) => {
      const { images, project_id: projectId, status, vault_id: vaultId } = request.body;
      return {
        job_id: await answerMembersInBatch(ctx, principalOf(request), images, projectId, status, vaultId),
      };
    },
  );
}
