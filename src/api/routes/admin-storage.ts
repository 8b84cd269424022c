/**
 * Administrator storage operations on the region's chunk store, now rather than on their timers: garbage
 * collection, and a scrub that verifies every stored chunk (blobs/scrub.ts).
 * @module
 */
import type { FastifyInstance } from 'fastify';
import { foundDamage } from '../../blobs/scrub.js';
import { collectRegionGarbage, scrubRegion } from '../../images/storage-maintenance.js';
import { principalOf } from '../auth.js';
import { adminOnly, bodyOrEmpty } from '../route-hooks.js';
import { GcBody, ScrubBody } from '../schemas/admin.js';
import type { RegionContext } from '../../region/context.js';

export function registerAdminStorageRoutes(app: FastifyInstance, ctx: RegionContext): void {
  app.post<{ Body: GcBody }>(
    '/v1/admin/gc',
    { onRequest: adminOnly, preValidation: bodyOrEmpty, schema: { body: GcBody } },
    async (request) => {
      const grace = request.body.grace_seconds;
      const report = await collectRegionGarbage(
        ctx,
        grace === undefined ? ctx.limits.gcGraceMs : grace * 1000,
      );
      request.log.info(
        { audit: 'storage.gc', by: principalOf(request).userId, report },
        'garbage collection',
      );
      return report;
    },
  );

  app.post<{ Body: ScrubBody }>(
    '/v1/admin/scrub',
    { onRequest: adminOnly, preValidation: bodyOrEmpty, schema: { body: ScrubBody } },
    async (request) => {
      // No cap unless asked: an administrator who asks for a scrub wants its answer.
      const report = await scrubRegion(ctx, { bytesPerSecond: request.body.bytes_per_second ?? null });
      const entry = { audit: 'storage.scrub', by: principalOf(request).userId, report };
      if (foundDamage(report)) request.log.error(entry, 'scrub found damaged data');
      else request.log.info(entry, 'scrub');
      return report;
    },
  );
}
