/**
 * Runs garbage collection of the region's chunk store on a timer (one run at a time).
 * @module
 */
import type { FastifyBaseLogger } from 'fastify';
import { collectRegionGarbage } from '../images/storage-maintenance.js';
import { optimizeDatabase } from '../store/db.js';
import { startPeriodicTask, type PeriodicTask } from './periodic-task.js';
import type { RegionContext } from './context.js';

export function startPeriodicGc(ctx: RegionContext, log: FastifyBaseLogger): PeriodicTask {
  return startPeriodicTask({
    name: 'garbage collection',
    intervalMs: ctx.limits.gcIntervalMs,
    log,
    run: async () => {
      const report = await collectRegionGarbage(ctx, ctx.limits.gcGraceMs);
      log.info({ gc: report }, 'garbage collection done');
      await optimizeDatabase(ctx.db); // the planner's statistics, refreshed as SQLite asks (store/db.ts)
    },
  });
}
