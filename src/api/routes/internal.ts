/**
 * The region-to-region API. Never reachable with a user token: every call must name its region and present
 * that region's secret from the catalog. A destination reads a source image's manifest and chunks only under
 * the grant the source issued for that one job, and only the chunks that manifest lists.
 * @module
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { writePieces } from '../../blobs/read.js';
import { findRegion } from '../../config/catalog.js';
import { FerryError } from '../../domain/errors.js';
import type { Digest } from '../../domain/ids.js';
import { isDigest } from '../../domain/ids.js';
import { chunkLength, serializeManifest } from '../../domain/manifest.js';
import { hashSecret } from '../../identity/tokens.js';
import {
  createReplica,
  cancelReplica,
  jobState,
  type JobState,
  type ReplicaRequest,
} from '../../replication/replicas.js';
import { createTokenBucket, type TokenBucket } from '../../lib/token-bucket.js';
import { applyDestinationState } from '../../replication/source-jobs.js';
import { timestamp } from '../../store/clock.js';
import { addTransferUsage, findGrant, type GrantRow } from '../../store/grants.js';
import { revokeTokenCopy, storeTokenCopy, type TokenCopy } from '../../identity/token-regions.js';
import { findJob } from '../../store/jobs.js';
import { MAX_CHUNKS_PER_REQUEST } from '../../config/replication.js';
import type { RegionContext } from '../../region/context.js';
import { GRANT_HEADER, REGION_HEADER, REGION_SECRET_HEADER } from '../../replication/region-call.js';

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The calling region, after checking its secret against the catalog. */
function callerRegion(ctx: RegionContext, request: FastifyRequest): string {
  const name = request.headers[REGION_HEADER];
  const secret = request.headers[REGION_SECRET_HEADER];
  const region = typeof name === 'string' ? findRegion(ctx.catalog, name) : undefined;
  if (!region?.internal_secret || typeof secret !== 'string' || !same(secret, region.internal_secret)) {
    throw new FerryError('UNAUTHORIZED', 'Region-to-region calls need region credentials from the catalog.');
  }
  return region.name;
}

const SECRET_HASH = /^[0-9a-f]{64}$/;

/** A token copy from another region, checked field by field. */
function parseTokenCopy(body: unknown): TokenCopy {
  const b = (body ?? {}) as Record<string, unknown>;
  const optional = (v: unknown) => v === undefined || typeof v === 'string';
  if (
    typeof b.user_id !== 'string' ||
    typeof b.secret_hash !== 'string' ||
    !SECRET_HASH.test(b.secret_hash) ||
    typeof b.description !== 'string' ||
    typeof b.expires_at !== 'string' ||
    Number.isNaN(Date.parse(b.expires_at)) ||
    !optional(b.parent_secret_hash) ||
    !optional(b.project_name)
  ) {
    throw new FerryError(
      'VALIDATION_FAILED',
      'Not a token copy: see TokenCopy in identity/token-regions.ts.',
    );
  }
  return b as unknown as TokenCopy;
}

/** Chunk lengths of granted manifests, kept for the few jobs being served (a lookup per requested chunk). */
const MANIFEST_CACHE_SIZE = 16;

/** How often a batch being sent adds its bytes to the transfer usage (default: 500 ms). */
const METER_INTERVAL_MS = 500;

interface GrantedImage {
  readonly lengths: ReadonlyMap<string, number>;
  readonly pace: (bytesPerSecond: number | null) => TokenBucket;
}

/**
 * A batch request, checked: `digests`, 1..MAX_CHUNKS_PER_REQUEST SHA-256 digests, and the job's bandwidth
 * cap `bytes_per_second` (an integer ≥ 1024, or null or absent for none).
 */
