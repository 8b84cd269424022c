/**
 * Sends due webhook deliveries (replication/webhooks.ts) every `replication.webhookIntervalMs`.
 * @module
 */
import type { FastifyBaseLogger } from 'fastify';
import { sendDueDeliveries } from '../replication/webhooks.js';
import { startPeriodicTask, type PeriodicTask } from './periodic-task.js';
import type { RegionContext } from './context.js';

export function startWebhookSender(ctx: RegionContext, log: FastifyBaseLogger): PeriodicTask {
  return startPeriodicTask({
    name: 'webhook deliveries',
    intervalMs: ctx.replication.webhookIntervalMs,
    runNow: false,
    log,
    run: (signal) => sendDueDeliveries(ctx, signal),
  });
}
