/**
 * Image data over HTTP: upload (`PUT /v2/images/{id}/file`; the use case is images/upload.ts: states,
 * inspection, ingest) and download (`GET`; images/download.ts; a whole-server image's disks:
 * `GET /v1/cloudimages/{id}/disks/{index}/file`) streamed out of the chunk store, with Range
 * support and Glance's `Content-MD5` header. Neither ever holds more than a few chunks in memory. Here: the media type, the
 * declared size, the region's upload slots, the socket (100-continue, the body read into the ingest ring,
 * the idle timeout) and the answer.
 * @module
 */
import type { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { DigestMismatchError } from '../../blobs/chunk-store.js';
import { BlobNotFoundError } from '../../blobs/driver.js';
import { writePieces } from '../../blobs/read.js';
import { FerryError } from '../../domain/errors.js';
import { principalOf } from '../auth.js';
import { assertNotFrozen, loadOwnedImage } from '../../images/access.js';
import { openImageRead, type DataRead } from '../../images/download.js';
import { openDiskRead } from '../../images/whole-server.js';
import { DiskParams } from '../schemas/vault.js';
import { uploadImageData } from '../../images/upload.js';
import { IMAGE_DATA_MEDIA_TYPE, mediaTypeOf } from '../media-type.js';
import { STREAMS_BODY, watchUploadRate } from '../slow-clients.js';
import { sendContinue } from '../expect-continue.js';
import { parseRange } from '../range.js';
import { takeBody } from '../socket-body.js';
import { createUploadSlots } from '../upload-slots.js';
import { markUploading } from '../upload-sockets.js';
import type { RegionContext } from '../../region/context.js';

type IdParams = { id: string };

/**
 * Refuses, before any body parser reads it, an upload whose Content-Type is not application/octet-stream (as
 * Glance does, 415): a JSON or text body would otherwise be parsed as such, and the image left killed.
 */
function requireOctetStream(
  request: FastifyRequest,
  _reply: FastifyReply,
  done: (error?: Error) => void,
): void {
  const type = request.headers['content-type'];
  if (mediaTypeOf(type) === IMAGE_DATA_MEDIA_TYPE) return done();
  done(
    new FerryError(
      'UNSUPPORTED_MEDIA_TYPE',
      `Send the image data with Content-Type: ${IMAGE_DATA_MEDIA_TYPE} (${type === undefined ? 'none was given' : `not ${type}`}).`,
    ),
  );
}

export function registerImageFileRoutes(app: FastifyInstance, ctx: RegionContext): void {
  const uploads = createUploadSlots({
    total: ctx.limits.maxConcurrentUploads,
    perAccount: ctx.limits.maxConcurrentUploadsPerAccount,
  });

  /** A slot for an upload of `accountId`, or 429 TOO_MANY_UPLOADS with a Retry-After. */
  function takeUploadSlot(accountId: string, reply: FastifyReply): { release: () => void } {
    const slot = uploads.take(accountId);
    if (!('refused' in slot)) return slot;
    reply.header('retry-after', '30');
    throw new FerryError(
      'TOO_MANY_UPLOADS',
      slot.refused === 'account'
        ? `Your account has ${ctx.limits.maxConcurrentUploadsPerAccount} uploads in progress in this region already: retry once one has ended.`
        : `This region has ${ctx.limits.maxConcurrentUploads} uploads in progress: retry in a little while.`,
    );
  }

  app.put<{ Params: IdParams }>(
    '/v2/images/:id/file',
    { onRequest: requireOctetStream, config: { continueInHandler: true, ...STREAMS_BODY } },
    async (request, reply) => {
      const principal = principalOf(request);
      const image = await loadOwnedImage(ctx, principal, request.params.id);
      assertNotFrozen(image);
      if (image.disk_format === null || image.container_format === null) {
        throw new FerryError(
          'VALIDATION_FAILED',
          'Set disk_format and container_format on the image before uploading its data.',
        );
      }
      const diskFormat = image.disk_format;
      // A declared size over the cap is refused before a byte is read (the ingest also counts, for chunked
      // uploads and for clients that send more than they declared).
      const declared = Number(request.headers['content-length']);
      if (Number.isSafeInteger(declared) && declared > ctx.limits.maxImageBytes) {
        reply.header('connection', 'close');
        throw new FerryError(
          'PAYLOAD_TOO_LARGE',
          `The image is larger than the limit of ${ctx.limits.maxImageBytes} bytes.`,
          { maxBytes: ctx.limits.maxImageBytes },
        );
      }
      // A slot before the image changes: a refused upload leaves the image queued.
      const slot = image.status === 'queued' ? takeUploadSlot(principal.accountId, reply) : undefined;
      // A client that stops sending gets a JSON answer (408, as nginx's client_body_timeout), then the
      // connection is closed.
      const stalled = new AbortController();
      let unmark: (() => void) | undefined;
      let unwatch: (() => void) | undefined;
      try {
        await uploadImageData(ctx, principal, image, diskFormat, {
          openBody: () => {
            const idleMs = ctx.limits.uploadIdleTimeoutMs;
            request.raw.setTimeout(idleMs, () =>
              stalled.abort(
                new FerryError(
                  'UPLOAD_TIMEOUT',
                  `The client sent nothing for ${idleMs / 1000} s; the upload is cut off and image ${image.id} is killed.`,
                ),
              ),
            );
            unwatch = watchUploadRate(request.raw.socket, ctx.limits, (why) =>
              stalled.abort(
                new FerryError(
                  'UPLOAD_TOO_SLOW',
                  `${why}; the upload is cut off and image ${image.id} is killed.`,
                ),
              ),
            );
            unmark = markUploading(request.raw.socket, image.id);
            sendContinue(request, reply); // every check passed: the client may send the data now
            // A Content-Length body is read from the socket into the ingest's ring (socket-body.ts); the HTTP
            // parser never sees it, so this connection ends with the answer.
            const body = takeBody(request.raw);
            if (body !== undefined) reply.header('connection', 'close');
            return body ?? (request.body as Readable);
          },
          signal: stalled.signal,
          onBodyRead: () => {
            // What is left is Ferry's work.
            request.raw.socket.setTimeout(0);
            unwatch?.();
          },
          log: request.log,
        });
        return await reply.code(204).send();
      } catch (error) {
        // The client may still be sending: close the connection after the answer instead of reading the rest.
        if (unmark !== undefined) reply.header('connection', 'close');
        throw error;
      } finally {
        unwatch?.();
        unmark?.();
        slot?.release();
      }
    },
  );

  app.get<{ Params: IdParams }>('/v2/images/:id/file', async (request, reply) => {
    const read = await openImageRead(
      ctx,
      principalOf(request),
      request.params.id,
      rangeReader(request, reply),
    );
    // Glance answers 204 No Content for an image without data.
    if (read === undefined) return reply.code(204).send();
    await sendData(request, reply, ctx, read, read.image.checksum, { image: read.image.id });
  });

  // A whole-server image's disk (images/whole-server.ts), read as an image is.
  app.get<{ Params: { id: string; index: string } }>(
    '/v1/cloudimages/:id/disks/:index/file',
    { schema: { params: DiskParams } },
    async (request, reply) => {
      const { id } = request.params;
      const index = Number(request.params.index);
      const read = await openDiskRead(ctx, principalOf(request), id, index, rangeReader(request, reply));
      await sendData(request, reply, ctx, read, read.backup.checksum, { image: id, disk: index });
    },
  );
}

/** Reads the request's Range against the data's size; a range outside it is 416 with the size. */
function rangeReader(request: FastifyRequest, reply: FastifyReply) {
  return (size: number) => {
    const range = parseRange(request.headers.range, size);
    if (range !== 'unsatisfiable') return range;
    reply.header('content-range', `bytes */${size}`);
    throw new FerryError('RANGE_NOT_SATISFIABLE', `The data has ${size} bytes; the range is outside it.`);
  };
}

/** Sends data being read (whole, or its range with 206), then releases its chunks. */
async function sendData(
  request: FastifyRequest,
  reply: FastifyReply,
  ctx: Pick<RegionContext, 'chunks' | 'metrics'>,
  read: DataRead,
  checksum: string | null,
  logged: Record<string, unknown>,
): Promise<void> {
  const { range, pieces, bytes, hold, size } = read;
  const headers: Record<string, string | number> = {
    'content-type': 'application/octet-stream',
    'accept-ranges': 'bytes',
    'content-length': bytes,
  };
  if (range) headers['content-range'] = `bytes ${range.start}-${range.end}/${size}`;
  else if (checksum) headers['content-md5'] = checksum;
  // Written to the socket by hand (see blobs/read.ts): each chunk is sent from the buffer the store lends.
  // The headers hooks set on the reply (CORS, for the console in another region) go out with them.
  const hooked = reply.getHeaders();
  reply.hijack();
  const res = reply.raw;
  try {
    for (const [name, value] of Object.entries(hooked)) if (value !== undefined) res.setHeader(name, value);
    res.writeHead(range ? 206 : 200, headers);
    if (request.method === 'HEAD') return void res.end();
    await writePieces(res, ctx.chunks, pieces, {
      onWritten: (bytes) => ctx.metrics.downloadedBytes.inc(bytes),
    });
    res.end();
  } catch (error) {
    // The status line is sent: a download cut short is all the client can be told. A client that went away
    // is no fault (one line at info); anything else, a chunk missing or damaged in the store above all, is
    // the operator's business (an error with its stack).
    if (res.destroyed && !(error instanceof BlobNotFoundError || error instanceof DigestMismatchError)) {
      request.log.info(logged, 'download cut short: the client disconnected');
    } else {
      request.log.error({ err: error, ...logged }, 'download cut short');
    }
    res.destroy();
  } finally {
    hold.release();
  }
}
