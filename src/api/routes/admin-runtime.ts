/**
 * The region process's own figures for administrators (lib/runtime-stats.ts): memory, and the event
 * loop's delay over a window that `POST …/reset` ends and restarts.
 * @module
 */
import type { FastifyInstance } from 'fastify';
import { resetRuntimeStats, runtimeStats } from '../../lib/runtime-stats.js';
import { requireAdmin } from '../auth.js';

export function registerAdminRuntimeRoutes(app: FastifyInstance): void {
  app.get('/v1/admin/runtime', async (request) => {
    requireAdmin(request);
    return runtimeStats();
  });

  app.post('/v1/admin/runtime/reset', async (request) => {
    requireAdmin(request);
    return resetRuntimeStats();
  });
}
