/**
 * The web console (`console/`, built into `dist/console` by `npm run build`), served by every region at
 * `/console/`: its files as they are (hashed assets cached for good), and index.html for any other path under
 * it, since the console names its view in the path (`/console/<region>/<view>`). No token: the console signs
 * in against the API itself. A region whose console was not built says so.
 * @module
 */
import { existsSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { FerryError } from '../../domain/errors.js';

/** dist/console, three folders up from this module in src/ and in dist/ alike. */
export const CONSOLE_DIR = fileURLToPath(new URL('../../../dist/console/', import.meta.url));

const open = { config: { public: true } };

export async function registerConsoleRoutes(app: FastifyInstance): Promise<void> {
  // Only reply.sendFile (the `send` library: types, ranges, ETags, no path escapes); the routes are below.
  await app.register(fastifyStatic, { root: CONSOLE_DIR, serve: false });

  const index = (reply: FastifyReply) => {
    if (!existsSync(`${CONSOLE_DIR}index.html`)) {
      throw new FerryError('SERVICE_UNAVAILABLE', 'The console is not built here: run npm run build.');
    }
    return reply.header('cache-control', 'no-cache').sendFile('index.html', { cacheControl: false });
  };

  app.get('/console', open, async (_request, reply) => reply.redirect('/console/'));
  app.get('/console/', open, async (_request, reply) => index(reply));
  app.get<{ Params: { '*': string } }>('/console/*', open, async (request, reply) => {
    const path = request.params['*'];
    const file = `${CONSOLE_DIR}${path}`;
    if (path.startsWith('assets/') && !path.includes('..') && existsSync(file) && statSync(file).isFile()) {
      return reply
        .header('cache-control', 'public, max-age=31536000, immutable')
        .sendFile(path, { cacheControl: false });
    }
    if (path.startsWith('assets/')) {
      throw new FerryError('NOT_FOUND', `No console file ${path}.`);
    }
    return index(reply);
  });
}
