/**
 * One region's HTTP API: a Fastify app with Ferry's error hook, authentication and every route.
 * Errors leave as `{"error": {"code", "message", "title", "status"}}`; unexpected ones become a logged 500.
 * @module
 */
import type { Socket } from 'node:net';
import Fastify, {
  type FastifyError,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from 'fastify';
import { ERROR_CODES, FerryError, imsCodeOf, type ErrorCode } from '../domain/errors.js';
import { registerAuth } from './auth.js';
import { registerOpenApi } from './openapi.js';
import { formatSchemaError } from './schema-errors.js';
import { answerExpectContinue } from './expect-continue.js';
import { answerOnSocket } from './socket-answer.js';
import {
  DisconnectAwareLogController,
  isClientDisconnect,
  logClientDisconnect,
} from './client-disconnects.js';
import { guardSlowClients } from './slow-clients.js';
import { refuseNulCharacters } from './nul-characters.js';
import { registerDiscoveryRoutes } from './routes/discovery.js';
import { registerOperationsRoutes } from './routes/operations.js';
import { registerBccRoutes } from './routes/bcc.js';
import { registerEventRoutes } from './routes/events.js';
import { registerVaultRoutes } from './routes/vaults.js';
import { registerConsoleRoutes } from './routes/console.js';
import { registerCors } from './cors.js';
import { registerLimitRoutes } from './routes/limits.js';
import { registerIdentityRoutes } from './routes/identity.js';
import { registerImageFileRoutes } from './routes/image-file.js';
import { registerImageRoutes } from './routes/images.js';
import { registerMemberRoutes } from './routes/members.js';
import { registerInternalRoutes } from './routes/internal.js';
import { registerReplicationRoutes } from './routes/replication.js';
import { registerAdminRuntimeRoutes } from './routes/admin-runtime.js';
import { requestIdOf } from './request-ids.js';
import { registerAdminStorageRoutes } from './routes/admin-storage.js';
import { IMAGE_DATA_MEDIA_TYPE, JSON_PATCH_MEDIA_TYPES } from './media-type.js';
import { imageUploadingOn } from './upload-sockets.js';
import { imsShaped, imsShapedRefusals, isImsRoute } from './ims-errors.js';
import type { RegionContext } from '../region/context.js';

export interface ServerOptions {
  /** Fastify's logger option: false (tests), true (JSON lines on stdout), or a pino config. */
  logger?: boolean | Record<string, unknown>;
  /** PEM certificate (chain) and key: the server speaks HTTPS (only) with them. */
  https?: { cert: Buffer; key: Buffer };
  /** `operations`: only /healthz, /readyz and /metrics, for a worker process (default: every route). */
  routes?: 'all' | 'operations';
}

/** Largest JSON body accepted (image data never goes through the JSON parser). */
const JSON_BODY_LIMIT = 1024 * 1024;

export function errorBody(
  code: ErrorCode,
  message: string,
  details?: Record<string, unknown>,
  shape: 'ferry' | 'ims' = 'ferry',
): unknown {
  const { status, title } = ERROR_CODES[code];
  const imsCode = imsCodeOf(code);
  const error = {
    code,
    message,
    title,
    status,
    ...(imsCode ? { ims_code: imsCode } : {}),
    ...(details ? { details } : {}),
  };
  if (shape === 'ferry') return { error };
  // IMS-shaped routes (api/ims-errors.ts): IMS's code in `code`, the refusals listed likewise.
  const refused = details?.refused;
  return {
    error: imsShaped({
      ...error,
      ...(Array.isArray(refused) ? { details: { ...details, refused: imsShapedRefusals(refused) } } : {}),
    }),
  };
}

/**
 * Longest path parameter the router takes. A tag in PUT /v2/images/{id}/tags/{tag} may be 255 characters, up
 * to 12 URL-encoded bytes each: longer than Fastify's default of 100.
 */
const MAX_PARAM_LENGTH = 4096;

/** What the router refuses before any route, in words for the client (anything else is a fault of Ferry's). */
const FRAMEWORK_REFUSALS: Record<string, string | undefined> = {
  FST_ERR_BAD_URL: 'The URL is malformed (bad percent-encoding).',
  FST_ERR_MAX_PARAM_LENGTH: `A part of the URL path is longer than ${MAX_PARAM_LENGTH} characters: no image, tag or ID is.`,
};

/** Methods a path may have, for the `Allow` header of a 405. */
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;

/**
 * Answers what Node's HTTP parser refuses before Fastify sees a request (headers over 16 KiB, an unknown
 * method, a malformed request line) in Ferry's error format rather than Node's or Fastify's own.
 */
function answerClientError(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const { code, message } = describeClientError(error.code, imageUploadingOn(socket));
  answerOnSocket(socket, code, message);
}

function describeClientError(
  parserCode: string | undefined,
  upload: string | undefined,
): { code: ErrorCode; message: string } {
  if (parserCode === 'HPE_HEADER_OVERFLOW') {
    return { code: 'HEADERS_TOO_LARGE', message: 'The request line and headers exceed 16 KiB.' };
  }
  if (parserCode === 'HPE_INVALID_EOF_STATE') {
    // The client closed its side before sending the whole body its Content-Length declared.
    return upload === undefined
      ? { code: 'BAD_REQUEST', message: 'The request ended before the body its Content-Length declared.' }
      : {
          code: 'UPLOAD_INCOMPLETE',
          message: `The upload ended before the bytes its Content-Length declared; image ${upload} is killed.`,
        };
  }
  return {
    code: 'BAD_REQUEST',
    message: 'The request is not valid HTTP (or uses a method Ferry does not know).',
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
  // An https.Server is an http.Server for everything the hooks below use (its sockets are TLSSockets, which
  // are net.Sockets); the type says http so that every route and hook keeps one FastifyInstance type.
  const app = Fastify({
    ...(options.https ? { https: { ...options.https, minVersion: 'TLSv1.2' as const } } : {}),
    logger: options.logger ?? false,
    logController: new DisconnectAwareLogController(),
    bodyLimit: JSON_BODY_LIMIT,
    // Image uploads of many GiB take minutes; the socket's own timeouts guard against idle peers.
    requestTimeout: 0,
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    // verbose: an error carries the failing schema, whose description api/schema-errors.ts words it with.
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, verbose: true } },
    schemaErrorFormatter: formatSchemaError,
    clientErrorHandler: answerClientError,
    // Glance's request ids (`x-openstack-request-id`), also in every log line of the request; a replication's
    // calls between regions carry the ID of the user's request that started it (api/request-ids.ts).
    genReqId: requestIdOf,
    // A path Fastify cannot decode (bad percent-encoding) never reaches a route or the error handler.
    // A path parameter past maxParamLength is refused by the router itself (no route could take it).
    frameworkErrors: (error, _request, reply) => {
      const refusal = FRAMEWORK_REFUSALS[error.code];
      const code: ErrorCode = refusal === undefined ? 'INTERNAL_ERROR' : 'BAD_REQUEST';
      const message = refusal ?? error.message;
      void (reply as FastifyReply).code(ERROR_CODES[code].status).send(errorBody(code, message));
    },
  }) as unknown as FastifyInstance;

  const defaultJsonParser = app.getDefaultJsonParser('error', 'error');
  // An empty body with a JSON Content-Type is no body (Glance ignores it): routes that need one say so.
  const jsonParser: typeof defaultJsonParser = (request, body, done) =>
    body === '' ? done(null, undefined) : defaultJsonParser(request, body, done);
  // Only these bodies are read: Fastify's text/plain parser would hand a JSON route a string, which it
  // would then refuse as "not a JSON object" instead of as a media type it does not take (415).
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    ['application/json', ...JSON_PATCH_MEDIA_TYPES],
    { parseAs: 'string' },
    jsonParser,
  );
  // Image data is streamed by the file route itself, never buffered by a parser.
  app.addContentTypeParser(IMAGE_DATA_MEDIA_TYPE, (_request, payload, done) => done(null, payload));

  app.setErrorHandler((error: FastifyError | FerryError, request, reply) => {
    if (isClientDisconnect(error, request)) {
      logClientDisconnect(error, request);
      // Nobody is left to answer: the request ends here.
      reply.hijack();
      reply.raw.destroy();
      return;
    }
    const shape = isImsRoute(request.routeOptions.url) ? 'ims' : 'ferry';
    const bodyOf = (code: ErrorCode, message: string, details?: Record<string, unknown>) =>
      errorBody(code, message, details, shape);
    if (error instanceof FerryError) {
      if (error.status >= 500) request.log.error({ err: error }, error.message);
      return reply.code(error.status).send(bodyOf(error.code, error.message, error.details));
    }
    const code = codeOfFastifyError(error);
    if (code === 'UNSUPPORTED_MEDIA_TYPE') {
      const type = request.headers['content-type'] ?? 'none given';
      const message = `The body's Content-Type (${type}) is not one this call accepts.`;
      return reply.code(ERROR_CODES[code].status).send(bodyOf(code, message));
    }
    if (code === 'INVALID_JSON') {
      const message = `The body is not valid JSON (Content-Type: ${request.headers['content-type']}).`;
      return reply.code(ERROR_CODES[code].status).send(bodyOf(code, message));
    }
    if (code) return reply.code(ERROR_CODES[code].status).send(bodyOf(code, error.message));
    request.log.error({ err: error }, 'unexpected error');
    return reply.code(500).send(bodyOf('INTERNAL_ERROR', 'Ferry could not complete the request.'));
  });
  // The router lets a path parameter be empty (`/v2/images/`): that names nothing, so it is no route.
  const hasEmptyParam = (params: unknown) =>
    typeof params === 'object' && params !== null && Object.values(params).some((value) => value === '');
  const noRoute = (request: FastifyRequest, reply: FastifyReply) => {
    const path = request.url.split('?')[0]!;
    const allowed = METHODS.filter((method) => {
      const route = app.findRoute({ method, url: path });
      return route !== null && !hasEmptyParam(route.params);
    });
    if (allowed.length > 0) {
      const message = `${request.method} is not allowed on ${path}; it takes ${allowed.join(', ')}.`;
      return reply
        .code(405)
        .header('allow', allowed.join(', '))
        .send(errorBody('METHOD_NOT_ALLOWED', message));
    }
    return reply.code(404).send(errorBody('NOT_FOUND', `No route ${request.method} ${path}.`));
  };
  app.setNotFoundHandler(noRoute);
  app.addHook('onRequest', async (request, reply) => {
    // On the raw response, so that routes which write their own head (downloads) send it too.
    reply.raw.setHeader('x-openstack-request-id', request.id);
    if (hasEmptyParam(request.params)) return noRoute(request, reply);
  });

  // Every answer counted by its route's pattern (never the raw URL: one series per image would be unbounded).
  app.addHook('onResponse', async (request, reply) => {
    const labels = { method: request.method, route: request.routeOptions.url ?? 'no route' };
    ctx.metrics.httpRequests.inc({ ...labels, status: String(reply.statusCode) });
    ctx.metrics.httpSeconds.observe(labels, reply.elapsedTime / 1000);
  });
  answerExpectContinue(app);
  guardSlowClients(app, ctx.limits);
  refuseNulCharacters(app);
  // Before the token check: a preflight carries no token.
  await registerCors(app, ctx);
  await registerOpenApi(app, ctx.region);
  registerAuth(app, ctx);
  registerOperationsRoutes(app, ctx);
  if (options.routes === 'operations') return app;
  await registerConsoleRoutes(app);
  registerDiscoveryRoutes(app, ctx);
  registerLimitRoutes(app, ctx);
  registerImageRoutes(app, ctx);
  registerImageFileRoutes(app, ctx);
  registerMemberRoutes(app, ctx);
  registerIdentityRoutes(app, ctx);
  registerReplicationRoutes(app, ctx);
  registerBccRoutes(app, ctx);
  registerEventRoutes(app, ctx);
  registerVaultRoutes(app, ctx);
  registerInternalRoutes(app, ctx);
  registerAdminStorageRoutes(app, ctx);
  registerAdminRuntimeRoutes(app);
  return app;
}
