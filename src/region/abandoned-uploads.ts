/**
 * Ends uploads whose process died. An upload refreshes its heartbeat every third of the idle timeout
 * (api/routes/image-file.ts), and a live upload that sends nothing is cut off after the idle timeout, so an
 * image still `saving` with no heartbeat for three idle timeouts has no upload in any process of the region:
 * it is `killed`, as a cut upload's image is. Without this, a crash during an upload left its image `saving`
 * for ever, refusing every new upload of it.
 * @module
 */
import type { FastifyBaseLogger } from 'fastify';
import { uploadHeartbeatLifetimeMs } from '../config/limits.js';
import { transitionImage } from '../store/images.js';
import { endUploadHeartbeat, listAbandonedUploads } from '../store/upload-heartbeats.js';
import { timestamp } from '../store/clock.js';
import { startPeriodicTask, type PeriodicTask } from './periodic-task.js';
import type { RegionContext } from './context.js';

/** Kills the images of abandoned uploads (see the module); returns their IDs. */
export async function killAbandonedUploads(ctx: RegionContext): Promise<string[]> {
  const now = ctx.clock.now();
  const staleBefore = new Date(now.getTime() - uploadHeartbeatLifetimeMs(ctx.limits)).toISOString();
  const killed: string[] = [];
  for (const id of await listAbandonedUploads(ctx.db, staleBefore)) {
    if (await transitionImage(ctx.db, id, 'saving', 'killed', timestamp(ctx.clock))) killed.push(id);
    await endUploadHeartbeat(ctx.db, id);
  }
  return killed;
}

/** Runs killAbandonedUploads now and then every idle timeout (at least every second). */
export function startAbandonedUploadSweep(ctx: RegionContext, log: FastifyBaseLogger): PeriodicTask {
  return startPeriodicTask({
    name: 'sweep of abandoned uploads',
    intervalMs: Math.max(1000, ctx.limits.uploadIdleTimeoutMs),
    runNow: true,
    log,
    run: async () => {
      const killed = await killAbandonedUploads(ctx);
      if (killed.length > 0)
        log.warn({ images: killed }, 'uploads abandoned by a process that stopped: killed');
    },
  });
}
