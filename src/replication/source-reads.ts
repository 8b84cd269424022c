/**
 * The source half of a transfer, the other side of transfer.ts and fetch-lanes.ts: what a destination may read
 * from this region under a job's grant (the granted manifest, and batches of the chunks it lists), paced to
 * the job's bandwidth cap and metered as transfer usage. The HTTP side (internal routes) only writes the
 * pieces to the socket.
 * @module
 */
import type { ChunkPiece } from '../blobs/read.js';
import { FerryError } from '../domain/errors.js';
import type { Digest } from '../domain/ids.js';
import { chunkLength, serializeManifest } from '../domain/manifest.js';
import { hashSecret } from '../identity/tokens.js';
import { createTokenBucket, type TokenBucket } from '../lib/token-bucket.js';
import { timestamp } from '../store/clock.js';
import { addTransferUsage, findGrant, type GrantRow } from '../store/grants.js';
import type { RegionContext } from '../region/context.js';
import { sameSecret } from './region-call.js';

/** Chunk lengths of granted manifests, kept for the few jobs being served (a lookup per requested chunk). */
const MANIFEST_CACHE_SIZE = 16;

/** How often a batch being sent adds its bytes to the transfer usage (default: 500 ms). */
const METER_INTERVAL_MS = 500;

interface GrantedImage {
  readonly lengths: ReadonlyMap<string, number>;
  readonly pace: (bytesPerSecond: number | null) => TokenBucket;
}

/** One batch of chunks to send: its pieces in the order asked, their total, the job's pace, and the meter. */
export interface ChunkBatchRead {
  pieces: ChunkPiece[];
  bytes: number;
  pace: (bytes: number, signal: AbortSignal) => Promise<void>;
  /** Counts bytes sent; writes them to the usage at most every METER_INTERVAL_MS. */
  sent: (bytes: number) => void;
  /** Writes what is counted and not yet written (call once the batch ends, sent whole or not). */
  flush: () => Promise<void>;
}

export interface SourceReads {
  /** The grant of `jobId` if `secret` is its secret and `caller` its destination; else GRANT_INVALID. */
  grantFor(caller: string, jobId: string, secret: unknown): Promise<GrantRow>;
  /**
   * The granted manifest, serialised (the destination checks it against the job's digest); for a whole-server
   * image, disk `disk`'s.
   */
  manifest(grant: GrantRow, disk?: number): Promise<Buffer>;
  /** The chunks `digests` names, each of a granted manifest (else GRANT_INVALID, before any is read). */
  chunkBatch(
    grant: GrantRow,
    digests: readonly Digest[],
    bytesPerSecond: number | null,
    onMeterError: (error: unknown) => void,
  ): Promise<ChunkBatchRead>;
}

/** The manifests a grant lets its destination read: the image's, or a whole-server image's disks'. */
function grantedManifests(grant: GrantRow): Digest[] {
  return grant.disk_manifests === null
    ? [grant.manifest_digest as Digest]
    : (JSON.parse(grant.disk_manifests) as Digest[]);
}

export function createSourceReads(ctx: RegionContext): SourceReads {
  const granted = new Map<string, Promise<GrantedImage>>();

  /**
   * The granted manifest's chunks with their lengths (the last chunk may be short), and the job's pace: one
   * token bucket shared by all of the job's batch requests, remade when the destination asks for a new cap.
   */
  function grantedImage(grant: GrantRow): Promise<GrantedImage> {
    // The promise is cached, not its result: a job's lanes ask for their first batches together, and each
    // must get the one pace (token bucket) of the job, or the cap is multiplied by the lanes.
    let image = granted.get(grant.job_id);
    if (!image) {
      image = loadGrantedImage(grant);
      image.catch(() => granted.delete(grant.job_id));
      if (granted.size >= MANIFEST_CACHE_SIZE) granted.delete(granted.keys().next().value!);
      granted.set(grant.job_id, image);
    }
    return image;
  }

  async function loadGrantedImage(grant: GrantRow): Promise<GrantedImage> {
    const lengths = new Map<string, number>();
    for (const manifestDigest of grantedManifests(grant)) {
      const manifest = await ctx.chunks.getManifest(manifestDigest);
      for (const [index, digest] of manifest.chunks.entries()) {
        if (digest !== null && !lengths.has(digest)) lengths.set(digest, chunkLength(manifest, index));
      }
    }
    let cap: { bytesPerSecond: number | null; bucket: TokenBucket } | undefined;
    const pace = (bytesPerSecond: number | null) => {
      if (cap?.bytesPerSecond !== bytesPerSecond)
        cap = { bytesPerSecond, bucket: createTokenBucket(bytesPerSecond) };
      return cap.bucket;
    };
    return { lengths, pace };
  }

  return {
    async grantFor(caller, jobId, secret) {
      const grant = await findGrant(ctx.db, jobId);
      const presented =
        grant &&
        typeof secret === 'string' &&
        sameSecret(hashSecret(secret), grant.secret_hash) &&
        grant.dest_region === caller;
      // Told apart for the destination, which holds the grant: a revoked one means the job was cancelled (or
      // ended) here, and it ends its side CANCELLED rather than FAIL.
      if (presented && grant.revoked_at !== null) {
        throw new FerryError('GRANT_REVOKED', `Job ${jobId} was cancelled or has ended in ${ctx.region}.`);
      }
      if (!presented || grant.expires_at <= timestamp(ctx.clock)) {
        throw new FerryError('GRANT_INVALID', `No valid grant for job ${jobId}: it ended or was cancelled.`);
      }
      return grant;
    },

    async manifest(grant, disk) {
      const digest = grantedManifests(grant)[disk ?? 0];
      if (digest === undefined)
        throw new FerryError('GRANT_INVALID', `The granted image has no disk ${disk} (job ${grant.job_id}).`);
      return serializeManifest(await ctx.chunks.getManifest(digest));
    },

    async chunkBatch(grant, digests, bytesPerSecond, onMeterError) {
      const { lengths, pace } = await grantedImage(grant);
      const pieces = digests.map((digest) => {
        const length = lengths.get(digest);
        if (length === undefined)
          throw new FerryError('GRANT_INVALID', `Chunk ${digest} is not part of the granted image.`);
        return { digest, length, from: 0, to: length };
      });
      const meter = (bytes: number) =>
        addTransferUsage(ctx.db, {
          accountId: grant.account_id,
          sourceRegion: ctx.region,
          destRegion: grant.dest_region,
          day: timestamp(ctx.clock).slice(0, 10),
          bytes,
        }).catch(onMeterError);
      // The cap is kept here, where bytes leave: paced at the destination, the source would run ahead by what
      // the sockets buffer (megabytes), and a cut or cancel would find those bytes already sent.
      const bucket = pace(bytesPerSecond);
      // Metered as it goes, at most every METER_INTERVAL_MS (a database write each), and at the end.
      let unmetered = 0;
      let meteredAt = performance.now();
      return {
        pieces,
        bytes: pieces.reduce((sum, piece) => sum + piece.length, 0),
        pace: (bytes, signal) => bucket.take(bytes, signal),
        sent(bytes) {
          unmetered += bytes;
          if (performance.now() - meteredAt < METER_INTERVAL_MS) return;
          meteredAt = performance.now();
          void meter(unmetered);
          unmetered = 0;
        },
        async flush() {
          if (unmetered > 0) await meter(unmetered);
          unmetered = 0;
        },
      };
    },
  };
}
