/**
 * Identity API: who am I, my tokens, my account's projects and agencies, and the administrator's accounts,
 * users, projects and tokens. Identity is global but each region keeps its own copy: callers that create an
 * account in several regions pass the same ids (`id`) to each.
 * @module
 */
import type { FastifyInstance } from 'fastify';
import { FerryError } from '../../domain/errors.js';
import { newHexId } from '../../domain/ids.js';
import { issueToken } from '../../identity/tokens.js';
import { copyTokenToPeers, revokeTokenInPeers, type TokenSpread } from '../../replication/token-copies.js';
import {
  deleteAgency,
  findAccount,
  findAccountByName,
  findAgencyByName,
  findProject,
  findUser,
  insertAccount,
  insertAgency,
  insertProject,
  insertUser,
  listAccounts,
  listAgencies,
  listProjects,
  listTokens,
  listUsers,
  revokeToken,
  type Agency,
  type User,
  type Token,
} from '../../store/identity.js';
import { principalOf, requireAdmin } from '../auth.js';
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
function issuedView(token: Token, secret: string, spread: TokenSpread): Record<string, unknown> {
  return {
    ...tokenView(token),
    secret,
    regions: spread.regions,
    ...(spread.notReached.length > 0 ? { not_reached: spread.notReached } : {}),
  };
}

/** A user as the API shows it: `is_admin` a boolean (stored as 0/1, the portable flag). */
function userView(user: User): Record<string, unknown> {
  return { ...user, is_admin: user.is_admin === 1 };
}

function agencyView(agency: Agency): Record<string, unknown> {
  return { id: agency.id, name: agency.name, created_at: agency.created_at, policies: agency.policies };
}

/** Turns a unique-constraint failure into a 409 with a message. */
async function unique<T>(work: () => Promise<T>, message: string): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (/unique|duplicate/i.test(String(error))) throw new FerryError('DUPLICATE', message);
    throw error;
  }
}