function parseBatchRequest(body: unknown): { digests: Digest[]; bytesPerSecond: number | null } {
  const { digests, bytes_per_second: cap } = (body ?? {}) as {
    digests?: unknown;
    bytes_per_second?: unknown;
  };
  if (cap !== undefined && cap !== null && !(Number.isInteger(cap) && (cap as number) >= 1024)) {
    throw new FerryError('VALIDATION_FAILED', 'bytes_per_second must be an integer ≥ 1024, or null.');
  }
  if (
    !Array.isArray(digests) ||
    digests.length === 0 ||
    digests.length > MAX_CHUNKS_PER_REQUEST ||
    !digests.every((digest) => typeof digest === 'string' && isDigest(digest))
  ) {
    throw new FerryError(
      'VALIDATION_FAILED',
      `A chunk batch needs "digests": 1 to ${MAX_CHUNKS_PER_REQUEST} SHA-256 digests of the granted image.`,
    );
  }
  return { digests: digests as Digest[], bytesPerSecond: (cap as number | null | undefined) ?? null };
}

export function registerInternalRoutes(app: FastifyInstance, ctx: RegionContext): void {
  const granted = new Map<string, Promise<GrantedImage>>();
  const internal = { config: { public: true } };

  async function grantFor(request: FastifyRequest, jobId: string): Promise<GrantRow> {
    const caller = callerRegion(ctx, request);
    const secret = request.headers[GRANT_HEADER];
    const grant = await findGrant(ctx.db, jobId);
    const valid =
      grant &&
      typeof secret === 'string' &&
      same(hashSecret(secret), grant.secret_hash) &&
      grant.revoked_at === null &&
      grant.expires_at > timestamp(ctx.clock) &&
      grant.dest_region === caller;
    if (!valid)
      throw new FerryError('GRANT_INVALID', `No valid grant for job ${jobId}: it ended or was cancelled.`);
    return grant;
  }

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
    const manifest = await ctx.chunks.getManifest(grant.manifest_digest as Digest);
    const lengths = new Map<string, number>();
    for (const [index, digest] of manifest.chunks.entries()) {
      if (digest !== null && !lengths.has(digest)) lengths.set(digest, chunkLength(manifest, index));
    }
    let cap: { bytesPerSecond: number | null; bucket: TokenBucket } | undefined;
    const pace = (bytesPerSecond: number | null) => {
      if (cap?.bytesPerSecond !== bytesPerSecond)
        cap = { bytesPerSecond, bucket: createTokenBucket(bytesPerSecond) };
      return cap.bucket;
    };
    return { lengths, pace };
  }

  app.get<{ Params: { job: string } }>(
    '/internal/v1/grants/:job/manifest',
    internal,
    async (request, reply) => {
      const grant = await grantFor(request, request.params.job);
      const manifest = await ctx.chunks.getManifest(grant.manifest_digest as Digest);
      return reply.header('content-type', 'application/octet-stream').send(serializeManifest(manifest));
    },
  );

  /**
   * A batch of chunks in one response: the body names up to MAX_CHUNKS_PER_REQUEST digests of the granted
   * manifest, the answer is their bytes back to back in that order (`Content-Length` is the sum; the
   * destination knows each length from the manifest). One request per batch instead of per chunk: the
   * destination streams the answer to disk as it arrives. A chunk the source cannot read cuts the response
   * short, which the destination sees as a transient error. Bytes are metered as they are sent.
   */
  app.post<{ Params: { job: string } }>(
    '/internal/v1/grants/:job/chunks',
    internal,
    async (request, reply) => {
      const grant = await grantFor(request, request.params.job);
      const { digests, bytesPerSecond } = parseBatchRequest(request.body);
      const { lengths, pace } = await grantedImage(grant);
      const pieces = digests.map((digest) => {
        const length = lengths.get(digest);
        if (length === undefined)
          throw new FerryError('GRANT_INVALID', `Chunk ${digest} is not part of the granted image.`);
        return { digest, length, from: 0, to: length };
      });
      const total = pieces.reduce((sum, piece) => sum + piece.length, 0);
      const meter = (bytes: number) =>
        addTransferUsage(ctx.db, {
          accountId: grant.account_id,
          sourceRegion: ctx.region,
          destRegion: grant.dest_region,
          day: timestamp(ctx.clock).slice(0, 10),
          bytes,
        }).catch((error: unknown) => request.log.error({ err: error, job: grant.job_id }, 'metering failed'));
      // The cap is kept here, where bytes leave: paced at the destination, the source would run ahead by what
      // the sockets buffer (megabytes), and a cut or cancel would find those bytes already sent.
      const bucket = pace(bytesPerSecond);
      // Written to the socket by hand (see blobs/read.ts): each chunk is sent from the buffer the store lends.
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': total });
      // Metered as it goes, at most every METER_INTERVAL_MS (a database write each), and at the end.
      let unmetered = 0;
      let meteredAt = performance.now();
      try {
        await writePieces(res, ctx.chunks, pieces, {
          pace: (bytes, signal) => bucket.take(bytes, signal),
          onWritten: (bytes) => {
            unmetered += bytes;
            if (performance.now() - meteredAt < METER_INTERVAL_MS) return;
            meteredAt = performance.now();
            void meter(unmetered);
            unmetered = 0;
          },
        });
        res.end();
      } catch (error) {
        // Cut short: the destination sees the answer end early, a transient error it retries.
        request.log.warn({ err: error, job: grant.job_id }, 'chunk batch cut short');
        res.destroy();
      } finally {
        if (unmetered > 0) await meter(unmetered);
      }
    },
  );

  app.post<{ Params: { job: string } }>('/internal/v1/jobs/:job/state', internal, async (request, reply) => {
    const caller = callerRegion(ctx, request);
    const job = await findJob(ctx.db, request.params.job);
    if (!job || job.role !== 'source' || job.dest_region !== caller) {
      throw new FerryError('JOB_NOT_FOUND', `No job ${request.params.job} replicates into ${caller}.`);
    }
    await applyDestinationState(ctx, job.id, request.body as JobState);
    return reply.code(204).send();
  });

  // A token issued or revoked in another region (identity/token-regions.ts).
  app.post('/internal/v1/tokens', internal, async (request) => {
    callerRegion(ctx, request);
    return { stored: await storeTokenCopy(ctx, parseTokenCopy(request.body)) };
  });

  app.post('/internal/v1/tokens/revoke', internal, async (request) => {
    callerRegion(ctx, request);
    const { user_id: userId, secret_hash: secretHash } = (request.body ?? {}) as Record<string, unknown>;
    if (typeof userId !== 'string' || typeof secretHash !== 'string' || !SECRET_HASH.test(secretHash)) {
      throw new FerryError('VALIDATION_FAILED', 'Send {"user_id", "secret_hash"}.');
    }
    return { revoked: await revokeTokenCopy(ctx, userId, secretHash) };
  });

  app.post('/internal/v1/replicas', internal, async (request, reply) => {
    const caller = callerRegion(ctx, request);
    const state = await createReplica(ctx, caller, request.body as ReplicaRequest);
    return reply.code(201).send(state);
  });

  const replicaJob = async (request: FastifyRequest, jobId: string) => {
    const caller = callerRegion(ctx, request);
    const job = await findJob(ctx.db, jobId);
    if (!job || job.role !== 'destination' || job.source_region !== caller) {
      throw new FerryError('JOB_NOT_FOUND', `No replica job ${jobId} from ${caller}.`);
    }
    return job;
  };

  app.get<{ Params: { job: string } }>('/internal/v1/replicas/:job', internal, async (request) =>
    jobState(await replicaJob(request, request.params.job)),
  );

  app.post<{ Params: { job: string } }>('/internal/v1/replicas/:job/cancel', internal, async (request) =>
    cancelReplica(ctx, await replicaJob(request, request.params.job), 'cancelled from the source region'),
  );
}
