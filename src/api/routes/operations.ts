/**
 * What an operator's tools ask every Ferry process, API or worker: is it alive (`/healthz`), can it serve
 * (`/readyz`: its database and blob store answer), and its figures (`/metrics`, Prometheus text format).
 * @module
 */
import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import type { RegionContext } from '../../region/context.js';
import { requireAdmin } from '../auth.js';

export function registerOperationsRoutes(app: FastifyInstance, ctx: RegionContext): void {
  const open = { config: { public: true } };
  app.get('/healthz', open, async () => ({ status: 'ok', region: ctx.region }));
  app.get('/readyz', open, async () => {
    await sql`select 1`.execute(ctx.db);
    await ctx.blobs.has('readyz'); // rejects if the blob store cannot be reached (an absent key is no error)
    return { status: 'ready', region: ctx.region };
  });
  // Figures of the whole region, so an administrator's (Prometheus sends it as Authorization: Bearer).
  app.get('/metrics', async (request, reply) => {
    requireAdmin(request);
    return reply.type(ctx.metrics.registry.contentType).send(await ctx.metrics.registry.metrics());
  });
}
