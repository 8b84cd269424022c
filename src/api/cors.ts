/**
 * Cross-origin calls from the console (api/routes/console.ts): the console served by one region calls every
 * region of the catalog, each at its own origin. A region answers the origins of the catalog's regions (a
 * loopback endpoint by either of its names, 127.0.0.1 or localhost), and no other: a page elsewhere cannot
 * use a visitor's token. Credentials travel in `X-Auth-Token`, never in cookies.
 * @module
 */
import cors from '@fastify/cors';
import type { FastifyInstance } from 'fastify';
import type { RegionContext } from '../region/context.js';

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]']);

/** The origins a region answers: each catalog endpoint's, with its loopback aliases. */
export function consoleOrigins(endpoints: readonly string[]): Set<string> {
  const origins = new Set<string>();
  for (const endpoint of endpoints) {
    const url = new URL(endpoint);
    origins.add(url.origin);
    if (LOOPBACK.has(url.hostname)) {
      for (const host of LOOPBACK) origins.add(`${url.protocol}//${host}${url.port ? `:${url.port}` : ''}`);
    }
  }
  return origins;
}

export async function registerCors(app: FastifyInstance, ctx: RegionContext): Promise<void> {
  // Read at each request: a deployment on system-chosen ports learns its regions' endpoints after they start.
  const allowed = () => consoleOrigins(ctx.catalog.regions.map((r) => r.endpoint));
  await app.register(cors, {
    origin: (origin, done) => done(null, origin !== undefined && allowed().has(origin)),
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
    allowedHeaders: ['x-auth-token', 'content-type', 'x-client-token', 'range'],
    exposedHeaders: ['x-openstack-request-id', 'content-range', 'content-md5', 'location'],
    maxAge: 600,
  });
}
