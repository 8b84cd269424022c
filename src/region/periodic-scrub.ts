/**
 * Scrubs the region's chunk store on a timer (blobs/scrub.ts), paced to `limits.scrubBytesPerSecond`, and
 * logs what it found: damaged images as errors, for the operator to act on.
 * @module
 */
import type { FastifyBaseLogger } from 'fastify';
import { foundDamage } from '../blobs/scrub.js';
import { scrubRegion } from '../images/storage-maintenance.js';
import { startPeriodicTask, type PeriodicTask } from './periodic-task.js';
import type { RegionContext } from './context.js';

export function startPeriodicScrub(ctx: RegionContext, log: FastifyBaseLogger): PeriodicTask {
  return startPeriodicTask({
    name: 'scrub',
    intervalMs: ctx.limits.scrubIntervalMs,
    log,
    run: async (signal) => {
      const report = await scrubRegion(ctx, {
        bytesPerSecond: ctx.limits.scrubBytesPerSecond,
        signal,
      });
      if (foundDamage(report)) log.error({ scrub: report }, 'scrub found damaged data');
      else log.info({ scrub: report }, 'scrub done');
    },
  });
}
