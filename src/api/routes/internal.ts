/**
 * The region-to-region API. Never reachable with a user token: every call must name its region and present
 * that region's secret from the catalog. A destination reads a source image's manifest and chunks only under
 * the grant the source issued for that one job, and only the chunks that manifest lists.
 * @module
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { findRegion } from '../../config/catalog.js';
import { FerryError } from '../../domain/errors.js';
import type { Digest } from '../../domain/ids.js';
import { isDigest } from '../../domain/ids.js';
import { distinctDigests, serializeManifest } from '../../domain/manifest.js';
import { hashSecret } from '../../identity/tokens.js';
import {
  createReplica,
  cancelReplica,
  jobState,
  type JobState,
  type ReplicaRequest,
} from '../../replication/replicas.js';
import { GRANT_HEADER, REGION_HEADER, REGION_SECRET_HEADER } from '../../replication/region-client.js';
import { applyDestinationState } from '../../replication/source-jobs.js';
import { timestamp } from '../../store/clock.js';
import { addTransferUsage, findGrant, type GrantRow } from '../../store/grants.js';
import { findJob } from '../../store/jobs.js';
import type { RegionContext } from '../context.js';

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

/** Chunk lists of granted manifests, kept for the few jobs being served (a set lookup per chunk request). */
const MANIFEST_CACHE_SIZE = 16;

export function registerInternalRoutes(app: FastifyInstance, ctx: RegionContext): void {
  const granted = new Map<string, Set<string>>();
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

  async function grantedDigests(grant: GrantRow): Promise<Set<string>> {
    let digests = granted.get(grant.job_id);
    if (!digests) {
      const manifest = await ctx.chunks.getManifest(grant.manifest_digest as Digest);
      digests = new Set(distinctDigests(manifest));
      if (granted.size >= MANIFEST_CACHE_SIZE) granted.delete(granted.keys().next().value!);
      granted.set(grant.job_id, digests);
    }
    return digests;
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

  app.get<{ Params: { job: string; digest: string } }>(
    '/internal/v1/grants/:job/chunks/:digest',
    internal,
    async (request, reply) => {
      const grant = await grantFor(request, request.params.job);
      const digest = request.params.digest;
      if (!isDigest(digest) || !(await grantedDigests(grant)).has(digest)) {
        throw new FerryError('GRANT_INVALID', `Chunk ${digest} is not part of the granted image.`);
      }
      const data = await ctx.chunks.getChunk(digest);
      await addTransferUsage(ctx.db, {
        accountId: grant.account_id,
        sourceRegion: ctx.region,
        destRegion: grant.dest_region,
        day: timestamp(ctx.clock).slice(0, 10),
        bytes: data.length,
      });
      return reply.header('content-type', 'application/octet-stream').send(data);
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
