/**
 * Public routes clients call before anything else: API versions (OpenStack version discovery), the JSON
 * schemas, and the regions of the catalog with the pairs they may replicate along.
 * @module
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { IMAGE_SCHEMA, IMAGES_SCHEMA, MEMBER_SCHEMA, MEMBERS_SCHEMA } from '../schemas/image-schema.js';
import { replicationTargets } from '../../config/catalog.js';
import type { RegionContext } from '../../region/context.js';
import type { RegionList } from '../schemas/region.js';

/** Glance API versions Ferry answers for; the newest is CURRENT. */
const VERSIONS = ['2.9', '2.8', '2.7', '2.6', '2.5', '2.4', '2.3', '2.2', '2.1', '2.0'];

function versionsBody(request: FastifyRequest): unknown {
  const base = `${request.protocol}://${request.headers.host ?? request.hostname}`;
  return {
    versions: VERSIONS.map((id, i) => ({
      id: `v${id}`,
      status: i === 0 ? 'CURRENT' : 'SUPPORTED',
      links: [{ rel: 'self', href: `${base}/v2/` }],
    })),
  };
}

export function registerDiscoveryRoutes(app: FastifyInstance, ctx: RegionContext): void {
  const open = { config: { public: true } };
  // Glance answers the root with 300 Multiple Choices, which keystoneauth's discovery expects.
  // A browser is sent to the console; API clients get Glance's version list, as from Glance.
  app.get('/', open, async (request, reply) =>
    /\btext\/html\b/.test(request.headers.accept ?? '')
      ? reply.redirect('/console/')
      : reply.code(300).send(versionsBody(request)),
  );
  app.get('/versions', open, async (request) => versionsBody(request));
  app.get('/v2', open, async (request) => versionsBody(request));
  app.get('/v2/', open, async (request) => versionsBody(request));

  app.get('/v2/schemas/image', open, async () => IMAGE_SCHEMA);
  app.get('/v2/schemas/images', open, async () => IMAGES_SCHEMA);
  app.get('/v2/schemas/member', open, async () => MEMBER_SCHEMA);
  app.get('/v2/schemas/members', open, async () => MEMBERS_SCHEMA);

  // Glance's interoperable image import is not offered (data is uploaded with PUT /v2/images/{id}/file):
  // answered as a Glance with no import method enabled, so clients say so instead of failing on a 404.
  app.get('/v2/info/import', async () => ({
    'import-methods': { description: 'Import methods available.', type: 'array', value: [] },
  }));

  // The catalog as clients may have it (config/catalog.ts clientCatalog): no credential hashes.
  app.get('/v1/regions', open, async (): Promise<RegionList> => ({
    region: ctx.region,
    regions: ctx.catalog.regions.map((r) => ({
      name: r.name,
      display_name: r.display_name,
      endpoint: r.endpoint,
      replicates_to: replicationTargets(ctx.catalog, r.name),
    })),
  }));
}
