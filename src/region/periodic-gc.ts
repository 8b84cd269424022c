/**
 * Runs garbage collection of the region's chunk store on a timer (one run at a time).
 * @module
 */
import type { FastifyBaseLogger } from 'fastify';
import type { RegionContext } from '../api/context.js';
import { collectGarbage } from '../blobs/gc.js';
import { coerceError } from '../domain/errors.js';

export function startPeriodicGc(ctx: RegionContext, log: FastifyBaseLogger): NodeJS.Timeout {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    collectGarbage(ctx.db, ctx.chunks, ctx.blobs, { graceMs: ctx.limits.gcGraceMs, now: ctx.clock.now() })
      .then((report) => log.info({ gc: report }, 'garbage collection done'))
      .catch((error: unknown) => log.error({ err: coerceError(error) }, 'garbage collection failed'))
      .finally(() => (running = false));
  }, ctx.limits.gcIntervalMs);
  timer.unref();
  return timer;
}
