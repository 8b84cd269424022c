/**
 * Schemas of the image member routes (routes/members.ts), Glance's bodies.
 * @module
 */
import { Type, type Static } from 'typebox';
import { MEMBER_STATUSES } from '../../domain/image.js';
import { oneOf } from './common.js';

export const MemberParams = Type.Object({
  id: Type.String({ description: 'the image ID in the path' }),
  member: Type.String({ description: 'the member project ID in the path' }),
});
export type MemberParams = Static<typeof MemberParams>;

export const MemberBody = Type.Object({
  member: Type.String({ minLength: 1, description: 'the ID of a project of this region.' }),
});
export type MemberBody = Static<typeof MemberBody>;

export const MemberAnswerBody = Type.Object({ status: oneOf(MEMBER_STATUSES) });
export type MemberAnswerBody = Static<typeof MemberAnswerBody>;
