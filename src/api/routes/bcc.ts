/**
 * Baidu BCC-shaped replication, for clients written against BCC's API (see
 * ../shared/reference/public-cloud-apis.md): `POST /v2/image/{imageId}?remoteCopy` with
 * `{"name", "destRegion": [...]}` answers `{"result": [{region, imageId, errMsg, code}]}`, one entry per
 * destination (the new image's ID, or why that region was refused); `POST /v2/image/{imageId}?cancelRemoteCopy`,
 * on the destination image in its own region, cancels its copy and answers no body. Errors are BCE's shape,
 * `{"requestId", "code", "message"}`, with BCC's documented codes (409 `Image.*`) where BCC has one and
 * Ferry's code otherwise. The use cases are Ferry's: replication/remote-copy.ts, replication/own-jobs.ts.
 * @module
 */
import { Ajv } from 'ajv';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ERROR_CODES, FerryError, type ErrorCode } from '../../domain/errors.js';
import { cancelReplicationInto } from '../../replication/own-jobs.js';
import { remoteCopy } from '../../replication/remote-copy.js';
import type { RegionContext } from '../../region/context.js';
import { principalOf } from '../auth.js';
import { RemoteCopyBody, type RemoteCopyAnswer } from '../schemas/bcc.js';
import { schemaErrorMessage } from '../schema-errors.js';

/** BCC's documented codes for Ferry's refusals (all 409 in BCC's reference). */
const BCC_CODES: Partial<Record<ErrorCode, string>> = {
  REPLICATION_SAME_REGION: 'Image.RegionNotSupportCopy',
  REPLICATION_REGION_NOT_ALLOWED: 'Image.RegionNotSupportCopy',
  REPLICATION_NOT_OWNER: 'Image.ImageNotSupportCopy',
  REPLICATION_ISO: 'Image.ImageNotSupportCopy',
  REPLICATION_ENCRYPTED: 'Image.ImageNotSupportCopy',
  REPLICATION_IMAGE_UNAVAILABLE: 'Image.ImageStatusForbidden',
  REPLICATION_FROZEN: 'Image.ImageStatusForbidden',
  REPLICATION_TOO_LARGE: 'Image.LargeImageCopyForbidden',
};

function bccCode(code: string): string {
  return BCC_CODES[code as ErrorCode] ?? code;
}

function statusOf(code: ErrorCode): number {
  return BCC_CODES[code] !== undefined ? 409 : ERROR_CODES[code].status;
}

/** Every error of these routes in BCE's shape. */
function bccErrorHandler(
  error: FastifyError | FerryError,
  request: FastifyRequest,
  reply: FastifyReply,
): void {
  const ferry =
    error instanceof FerryError
      ? error
      : error.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || error instanceof SyntaxError
        ? new FerryError('INVALID_JSON', 'The request body is not valid JSON.')
        : undefined;
  if (!ferry) {
    request.log.error({ err: error }, 'BCC-shaped call failed');
    void reply.code(500).send({ requestId: request.id, code: 'InternalError', message: 'Ferry failed.' });
    return;
  }
  void reply
    .code(statusOf(ferry.code))
    .send({ requestId: request.id, code: bccCode(ferry.code), message: ferry.message });
}

const validateRemoteCopy = new Ajv({ strict: false, allErrors: false, verbose: true }).compile(
  RemoteCopyBody,
);

function remoteCopyBody(body: unknown): RemoteCopyBody {
  if (!validateRemoteCopy(body ?? {})) {
    throw new FerryError('VALIDATION_FAILED', schemaErrorMessage(validateRemoteCopy.errors as never, 'body'));
  }
  return body as RemoteCopyBody;
}

export function registerBccRoutes(app: FastifyInstance, ctx: RegionContext): void {
  app.post<{ Params: { id: string }; Querystring: Record<string, string> }>(
    '/v2/image/:id',
    { errorHandler: bccErrorHandler },
    async (request, reply) => {
      const principal = principalOf(request);
      const action = ['remoteCopy', 'cancelRemoteCopy'].filter((key) => key in request.query);
      if (action.length !== 1) {
        throw new FerryError(
          'VALIDATION_FAILED',
          'Name one action in the query: ?remoteCopy or ?cancelRemoteCopy.',
        );
      }
      if (action[0] === 'cancelRemoteCopy') {
        try {
          await cancelReplicationInto(ctx, principal, request.params.id);
        } catch (error) {
          // BCC: an image that is not being copied here cannot have its copy cancelled.
          if (
            error instanceof FerryError &&
            (error.code === 'JOB_FINISHED' || error.code === 'JOB_NOT_FOUND')
          ) {
            return reply.code(409).send({
              requestId: request.id,
              code: 'Image.ImageStatusForbidden',
              message: `Image status is not dest_copying: ${error.message}`,
            });
          }
          throw error;
        }
        return reply.code(200).send();
      }
      const body = remoteCopyBody(request.body);
      const results = await remoteCopy(
        ctx,
        principal,
        request.params.id,
        {
          name: body.name,
          destRegions: body.destRegion,
          agencyName: body.agencyName,
        },
        request.id,
      );
      if (results.every((r) => 'refusal' in r)) {
        const first = results[0] as Extract<(typeof results)[number], { refusal: unknown }>;
        throw new FerryError(first.refusal.error.code as ErrorCode, first.refusal.error.message);
      }
      const answer: RemoteCopyAnswer = {
        result: results.map((r) =>
          'refusal' in r
            ? {
                region: r.region,
                imageId: '',
                errMsg: r.refusal.error.message,
                code: bccCode(r.refusal.error.code),
              }
            : { region: r.region, imageId: r.imageId, errMsg: '', code: '' },
        ),
      };
      return answer;
    },
  );
}
