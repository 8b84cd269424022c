/**
 * Administrator storage operations: run garbage collection of the region's chunk store now.
 * @module
 */
import type { FastifyInstance } from 'fastify';
import { collectGarbage } from '../../blobs/gc.js';
import { FerryError } from '../../domain/errors.js';
import { requireAdmin } from '../auth.js';
import type { RegionContext } from '../context.js';

export function registerAdminStorageRoutes(app: FastifyInstance, ctx: RegionContext): void {
  app.post('/v1/admin/gc', async (request) => {
    const principal = requireAdmin(request);
    const grace = (request.body as { grace_seconds?: unknown } | undefined)?.grace_seconds;
    if (grace !== undefined && (typeof grace !== 'number' || !Number.isInteger(grace) || grace < 0)) {
      throw new FerryError('VALIDATION_FAILED', 'grace_seconds must be a non-negative integer.');
    }
    const report = await collectGarbage(ctx.db, ctx.chunks, ctx.blobs, {
      graceMs: grace === undefined ? ctx.limits.gcGraceMs : grace * 1000,
      now: ctx.clock.now(),
    });
    request.log.info({ audit: 'storage.gc', by: principal.userId, report }, 'garbage collection');
    return report;
  });
}