export function registerIdentityRoutes(app: FastifyInstance, ctx: RegionContext): void {
  app.get('/v1/auth/whoami', async (request) => {
    const principal = principalOf(request);
    const [user, project, account] = await Promise.all([
      findUser(ctx.db, principal.userId),
      findProject(ctx.db, principal.projectId),
      findAccount(ctx.db, principal.accountId),
    ]);
    return {
      region: ctx.region,
      user: { id: user?.id, name: user?.name, is_admin: principal.isAdmin },
      account: { id: account?.id, name: account?.name },
      project: { id: project?.id, name: project?.name, region: project?.region },
      token: { id: principal.tokenId },
    };
  });

  app.get('/v1/projects', async (request) => {
    const principal = principalOf(request);
    const projects = await listProjects(ctx.db, principal.accountId);
    return { projects: projects.filter((p) => p.region === ctx.region) };
  });

  app.post<{ Body: TokenBody }>(
    '/v1/tokens',
    { preValidation: bodyOrEmpty, schema: { body: TokenBody } },
    async (request, reply) => {
      const principal = principalOf(request);
      const { secret, token } = await issueToken(ctx.db, ctx.clock, {
        userId: principal.userId,
        projectId: principal.projectId,
        description: request.body.description ?? '',
        ttlSeconds: request.body.ttl_seconds,
        notAfter: principal.expiresAt, // as Keystone: a token cannot outlive the one that made it
        parentHash: principal.secretHash, // nor survive its revocation
      });
      // It works wherever the token that made it works, in the same projects (token-regions.ts).
      const spread = await copyTokenToPeers(ctx, token, { parent_secret_hash: principal.secretHash });
      return reply.code(201).send(issuedView(token, secret, spread));
    },
  );

  app.get('/v1/tokens', async (request) => {
    const principal = principalOf(request);
    return { tokens: (await listTokens(ctx.db, principal.userId)).map(tokenView) };
  });

  app.delete<{ Params: { id: string } }>('/v1/tokens/:id', async (request, reply) => {
    const principal = principalOf(request);
    const secretHash = await revokeToken(ctx.db, ctx.clock, principal.userId, request.params.id);
    if (secretHash === undefined) {
      throw new FerryError('NOT_FOUND', `You have no token ${request.params.id}.`);
    }
    // A token has a row in every region it works in: revoke the same secret everywhere (token-regions.ts).
    const unreached = await revokeTokenInPeers(ctx, principal.userId, secretHash);
    if (unreached.length > 0) {
      throw new FerryError(
        'REGION_UNREACHABLE',
        `Token ${request.params.id} is revoked in ${ctx.region}, but ${unreached.join(', ')} could not be reached: revoke it again to finish.`,
        { not_reached: unreached },
      );
    }
    return reply.code(204).send();
  });

  app.get('/v1/agencies', async (request) => {
    const principal = principalOf(request);
    return { agencies: (await listAgencies(ctx.db, principal.accountId)).map(agencyView) };
  });

  app.post<{ Body: AgencyBody }>(
    '/v1/agencies',
    { preValidation: bodyOrEmpty, schema: { body: AgencyBody } },
    async (request, reply) => {
      const principal = principalOf(request);
      const { name } = request.body;
      const regions = new Set(ctx.catalog.regions.map((r) => r.name));
      const parsed = (request.body.policies ?? []).map(({ region, policy }, i) => {
        if (!regions.has(region)) {
          throw new FerryError('VALIDATION_FAILED', `policies[${i}].region must be a region of the catalog.`);
        }
        return { region, policy };
      });
      const unique_ = [...new Map(parsed.map((p) => [`${p.region}/${p.policy}`, p])).values()];
      const agency = await unique(
        () =>
          insertAgency(ctx.db, ctx.clock, {
            id: request.body.id ?? newHexId(),
            account_id: principal.accountId,
            name,
            policies: unique_,
          }),
        request.body.id !== undefined
          ? `Your account already has an agency named ${name}, or the id is taken: leave id out to get a new one.`
          : `Your account already has an agency named ${name}.`,
      );
      return reply.code(201).send(agencyView(agency));
    },
  );

  app.get<{ Params: { name: string } }>('/v1/agencies/:name', async (request) => {
    const principal = principalOf(request);
    const agency = await findAgencyByName(ctx.db, principal.accountId, request.params.name);
    if (!agency)
      throw new FerryError('NOT_FOUND', `Your account has no agency named ${request.params.name}.`);
    return agencyView(agency);
  });

  app.delete<{ Params: { name: string } }>('/v1/agencies/:name', async (request, reply) => {
    const principal = principalOf(request);
    if (!(await deleteAgency(ctx.db, principal.accountId, request.params.name))) {
      throw new FerryError('NOT_FOUND', `Your account has no agency named ${request.params.name}.`);
    }
    return reply.code(204).send();
  });

  // Administrator routes.
  app.get('/v1/admin/accounts', async (request) => {
    requireAdmin(request);
    return { accounts: await listAccounts(ctx.db) };
  });

  app.post<{ Body: AccountBody }>(
    '/v1/admin/accounts',
    { onRequest: adminOnly, preValidation: bodyOrEmpty, schema: { body: AccountBody } },
    async (request, reply) => {
      const { name } = request.body;
      if (await findAccountByName(ctx.db, name)) throw new FerryError('DUPLICATE', `Account ${name} exists.`);
      const account = await unique(
        () => insertAccount(ctx.db, ctx.clock, { id: request.body.id ?? newHexId(), name }),
        `Account ${name} exists.`,
      );
      return reply.code(201).send(account);
    },
  );

  app.get<{ Params: { id: string } }>('/v1/admin/accounts/:id', async (request) => {
    requireAdmin(request);
    const account = await findAccount(ctx.db, request.params.id);
    if (!account) throw new FerryError('NOT_FOUND', `No account ${request.params.id}.`);
    const [users, projects] = await Promise.all([
      listUsers(ctx.db, account.id).then((users) => users.map(userView)),
      listProjects(ctx.db, account.id),
    ]);
    return { ...account, users, projects };
  });

  app.post<{ Params: { id: string }; Body: UserBody }>(
    '/v1/admin/accounts/:id/users',
    { onRequest: adminOnly, preValidation: bodyOrEmpty, schema: { params: IdParams, body: UserBody } },
    async (request, reply) => {
      const account = await findAccount(ctx.db, request.params.id);
      if (!account) throw new FerryError('NOT_FOUND', `No account ${request.params.id}.`);
      const { name } = request.body;
      const user = await unique(
        () =>
          insertUser(ctx.db, ctx.clock, {
            id: request.body.id ?? newHexId(),
            account_id: account.id,
            name,
            is_admin: request.body.is_admin ?? false,
          }),
        `Account ${account.name} already has a user ${name}.`,
      );
      return reply.code(201).send(userView(user));
    },
  );

  app.post<{ Params: { id: string }; Body: ProjectBody }>(
    '/v1/admin/accounts/:id/projects',
    { onRequest: adminOnly, preValidation: bodyOrEmpty, schema: { params: IdParams, body: ProjectBody } },
    async (request, reply) => {
      const account = await findAccount(ctx.db, request.params.id);
      if (!account) throw new FerryError('NOT_FOUND', `No account ${request.params.id}.`);
      const { name } = request.body;
      const project = await unique(
        () =>
          insertProject(ctx.db, ctx.clock, {
            id: request.body.id ?? newHexId(),
            account_id: account.id,
            region: ctx.region,
            name,
          }),
        `Account ${account.name} already has a project ${name} in ${ctx.region}.`,
      );
      return reply.code(201).send(project);
    },
  );

  app.post<{ Params: { id: string }; Body: AdminTokenBody }>(
    '/v1/admin/users/:id/tokens',
    { onRequest: adminOnly, preValidation: bodyOrEmpty, schema: { params: IdParams, body: AdminTokenBody } },
    async (request, reply) => {
      const user = await findUser(ctx.db, request.params.id);
      if (!user) throw new FerryError('NOT_FOUND', `No user ${request.params.id}.`);
      const project = await findProject(ctx.db, request.body.project_id);
      if (!project || project.account_id !== user.account_id || project.region !== ctx.region) {
        throw new FerryError(
          'VALIDATION_FAILED',
          `project_id must be a project of the user's account in ${ctx.region}.`,
        );
      }
      const { secret, token } = await issueToken(ctx.db, ctx.clock, {
        userId: user.id,
        projectId: project.id,
        ttlSeconds: request.body.ttl_seconds,
      });
      // It works in every region where the user has a project of this name (else one named after the region).
      const spread = await copyTokenToPeers(ctx, token, { project_name: project.name });
      return reply.code(201).send(issuedView(token, secret, spread));
    },
  );
}
