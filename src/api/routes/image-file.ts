/**
 * Image data: upload (`PUT /v2/images/{id}/file`) streamed into the chunk store while the format inspector
 * reads along, and download (`GET`) streamed back out of it, with Range support and Glance's
 * `Content-MD5` header. Neither ever holds more than a few chunks in memory.
 *
 * Upload states: queued → saving (compare-and-set, so one upload wins) → active. A body that breaks off
 * leaves the image `killed`; data refused for its format or safety goes back to `queued`, so the owner can
 * upload the right file. In every case no image becomes active without all its chunks stored (the manifest is
 * stored after its chunks, and the image row points at the manifest last).
 * @module
 */
import type { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { DigestMismatchError } from '../../blobs/chunk-store.js';
import { BlobNotFoundError } from '../../blobs/driver.js';
import { ingestImage } from '../../blobs/ingest.js';
import { imagePieces, writePieces } from '../../blobs/read.js';
import { distinctDigests } from '../../domain/manifest.js';
import { FerryError, isFerryError } from '../../domain/errors.js';
import type { Digest } from '../../domain/ids.js';
import { assertImageAcceptable, createFormatInspector } from '../../formats/inspector.js';
import { recordAccountChunks } from '../../store/account-chunks.js';
import { timestamp } from '../../store/clock.js';
import { findProject } from '../../store/identity.js';
import { transitionImage } from '../../store/images.js';
import { principalOf } from '../auth.js';
import { assertNotFrozen, loadOwnedImage, loadVisibleImage } from '../../images/access.js';
import { IMAGE_DATA_MEDIA_TYPE, mediaTypeOf } from '../media-type.js';
import { sendContinue } from '../expect-continue.js';
import { parseRange } from '../range.js';
import { takeBody } from '../socket-body.js';
import { createUploadSlots } from '../upload-slots.js';
import { markUploading } from '../upload-sockets.js';
import { endUploadHeartbeat, markUploadAlive } from '../../store/upload-heartbeats.js';
import type { RegionContext } from '../../region/context.js';

/** Bytes after which the inspector has seen every header it checks early (the first chunk). */
const INSPECTION_HEAD_BYTES = 1024 * 1024;

type IdParams = { id: string };

/** Upload refusals that mean "wrong file", not "broken upload": the image goes back to queued. */
const REFUSALS = new Set(['UNSAFE_IMAGE', 'DISK_FORMAT_MISMATCH', 'PAYLOAD_TOO_LARGE']);

/** Whether a store error says the disk (or the region's quota on it) is full. */
function isStorageFull(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}

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
    { onRequest: requireOctetStream, config: { continueInHandler: true } },
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
      // Keeps the upload's chunks from garbage collection until the image row references its manifest: an
      // upload may outlast the collector's grace period.
      const hold = ctx.chunks.hold();
      let heartbeat: NodeJS.Timeout | undefined;
      try {
        if (
          image.status !== 'queued' ||
          !(await transitionImage(ctx.db, image.id, 'queued', 'saving', timestamp(ctx.clock)))
        ) {
          throw new FerryError(
            'INVALID_IMAGE_STATUS',
            `Image ${image.id} is ${image.status === 'queued' ? 'being uploaded' : image.status}: data can be uploaded only to a queued image.`,
          );
        }
        request.log.info({ audit: 'image.upload', image: image.id, by: principal.userId }, 'upload started');
        // Shows the upload is alive to every process of the region (region/abandoned-uploads.ts).
        const idleMs = ctx.limits.uploadIdleTimeoutMs;
        await markUploadAlive(ctx.db, image.id, timestamp(ctx.clock));
        heartbeat = setInterval(() => {
          markUploadAlive(ctx.db, image.id, timestamp(ctx.clock)).catch((error: unknown) =>
            request.log.error({ err: error, image: image.id }, 'upload heartbeat failed'),
          );
        }, idleMs / 3);

        const inspector = createFormatInspector();
        let seen = 0;
        let headChecked = false;
        const observe = (piece: Buffer): void => {
          inspector.update(piece);
          seen += piece.length;
          if (!headChecked && seen >= INSPECTION_HEAD_BYTES) {
            headChecked = true;
            const problems = inspector.earlyProblems();
            if (problems.length > 0) {
              throw new FerryError('UNSAFE_IMAGE', `The image data is refused: ${problems.join('; ')}.`);
            }
          }
        };

        // The ingest turns a broken or stalled client stream into UPLOAD_INCOMPLETE: the image is killed, as in
        // Glance. A refusal of the data, or a fault of Ferry's own (a full disk, a store error), puts the
        // image back to queued: the same upload may be tried again.
        const abandon = async (error: unknown): Promise<never> => {
          const serverFault = !isFerryError(error);
          const retryable = serverFault || REFUSALS.has(error.code);
          await transitionImage(
            ctx.db,
            image.id,
            'saving',
            retryable ? 'queued' : 'killed',
            timestamp(ctx.clock),
          );
          if (serverFault) request.log.error({ image: image.id, err: error }, 'upload failed in Ferry');
          else request.log.warn({ image: image.id, err: error }, 'upload refused or broken off');
          // The client may still be sending: close the connection after the answer instead of reading the rest.
          reply.header('connection', 'close');
          if (isStorageFull(error)) {
            throw new FerryError(
              'STORAGE_FULL',
              `The region's image storage is full; image ${image.id} is queued again: upload it later.`,
            );
          }
          throw error; // a server fault answers 500 INTERNAL_ERROR
        };

        // A client that stops sending gets a JSON answer (408, as nginx's client_body_timeout), then the
        // connection is closed.
        const stalled = new AbortController();
        request.raw.setTimeout(idleMs, () =>
          stalled.abort(
            new FerryError(
              'UPLOAD_TIMEOUT',
              `The client sent nothing for ${idleMs / 1000} s; the upload is cut off and image ${image.id} is killed.`,
            ),
          ),
        );
        let ingested;
        const unmark = markUploading(request.raw.socket, image.id);
        sendContinue(request, reply); // every check passed: the client may send the data now
        // A Content-Length body is read from the socket into the ingest's ring (socket-body.ts); the HTTP
        // parser never sees it, so this connection ends with the answer.
        const body = takeBody(request.raw);
        if (body !== undefined) reply.header('connection', 'close');
        try {
          ingested = await ingestImage(ctx.chunks, body ?? (request.body as Readable), {
            observe,
            maxBytes: ctx.limits.maxImageBytes,
            hold,
            signal: stalled.signal,
            osHashAlgorithm: ctx.images.hashingAlgorithm,
          });
          request.raw.socket.setTimeout(0); // all the data is in: what is left is Ferry's work
          const inspection = inspector.finish();
          assertImageAcceptable(diskFormat, inspection);
          // Every chunk must still be there (garbage collection may have raced a deduplicated chunk; see gc.ts).
          const digests = distinctDigests(ingested.manifest);
          const missing = await ctx.chunks.missingChunks(digests);
          if (missing.length > 0) throw new Error(`${missing.length} chunks vanished during the upload`);
          // The owner's account now holds these chunks (see store/account-chunks.ts); an administrator may
          // upload into another account's image.
          const ownerAccount = (await findProject(ctx.db, image.owner))?.account_id ?? principal.accountId;
          await recordAccountChunks(ctx.db, ownerAccount, digests);
          ingested = { ...ingested, virtualSize: inspection.virtualSize };
        } catch (error) {
          return abandon(error);
        } finally {
          unmark();
        }

        const activated = await transitionImage(ctx.db, image.id, 'saving', 'active', timestamp(ctx.clock), {
          size: ingested.size,
          virtual_size: ingested.virtualSize,
          checksum: ingested.md5,
          os_hash_algo: ingested.osHashAlgorithm,
          os_hash_value: ingested.osHashValue,
          manifest_digest: ingested.manifestDigest,
        });
        if (!activated) {
          throw new FerryError(
            'IMAGE_DELETED_DURING_UPLOAD',
            `Image ${image.id} was deleted during the upload.`,
          );
        }
        request.log.info(
          { audit: 'image.upload', image: image.id, size: ingested.size, stored: ingested.bytesWritten },
          'upload finished',
        );
        return reply.code(204).send();
      } finally {
        hold.release();
        slot?.release();
        if (heartbeat !== undefined) {
          clearInterval(heartbeat);
          await endUploadHeartbeat(ctx.db, image.id).catch((error: unknown) =>
            request.log.error({ err: error, image: image.id }, 'upload heartbeat not removed'),
          );
        }
      }
    },
  );

  app.get<{ Params: IdParams }>('/v2/images/:id/file', async (request, reply) => {
    const principal = principalOf(request);
    const image = await loadVisibleImage(ctx, principal, request.params.id);
    if (image.status === 'deactivated' && !principal.isAdmin) {
      throw new FerryError('FORBIDDEN', `Image ${image.id} is deactivated: its data cannot be downloaded.`);
    }
    const hasData = image.status === 'active' || image.status === 'deactivated'; // admins read the latter
    if (!hasData || image.manifest_digest === null || image.size === null) {
      // Glance answers 204 No Content for an image without data.
      return reply.code(204).send();
    }
    // Cached and indexed, not parsed: a client reading the image in ranges costs one manifest read in all.
    const manifest = await ctx.manifests.get(image.manifest_digest as Digest);
    const range = parseRange(request.headers.range, image.size);
    if (range === 'unsatisfiable') {
      reply.header('content-range', `bytes */${image.size}`);
      throw new FerryError(
        'RANGE_NOT_SATISFIABLE',
        `The image has ${image.size} bytes; the range is outside it.`,
      );
    }
    const { pieces, bytes, digests } = imagePieces(manifest, range);
    // The chunks of the range are held while they are sent: an image deleted meanwhile keeps its data until
    // the download ends. Only those: a range read costs its own chunks, not the whole image's.
    const hold = ctx.chunks.hold();
    for (const digest of digests) hold.add(digest);
    const headers: Record<string, string | number> = {
      'content-type': 'application/octet-stream',
      'accept-ranges': 'bytes',
      'content-length': bytes,
    };
    if (range) headers['content-range'] = `bytes ${range.start}-${range.end}/${image.size}`;
    else if (image.checksum) headers['content-md5'] = image.checksum;
    // Written to the socket by hand (see blobs/read.ts): each chunk is sent from the buffer the store lends.
    reply.hijack();
    const res = reply.raw;
    try {
      res.writeHead(range ? 206 : 200, headers);
      if (request.method === 'HEAD') return res.end();
      await writePieces(res, ctx.chunks, pieces);
      res.end();
    } catch (error) {
      // The status line is sent: a download cut short is all the client can be told. A chunk missing or
      // damaged in the store is the operator's business (an error); a client that went away is not.
      const storeDamage = error instanceof BlobNotFoundError || error instanceof DigestMismatchError;
      request.log[storeDamage ? 'error' : 'warn']({ err: error, image: image.id }, 'download cut short');
      res.destroy();
    } finally {
      hold.release();
    }
  });
}
