/**
 * Samples every account's image and vault storage in this region each hour (and at start), keeping each day's highest
 * total (store/storage-usage.ts), so that the usage report (replication/usage.ts) has a figure for every day.
 * @module
 */
import type { FastifyBaseLogger } from 'fastify';
import { timestamp } from '../store/clock.js';
import { currentStoredBytesByAccount, recordStoredBytes } from '../store/storage-usage.js';
import { startPeriodicTask, type PeriodicTask } from './periodic-task.js';
import type { RegionContext } from './context.js';

/** How often storage is sampled (default: hourly). */
export const STORAGE_SAMPLE_INTERVAL_MS = 60 * 60 * 1000;

export async function sampleStorageUsage(ctx: RegionContext): Promise<void> {
  const day = timestamp(ctx.clock).slice(0, 10);
  for (const [accountId, bytes] of await currentStoredBytesByAccount(ctx.db)) {
    await recordStoredBytes(ctx.db, accountId, day, bytes);
  }
}

export function startStorageUsageSampler(ctx: RegionContext, log: FastifyBaseLogger): PeriodicTask {
  return startPeriodicTask({
    name: 'storage usage sample',
    intervalMs: STORAGE_SAMPLE_INTERVAL_MS,
    runNow: true,
    log,
    run: () => sampleStorageUsage(ctx),
  });
}
