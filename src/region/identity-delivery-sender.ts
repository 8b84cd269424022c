/**
 * Sends the identity changes other regions have not acknowledged yet (replication/identity-deliveries.ts)
 * every `replication.identityDeliveryIntervalMs`, and once at start: changes queued while this process was
 * down, or while a region was, go out without waiting.
 * @module
 */
import type { FastifyBaseLogger } from 'fastify';
import { sendDueIdentityDeliveries } from '../replication/identity-deliveries.js';
import { startPeriodicTask, type PeriodicTask } from './periodic-task.js';
import type { RegionContext } from './context.js';

export function startIdentityDeliverySender(ctx: RegionContext, log: FastifyBaseLogger): PeriodicTask {
  return startPeriodicTask({
    name: 'identity deliveries',
    intervalMs: ctx.replication.identityDeliveryIntervalMs,
    runNow: true,
    log,
    run: (signal) => sendDueIdentityDeliveries(ctx, signal),
  });
}
