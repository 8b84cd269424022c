/**
 * Identity API: who am I, my tokens, my account's projects and agencies, and the administrator's accounts,
 * users, projects and tokens. Identity is global but each region keeps its own copy: callers that create an
 * account in several regions pass the same ids (`id`) to each.
 * @module
 */
import type { FastifyInstance } from 'fastify';
import {
  accountWithMembers,
  createAccount,
  createProject,
  createUser,
  projectsHere,
  whoIs,
} from '../../identity/accounts.js';
import { agenciesOf, createAgency, findAgency, removeAgency } from '../../identity/agencies.js';
import { tokensOf } from '../../identity/tokens.js';
import {
  issueTokenEverywhere,
  issueUserToken,
  revokeTokenEverywhere,
  type SpreadToken,
} from '../../replication/token-copies.js';
import {
  revokeAllUserTokens,
  revokeUserToken,
  setUserEnabledEverywhere,
  userTokens,
} from '../../replication/user-admin.js';
import { listAccounts, type Agency, type Token, type User } from '../../store/identity.js';
import type { IdentityDelivery } from '../../store/identity-deliveries.js';
import { principalOf } from '../auth.js';
import type { RegionContext } from '../../region/context.js';
import { IdParams } from '../schemas/common.js';
import { adminOnly, bodyOrEmpty } from '../route-hooks.js';
import {
  AccountBody,
  AdminTokenBody,
  AgencyBody,
  ProjectBody,
  TokenBody,
  UserBody,
  UserPatchBody,
  UserTokenParams,
} from '../schemas/identity.js';

function tokenView(token: Token): Record<string, unknown> {
  return {
    id: token.id,
    user_id: token.user_id,
    project_id: token.project_id,
    description: token.description,
    created_at: token.created_at,
    expires_at: token.expires_at,
    revoked: token.revoked_at !== null,
  };
}

/** A new token: shown with its secret, once, and the regions where it works. */
function issuedView({ token, secret, spread }: SpreadToken): Record<string, unknown> {
  return {
    ...tokenView(token),
    secret,
    regions: spread.regions,
    ...(spread.notReached.length > 0 ? { not_reached: spread.notReached } : {}),
  };
}

/** A user as the API shows it: `is_admin` and `enabled` booleans (stored as 0/1, the portable flag). */
function userView(user: User): Record<string, unknown> {
  return {
    id: user.id,
    account_id: user.account_id,
    name: user.name,
    is_admin: user.is_admin === 1,
    enabled: user.enabled === 1,
    created_at: user.created_at,
  };
}

/** A change another region has not acknowledged yet: where it is owed and how its delivery goes. */
function undeliveredView(delivery: IdentityDelivery): Record<string, unknown> {
  return {
    region: delivery.region,
    kind: delivery.kind,
    changed_at: delivery.changed_at,
    attempts: delivery.attempts,
    next_at: delivery.next_at,
    last_error: delivery.last_error,
  };
}

function agencyView(agency: Agency): Record<string, unknown> {
  return { id: agency.id, name: agency.name, created_at: agency.created_at, policies: agency.policies };
}

