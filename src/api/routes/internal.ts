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
import { chunkLength, serializeManifest } from '../../domain/manifest.js';
import { hashSecret } from '../../identity/tokens.js';
import { createReplica, cancelReplica, jobState } from '../../replication/replicas.js';
import {
  ChunkBatchRequest,
  JobState,
  PEER_CALLS,
  ReplicaRequest,
  TokenCopy,
  TokenRevocation,
} from '../../replication/peer-api.js';
import { createTokenBucket, type TokenBucket } from '../../lib/token-bucket.js';
import { applyDestinationState } from '../../replication/source-jobs.js';
import { timestamp } from '../../store/clock.js';
import { addTransferUsage, findGrant, type GrantRow } from '../../store/grants.js';
import { revokeTokenCopy, storeTokenCopy } from '../../replication/token-copies.js';
import { findJob } from '../../store/jobs.js';
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

/** Chunk lengths of granted manifests, kept for the few jobs being served (a lookup per requested chunk). */
const MANIFEST_CACHE_SIZE = 16;

/** How often a batch being sent adds its bytes to the transfer usage (default: 500 ms). */
const METER_INTERVAL_MS = 500;

interface GrantedImage {
  readonly lengths: ReadonlyMap<string, number>;
  readonly pace: (bytesPerSecond: number | null) => TokenBucket;
}

export function registerInternalRoutes(app: FastifyInstance, ctx: RegionContext): void {
  const granted = new Map<string, Promise<GrantedImage>>();
  // No user token; the calling region's credentials instead, checked before the body is read.
  const internal = {
    config: { public: true },
    onRequest: async (request: FastifyRequest) => void callerRegion(ctx, request),
  };

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

  app.get<{ Params: { job: string } }>(PEER_CALLS.grantManifest.pattern, internal, async (request, reply) => {
    const grant = await grantFor(request, request.params.job);
    const manifest = await ctx.chunks.getManifest(grant.manifest_digest as Digest);
    return reply.header('content-type', 'application/octet-stream').send(serializeManifest(manifest));
  });

  /**
   * A batch of chunks in one response: the body names up to MAX_CHUNKS_PER_REQUEST digests of the granted
   * manifest, the answer is their bytes back to back in that order (`Content-Length` is the sum; the
   * destination knows each length from the manifest). One request per batch instead of per chunk: the
   * destination streams the answer to disk as it arrives. A chunk the source cannot read cuts the response
   * short, which the destination sees as a transient error. Bytes are metered as they are sent.
   */
  app.post<{ Params: { job: string }; Body: ChunkBatchRequest }>(
    PEER_CALLS.grantChunks.pattern,
    { ...internal, schema: { body: ChunkBatchRequest } },
    async (request, reply) => {
      const grant = await grantFor(request, request.params.job);
      const digests = request.body.digests as Digest[];
      const bytesPerSecond = request.body.bytes_per_second ?? null;
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

  app.post<{ Params: { job: string }; Body: JobState }>(
    PEER_CALLS.jobState.pattern,
    { ...internal, schema: { body: JobState } },
    async (request, reply) => {
      const caller = callerRegion(ctx, request);
      const job = await findJob(ctx.db, request.params.job);
      if (!job || job.role !== 'source' || job.dest_region !== caller || request.body.job_id !== job.id) {
        throw new FerryError('JOB_NOT_FOUND', `No job ${request.params.job} replicates into ${caller}.`);
      }
      await applyDestinationState(ctx, job.id, request.body);
      return reply.code(204).send();
    },
  );

  // A token issued or revoked in another region (replication/token-copies.ts).
  app.post<{ Body: TokenCopy }>(
    PEER_CALLS.copyToken.pattern,
    { ...internal, schema: { body: TokenCopy } },
    async (request) => ({ stored: await storeTokenCopy(ctx, request.body) }),
  );

  app.post<{ Body: TokenRevocation }>(
    PEER_CALLS.revokeToken.pattern,
    { ...internal, schema: { body: TokenRevocation } },
    async (request) => ({
      revoked: await revokeTokenCopy(ctx, request.body.user_id, request.body.secret_hash),
    }),
  );

  app.post<{ Body: ReplicaRequest }>(
    PEER_CALLS.createReplica.pattern,
    { ...internal, schema: { body: ReplicaRequest } },
    async (request, reply) => {
      const caller = callerRegion(ctx, request);
      const state = await createReplica(ctx, caller, request.body);
      return reply.code(201).send(state);
    },
  );

  const replicaJob = async (request: FastifyRequest, jobId: string) => {
    const caller = callerRegion(ctx, request);
    const job = await findJob(ctx.db, jobId);
    if (!job || job.role !== 'destination' || job.source_region !== caller) {
      throw new FerryError('JOB_NOT_FOUND', `No replica job ${jobId} from ${caller}.`);
    }
    return job;
  };

  app.get<{ Params: { job: string } }>(PEER_CALLS.replicaState.pattern, internal, async (request) =>
    jobState(await replicaJob(request, request.params.job)),
  );

  app.post<{ Params: { job: string } }>(PEER_CALLS.cancelReplica.pattern, internal, async (request) =>
    cancelReplica(ctx, await replicaJob(request, request.params.job), 'cancelled from the source region'),
  );
}
