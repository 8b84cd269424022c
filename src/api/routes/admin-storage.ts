/**
 * Administrator storage operations on the region's chunk store, now rather than on their timers: garbage
 * collection, and a scrub that verifies every stored chunk (blobs/scrub.ts).
 * @module
 */
import type { FastifyInstance } from 'fastify';
import { foundDamage } from '../../blobs/scrub.js';
import { collectRegionGarbage, scrubRegion } from '../../images/storage-maintenance.js';
import { FerryError } from '../../domain/errors.js';
import { requireAdmin } from '../auth.js';
import type { RegionContext } from '../../region/context.js';

export function registerAdminStorageRoutes(app: FastifyInstance, ctx: RegionContext): void {
  app.post('/v1/admin/gc', async (request) => {
    const principal = requireAdmin(request);
    const grace = (request.body as { grace_seconds?: unknown } | undefined)?.grace_seconds;
    if (grace !== undefined && (typeof grace !== 'number' || !Number.isInteger(grace) || grace < 0)) {
      throw new FerryError('VALIDATION_FAILED', 'grace_seconds must be a non-negative integer.');
    }
    const report = await collectRegionGarbage(ctx, grace === undefined ? ctx.limits.gcGraceMs : grace * 1000);
    request.log.info({ audit: 'storage.gc', by: principal.userId, report }, 'garbage collection');
    return report;
  });

  app.post('/v1/admin/scrub', async (request) => {
    const principal = requireAdmin(request);
    const rate = (request.body as { bytes_per_second?: unknown } | undefined)?.bytes_per_second;
    if (
      rate !== undefined &&
      rate !== null &&
      (typeof rate !== 'number' || !Number.isInteger(rate) || rate < 1)
    ) {
      throw new FerryError(
        'VALIDATION_FAILED',
        'bytes_per_second must be a positive integer, or null for no cap.',
      );
    }
    // No cap unless asked: an administrator who asks for a scrub wants its answer.
    const report = await scrubRegion(ctx, { bytesPerSecond: rate ?? null });
    const entry = { audit: 'storage.scrub', by: principal.userId, report };
    if (foundDamage(report)) request.log.error(entry, 'scrub found damaged data');
    else request.log.info(entry, 'scrub');
    return report;
  });
}
