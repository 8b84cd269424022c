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

export const MemberAnswerBody = Type.Object({
  status: oneOf(MEMBER_STATUSES),
  /** IMS's extension: the member's vault, when it accepts a whole-server image. */
  vault_id: Type.Optional(
    Type.String({ minLength: 1, maxLength: 64, description: 'a vault ID of this region.' }),
  ),
});
export type MemberAnswerBody = Static<typeof MemberAnswerBody>;

const IdList = (what: string) =>
  Type.Array(Type.String({ minLength: 1, maxLength: 64 }), {
    minItems: 1,
    maxItems: 100,
    uniqueItems: true,
    description: `a list of 1 to 100 distinct ${what}.`,
  });

/** IMS's `POST` and `DELETE /v1/cloudimages/members`: every image × every project. */
export const BatchMembersBody = Type.Object(
  { images: IdList('image IDs'), projects: IdList('project IDs of this region') },
  { additionalProperties: false },
);
export type BatchMembersBody = Static<typeof BatchMembersBody>;

/** IMS's `PUT /v1/cloudimages/members`: the recipient's answer for each image (`vault_id`: whole-server images). */
export const BatchAnswerBody = Type.Object(
  {
    images: IdList('image IDs'),
    project_id: Type.String({ minLength: 1, maxLength: 64, description: 'your own project ID.' }),
    status: oneOf(['accepted', 'rejected'] as const),
    vault_id: Type.Optional(
      Type.String({ minLength: 1, maxLength: 64, description: 'a vault ID of this region.' }),
    ),
  },
  { additionalProperties: false },
);
export type BatchAnswerBody = Static<typeof BatchAnswerBody>;
