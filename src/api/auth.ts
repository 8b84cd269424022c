/**
 * Request authentication: the token comes as `X-Auth-Token` (what OpenStack clients send) or
 * `Authorization: Bearer`. Routes marked public skip it.
 * @module
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { FerryError } from '../domain/errors.js';
import { authenticate, type Principal } from '../identity/tokens.js';
import type { RegionContext } from '../region/context.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | undefined;
  }
  interface FastifyContextConfig {
    /** The route answers without a token (versions, health, schemas). */
    public?: boolean;
  }
}

function tokenOf(request: FastifyRequest): string | undefined {
  const header = request.headers['x-auth-token'];
  if (typeof header === 'string' && header.length > 0) return header;
  const authorization = request.headers.authorization;
  if (authorization?.startsWith('Bearer ')) return authorization.slice('Bearer '.length).trim();
  return undefined;
}

export function registerAuth(app: FastifyInstance, ctx: RegionContext): void {
  app.decorateRequest('principal', undefined);
  app.addHook('onRequest', async (request) => {
    if (request.routeOptions.config.public) return;
    const secret = tokenOf(request);
    if (secret === undefined) {
      throw new FerryError('UNAUTHORIZED', 'This call needs a token: send it as X-Auth-Token.');
    }
    request.principal = await authenticate(ctx.db, ctx.clock, secret);
  });
}

/** The caller of an authenticated route. */
export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new FerryError('UNAUTHORIZED', 'This call needs a token.');
  return request.principal;
}

export function requireAdmin(request: FastifyRequest): Principal {
  const principal = principalOf(request);
  if (!principal.isAdmin) throw new FerryError('FORBIDDEN', 'Only an administrator may do this.');
  return principal;
}
