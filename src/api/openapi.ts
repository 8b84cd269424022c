/**
 * The region's OpenAPI 3 document, generated from the route schemas (`@fastify/swagger` collects every route
 * as it is registered) and served at `GET /openapi.json`. The region-to-region calls (`/internal/v1`) are
 * left out: they are no client's API.
 * @module
 */
import swagger from '@fastify/swagger';
import type { FastifyInstance } from 'fastify';
import { ROUTE_DOCS, ROUTE_QUERIES, ROUTE_RESPONSES } from './route-docs.js';
import { ErrorBody } from './schemas/common.js';

const TOKEN_HEADER = 'x-auth-token';

/** Every route registered on each app, as `METHOD url` (what the document must cover). */
const routesOf = new WeakMap<FastifyInstance, string[]>();

/**
 * Whether a route stays out of the document: HEAD (GET's twin), the region-to-region calls, the document
 * itself and the console's pages (a web app, not an API).
 */
function undocumented(method: string, url: string): boolean {
  return (
    method === 'HEAD' ||
    url.startsWith('/internal/') ||
    url === '/openapi.json' ||
    url === '/console' ||
    url.startsWith('/console/')
  );
}

/** The routes registered on `app` after registerOpenApi that the document must cover. */
export function documentedRoutes(app: FastifyInstance): string[] {
  return (routesOf.get(app) ?? []).filter((route) => {
    const [method, url] = route.split(' ') as [string, string];
    return !undocumented(method, url);
  });
}

/** Registers the document's collector; call before any route is registered. */
export async function registerOpenApi(app: FastifyInstance, region: string): Promise<void> {
  const routes: string[] = [];
  routesOf.set(app, routes);
  app.addHook('onRoute', (route) => {
    for (const method of [route.method].flat()) routes.push(`${method} ${route.url}`);
  });
  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: `Ferry image service, region ${region}`,
        description:
          'The OpenStack Glance v2 image API, the IMS-shaped replication API and Ferry’s identity and ' +
          'administration calls of one region. Every call but discovery takes a token in X-Auth-Token ' +
          '(or Authorization: Bearer). Errors are {"error": {code, message, title, status}} (docs/errors.md).',
        version: '1',
      },
      components: {
        securitySchemes: { token: { type: 'apiKey', in: 'header', name: TOKEN_HEADER } },
      },
      security: [{ token: [] }],
    },
    hideUntagged: false,
    transform: ({ schema, url, route }) => {
      const method = [route.method].flat()[0]!;
      const hidden = undocumented(method, url);
      const key = `${method} ${route.url}`;
      const docs = ROUTE_DOCS[key];
      const answers = Object.fromEntries(
        Object.entries(ROUTE_RESPONSES[key] ?? {}).map(([status, body]) => [
          status,
          { ...body, description: status === '201' ? 'Created' : 'OK' },
        ]),
      );
      const base: Record<string, unknown> = {
        ...(docs ? { summary: docs.summary, tags: [docs.tag] } : {}),
        ...(ROUTE_QUERIES[key] ? { querystring: ROUTE_QUERIES[key] } : {}),
        ...((schema ?? {}) as Record<string, unknown>),
      };
      const publicRoute = (route.config as { public?: boolean } | undefined)?.public === true;
      return {
        url,
        schema: {
          ...base,
          ...(hidden ? { hide: true } : {}),
          ...(publicRoute ? { security: [] } : {}),
          response: (base.response as Record<string, unknown> | undefined) ?? {
            ...answers,
            default: {
              ...ErrorBody,
              description: 'An error (docs/errors.md)',
            },
          },
        },
      };
    },
  });
  app.get('/openapi.json', { config: { public: true } }, async () => app.swagger());
}
