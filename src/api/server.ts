/**
 * One region's HTTP API: a Fastify app with Ferry's error hook, authentication and every route.
 * Errors leave as `{"error": {"code", "message", "title", "status"}}`; unexpected ones become a logged 500.
 * @module
 */
import Fastify, { type FastifyError, type FastifyInstance } from 'fastify';
import { ERROR_CODES, FerryError, imsCodeOf, type ErrorCode } from '../domain/errors.js';
import { registerAuth } from './auth.js';
import type { RegionContext } from './context.js';
import { registerDiscoveryRoutes } from './routes/discovery.js';
import { registerIdentityRoutes } from './routes/identity.js';
import { registerImageFileRoutes } from './routes/image-file.js';
import { registerImageRoutes } from './routes/images.js';
import { registerMemberRoutes } from './routes/members.js';
import { registerInternalRoutes } from './routes/internal.js';
import { registerReplicationRoutes } from './routes/replication.js';
import { registerAdminStorageRoutes } from './routes/admin-storage.js';
import { IMAGE_DATA_MEDIA_TYPE, JSON_PATCH_MEDIA_TYPES } from './media-type.js';

export interface ServerOptions {
  /** Fastify's logger option: false (tests), true (JSON lines on stdout), or a pino config. */
  logger?: boolean | Record<string, unknown>;
}

/** Largest JSON body accepted (image data never goes through the JSON parser). */
const JSON_BODY_LIMIT = 1024 * 1024;

export function errorBody(code: ErrorCode, message: string, details?: Record<string, unknown>): unknown {
  const { status, title } = ERROR_CODES[code];
  const imsCode = imsCodeOf(code);
  return {
    error: {
      code,
      message,
      title,
      status,
      ...(imsCode ? { ims_code: imsCode } : {}),
      ...(details ? { details } : {}),
    },
  };
}

/** Maps Fastify's own errors (bad JSON, wrong content type, too large) to Ferry codes. */
function codeOfFastifyError(error: FastifyError): ErrorCode | undefined {
  switch (error.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return 'INVALID_JSON';
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return 'UNSUPPORTED_MEDIA_TYPE';
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return 'PAYLOAD_TOO_LARGE';
    case 'FST_ERR_VALIDATION':
      return 'VALIDATION_FAILED';
  }
  if (error instanceof SyntaxError) return 'INVALID_JSON';
  return undefined;
}

export async function createRegionServer(
  ctx: RegionContext,
  options: ServerOptions = {},
): Promise<FastifyInstance> {
  const app = Fastify({
    logger: options.logger ?? false,
    bodyLimit: JSON_BODY_LIMIT,
    // Image uploads of many GiB take minutes; the socket's own timeouts guard against idle peers.
    requestTimeout: 0,
    // A tag in PUT /v2/images/{id}/tags/{tag} may be 255 characters, up to 12 URL-encoded bytes each: longer
    // than Fastify's default of 100, past which the route would not match at all (a 404 "no route").
    routerOptions: { maxParamLength: 4096 },
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false } },
  });

  const jsonParser = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser([...JSON_PATCH_MEDIA_TYPES], { parseAs: 'string' }, jsonParser);
  // Image data is streamed by the file route itself, never buffered by a parser.
  app.addContentTypeParser(IMAGE_DATA_MEDIA_TYPE, (_request, payload, done) => done(null, payload));

  app.setErrorHandler((error: FastifyError | FerryError, request, reply) => {
    if (error instanceof FerryError) {
      if (error.status >= 500) request.log.error({ err: error }, error.message);
      return reply.code(error.status).send(errorBody(error.code, error.message, error.details));
    }
    const code = codeOfFastifyError(error);
    if (code === 'UNSUPPORTED_MEDIA_TYPE') {
      const type = request.headers['content-type'] ?? 'none given';
      const message = `The body's Content-Type (${type}) is not one this call accepts.`;
      return reply.code(ERROR_CODES[code].status).send(errorBody(code, message));
    }
    if (code) return reply.code(ERROR_CODES[code].status).send(errorBody(code, error.message));
    request.log.error({ err: error }, 'unexpected error');
    return reply.code(500).send(errorBody('INTERNAL_ERROR', 'Ferry could not complete the request.'));
  });
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send(errorBody('NOT_FOUND', `No route ${request.method} ${request.url.split('?')[0]}.`)),
  );

  registerAuth(app, ctx);
  registerDiscoveryRoutes(app, ctx);
  registerImageRoutes(app, ctx);
  registerImageFileRoutes(app, ctx);
  registerMemberRoutes(app, ctx);
  registerIdentityRoutes(app, ctx);
  registerReplicationRoutes(app, ctx);
  registerInternalRoutes(app, ctx);
  registerAdminStorageRoutes(app, ctx);
  return app;
}
