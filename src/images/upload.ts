/**
 * An image's upload, as a use case: what `PUT /v2/images/{id}/file` does once the HTTP layer has checked the
 * request (api/routes/image-file.ts keeps the media type, the declared size, the upload slots and the
 * socket). States: queued → saving (compare-and-set, so one upload wins) → active. A body that breaks off
 * leaves the image `killed`, as in Glance; data refused for its format or safety, or a fault of Ferry's own
 * (a full disk, a store error), puts it back to `queued`, so the owner can upload again. In every case no
 * image becomes active without all its chunks stored (the manifest is stored after its chunks, and the image
 * row points at the manifest last).
 * @module
 */
import type { Readable } from 'node:stream';
import type { FastifyBaseLogger } from 'fastify';
import { ingestImage, type DirectSource, type IngestResult } from '../blobs/ingest.js';
import { FerryError, isFerryError } from '../domain/errors.js';
import { distinctDigests } from '../domain/manifest.js';
import { assertImageAcceptable, createFormatInspector } from '../formats/inspector.js';
import type { Principal } from '../identity/tokens.js';
import type { RegionContext } from '../region/context.js';
import { recordAccountChunks } from '../store/account-chunks.js';
import { timestamp } from '../store/clock.js';
import { findProject } from '../store/identity.js';
import { transitionImage, type ImageRecord } from '../store/images.js';
import { endUploadHeartbeat, markUploadAlive } from '../store/upload-heartbeats.js';
import { isStorageFull } from '../blobs/driver.js';

/** Bytes after which the inspector has seen every header it checks early (the first chunk). */
const INSPECTION_HEAD_BYTES = 1024 * 1024;

/** Upload refusals that mean "wrong file", not "broken upload": the image goes back to queued. */
const REFUSALS = new Set(['UNSAFE_IMAGE', 'DISK_FORMAT_MISMATCH', 'PAYLOAD_TOO_LARGE']);

/** The stored data: what the ingest measured, and the virtual size the format inspector read. */
export type UploadedData = IngestResult & { readonly virtualSize: number | null };

export interface UploadOptions {
  /**
   * The body, asked for once the image is `saving` (every check has passed: the HTTP layer may now tell the
   * client to send it).
   */
  readonly openBody: () => Readable | DirectSource;
  /** Aborts the ingest (a client that stopped sending): the image is killed with the reason. */
  readonly signal: AbortSignal;
  /** Every byte of the body has been read (what is left is Ferry's work). */
  readonly onBodyRead?: () => void;
  readonly log: FastifyBaseLogger;
}

/**
 * Stores `image`'s data from the body and makes it active. Throws INVALID_IMAGE_STATUS unless the image is
 * queued (or another upload won), the refusal or failure of the data (the image back to queued or killed,
 * as the module comment says; a full disk as STORAGE_FULL), or IMAGE_DELETED_DURING_UPLOAD.
 */
export async function uploadImageData(
  ctx: RegionContext,
  principal: Principal,
  image: ImageRecord,
  diskFormat: string,
  options: UploadOptions,
): Promise<UploadedData> {
  const { log } = options;
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
    log.info({ audit: 'image.upload', image: image.id, by: principal.userId }, 'upload started');
    // Shows the upload is alive to every process of the region (region/abandoned-uploads.ts).
    await markUploadAlive(ctx.db, image.id, timestamp(ctx.clock));
    heartbeat = setInterval(() => {
      markUploadAlive(ctx.db, image.id, timestamp(ctx.clock)).catch((error: unknown) =>
        log.error({ err: error, image: image.id }, 'upload heartbeat failed'),
      );
    }, ctx.limits.uploadIdleTimeoutMs / 3);

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

    let ingested: UploadedData;
    try {
      const stored = await ingestImage(ctx.chunks, options.openBody(), {
        observe,
        maxBytes: ctx.limits.maxImageBytes,
        hold,
        signal: options.signal,
        osHashAlgorithm: ctx.images.hashingAlgorithm,
      });
      options.onBodyRead?.();
      const inspection = inspector.finish();
      assertImageAcceptable(diskFormat, inspection);
      // Every chunk must still be there (garbage collection may have raced a deduplicated chunk; see gc.ts).
      const digests = distinctDigests(stored.manifest);
      const missing = await ctx.chunks.missingChunks(digests);
      if (missing.length > 0) throw new Error(`${missing.length} chunks vanished during the upload`);
      // The owner's account now holds these chunks (see store/account-chunks.ts); an administrator may
      // upload into another account's image.
      const ownerAccount = (await findProject(ctx.db, image.owner))?.account_id ?? principal.accountId;
      await recordAccountChunks(ctx.db, ownerAccount, digests);
      ingested = { ...stored, virtualSize: inspection.virtualSize };
    } catch (error) {
      return await abandon(ctx, image, error, log);
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
      throw new FerryError('IMAGE_DELETED_DURING_UPLOAD', `Image ${image.id} was deleted during the upload.`);
    }
    ctx.metrics.uploadedBytes.inc(ingested.size);
    log.info(
      { audit: 'image.upload', image: image.id, size: ingested.size, stored: ingested.bytesWritten },
      'upload finished',
    );
    return ingested;
  } finally {
    hold.release();
    if (heartbeat !== undefined) {
      clearInterval(heartbeat);
      await endUploadHeartbeat(ctx.db, image.id).catch((error: unknown) =>
        log.error({ err: error, image: image.id }, 'upload heartbeat not removed'),
      );
    }
  }
}

/**
 * Ends a failed upload: a broken or stalled client stream (UPLOAD_INCOMPLETE, UPLOAD_TIMEOUT) kills the image;
 * a refusal of the data, or a fault of Ferry's own, puts it back to queued. Rethrows (a full disk as
 * STORAGE_FULL; a fault of Ferry's answers 500).
 */
async function abandon(
  ctx: RegionContext,
  image: ImageRecord,
  error: unknown,
  log: FastifyBaseLogger,
): Promise<never> {
  const serverFault = !isFerryError(error);
  const retryable = serverFault || REFUSALS.has(error.code);
  await transitionImage(ctx.db, image.id, 'saving', retryable ? 'queued' : 'killed', timestamp(ctx.clock));
  if (serverFault) log.error({ image: image.id, err: error }, 'upload failed in Ferry');
  // The client's doing (data refused, a stream cut or stalled): one line, no stack.
  else log.info({ image: image.id, code: error.code, reason: error.message }, 'upload refused or broken off');
  if (isStorageFull(error)) {
    throw new FerryError(
      'STORAGE_FULL',
      `The region's image storage is full; image ${image.id} is queued again: upload it later.`,
    );
  }
  throw error;
}