export function registerIdentityRoutes(app: FastifyInstance, ctx: RegionContext): void {
  app.get('/v1/auth/whoami', async (request) => {
    const principal = principalOf(request);
    const { user, project, account } = await whoIs(ctx, principal);
    return {
      region: ctx.region,
      user: { id: user?.id, name: user?.name, is_admin: principal.isAdmin },
      account: { id: account?.id, name: account?.name },
      project: { id: project?.id, name: project?.name, region: project?.region },
      token: { id: principal.tokenId },
    };
  });

  app.get('/v1/projects', async (request) => ({ projects: await projectsHere(ctx, principalOf(request)) }));

  app.post<{ Body: TokenBody }>(
    '/v1/tokens',
    { preValidation: bodyOrEmpty, schema: { body: TokenBody } },
    async (request, reply) => {
      const issued = await issueTokenEverywhere(ctx, principalOf(request), request.body);
      return reply.code(201).send(issuedView(issued));
    },
  );

  app.get('/v1/tokens', async (request) => ({
    tokens: (await tokensOf(ctx, principalOf(request))).map(tokenView),
  }));

  app.delete<{ Params: { id: string } }>('/v1/tokens/:id', async (request, reply) => {
    await revokeTokenEverywhere(ctx, principalOf(request), request.params.id);
    return reply.code(204).send();
  });

  app.get('/v1/agencies', async (request) => ({
    agencies: (await agenciesOf(ctx, principalOf(request))).map(agencyView),
  }));

  app.post<{ Body: AgencyBody }>(
    '/v1/agencies',
    { preValidation: bodyOrEmpty, schema: { body: AgencyBody } },
    async (request, reply) => {
      const agency = await createAgency(ctx, principalOf(request), request.body);
      return reply.code(201).send(agencyView(agency));
    },
  );

  app.get<{ Params: { name: string } }>('/v1/agencies/:name', async (request) =>
    agencyView(await findAgency(ctx, principalOf(request), request.params.name)),
  );

  app.delete<{ Params: { name: string } }>('/v1/agencies/:name', async (request, reply) => {
    await removeAgency(ctx, principalOf(request), request.params.name);
    return reply.code(204).send();
  });

  // Administrator routes: the administrator check comes before the body is read.
  app.get('/v1/admin/accounts', { onRequest: adminOnly }, async () => ({
    accounts: await listAccounts(ctx.db),
  }));

  app.post<{ Body: AccountBody }>(
    '/v1/admin/accounts',
    { onRequest: adminOnly, preValidation: bodyOrEmpty, schema: { body: AccountBody } },
    async (request, reply) => reply.code(201).send(await createAccount(ctx, request.body)),
  );

  app.get<{ Params: { id: string } }>('/v1/admin/accounts/:id', { onRequest: adminOnly }, async (request) => {
    const { account, users, projects } = await accountWithMembers(ctx, request.params.id);
    return { ...account, users: users.map(userView), projects };
  });

  app.post<{ Params: { id: string }; Body: UserBody }>(
    '/v1/admin/accounts/:id/users',
    { onRequest: adminOnly, preValidation: bodyOrEmpty, schema: { params: IdParams, body: UserBody } },
    async (request, reply) =>
      reply.code(201).send(userView(await createUser(ctx, request.params.id, request.body))),
  );

  app.post<{ Params: { id: string }; Body: ProjectBody }>(
    '/v1/admin/accounts/:id/projects',
    { onRequest: adminOnly, preValidation: bodyOrEmpty, schema: { params: IdParams, body: ProjectBody } },
    async (request, reply) => reply.code(201).send(await createProject(ctx, request.params.id, request.body)),
  );

  app.post<{ Params: { id: string }; Body: AdminTokenBody }>(
    '/v1/admin/users/:id/tokens',
    { onRequest: adminOnly, preValidation: bodyOrEmpty, schema: { params: IdParams, body: AdminTokenBody } },
    async (request, reply) =>
      reply.code(201).send(issuedView(await issueUserToken(ctx, request.params.id, request.body))),
  );

  // Another user's tokens and state; every change reaches every region (replication/user-admin.ts).
  app.get<{ Params: { id: string } }>(
    '/v1/admin/users/:id/tokens',
    { onRequest: adminOnly, schema: { params: IdParams } },
    async (request) => {
      const { tokens, undelivered } = await userTokens(ctx, request.params.id);
      return { tokens: tokens.map(tokenView), undelivered: undelivered.map(undeliveredView) };
    },
  );

  app.delete<{ Params: UserTokenParams }>(
    '/v1/admin/users/:id/tokens/:token',
    { onRequest: adminOnly, schema: { params: UserTokenParams } },
    async (request, reply) => {
      await revokeUserToken(ctx, request.params.id, request.params.token);
      return reply.code(204).send();
    },
  );

  app.delete<{ Params: { id: string } }>(
    '/v1/admin/users/:id/tokens',
    { onRequest: adminOnly, schema: { params: IdParams } },
    async (request, reply) => {
      await revokeAllUserTokens(ctx, request.params.id);
      return reply.code(204).send();
    },
  );

  app.patch<{ Params: { id: string }; Body: UserPatchBody }>(
    '/v1/admin/users/:id',
    { onRequest: adminOnly, preValidation: bodyOrEmpty, schema: { params: IdParams, body: UserPatchBody } },
    async (request) =>
      userView(
        await setUserEnabledEverywhere(ctx, principalOf(request), request.params.id, request.body.enabled),
      ),
  );
}
