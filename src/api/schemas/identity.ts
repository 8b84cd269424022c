/**
 * Schemas of the identity API's requests (routes/identity.ts). Fields they do not name are let through, as
 * before these schemas: identity calls start nothing that a misspelt field could change.
 * @module
 */
import { Type, type Static } from 'typebox';
import { nullable, oneOf } from './common.js';

/** The policy an agency needs in the destination region to replicate into it. */
export const KNOWN_POLICIES = ['CrossCopyAgencyPolicy', 'CrossCopyAgencyCBRPolicy'] as const;

const Name = Type.String({
  pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$',
  description: "1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit.",
});

/** Identity is global but each region keeps its own copy: callers that create it in several regions pass the same id. */
const Id = Type.String({ pattern: '^[0-9a-f]{32}$', description: '32 hex digits.' });

const TtlSeconds = Type.Integer({
  minimum: 60,
  maximum: 366 * 24 * 3600,
  description: 'an integer from 60 to 31622400.',
});

export const TokenBody = Type.Object({
  description: Type.Optional(
    nullable(Type.String({ maxLength: 255, description: 'at most 255 characters.' })),
  ),
  ttl_seconds: Type.Optional(TtlSeconds),
});
export type TokenBody = Static<typeof TokenBody>;

export const AgencyBody = Type.Object({
  name: Name,
  id: Type.Optional(Id),
  policies: Type.Optional(
    Type.Array(
      Type.Object({
        region: Type.String({ description: 'a region of the catalog.' }),
        policy: oneOf(KNOWN_POLICIES),
      }),
      { description: 'a list of {region, policy}.' },
    ),
  ),
});
export type AgencyBody = Static<typeof AgencyBody>;

export const AccountBody = Type.Object({ name: Name, id: Type.Optional(Id) });
export type AccountBody = Static<typeof AccountBody>;

export const UserBody = Type.Object({
  name: Name,
  id: Type.Optional(Id),
  is_admin: Type.Optional(Type.Boolean({ description: 'true or false.' })),
});
export type UserBody = Static<typeof UserBody>;

export const ProjectBody = AccountBody;
export type ProjectBody = AccountBody;

export const AdminTokenBody = Type.Object({
  project_id: Type.String({ description: "a project of the user's account in this region." }),
  ttl_seconds: Type.Optional(TtlSeconds),
});
export type AdminTokenBody = Static<typeof AdminTokenBody>;

/** An administrator's change to a user: only whether it may authenticate, for now. */
export const UserPatchBody = Type.Object({
  enabled: Type.Boolean({ description: 'true or false.' }),
});
export type UserPatchBody = Static<typeof UserPatchBody>;

export const UserTokenParams = Type.Object({
  id: Type.String({ description: 'the user ID in the path' }),
  token: Type.String({ description: 'the token ID in the path (not its secret)' }),
});
export type UserTokenParams = Static<typeof UserTokenParams>;
