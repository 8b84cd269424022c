/**
 * The region-to-region API (replication/peer-api.ts names every call). Never reachable with a user token:
 * every call must name its region and present that region's credential, which must hash to one the catalog
 * lists for that region, checked before the body is read. A destination reads a source image's manifest and chunks only under the grant the source issued
 * for that one job, and only the chunks that manifest lists (replication/source-reads.ts).
 * @module
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { writePieces } from '../../blobs/read.js';
import type { Digest } from '../../domain/ids.js';
import {
  ChunkBatchRequest,
  GrantManifestQuery,
  JobState,
  PEER_CALLS,
  ReplicaRequest,
  RunningJobsQuery,
  TokenCopy,
  type RunningJobs,
  TokenRevocation,
  UserChange,
} from '../../replication/peer-api.js';
import { applyUserChange } from '../../replication/identity-deliveries.js';
import {
  authenticateRegion,
  GRANT_HEADER,
  REGION_HEADER,
  REGION_SECRET_HEADER,
  verifyRegion,
} from '../../replication/region-call.js';
import { cancelReplica, createReplica, jobState, replicaJobFrom } from '../../replication/replicas.js';
import { acceptDestinationReport, countRunningJobs } from '../../replication/source-jobs.js';
import { createSourceReads } from '../../replication/source-reads.js';
import { revokeTokenCopy, storeTokenCopy } from '../../replication/token-copies.js';
import type { RegionContext } from '../../region/context.js';

type JobParams = { Params: { job: string } };

export function registerInternalRoutes(app: FastifyInstance, ctx: RegionContext): void {
  const reads = createSourceReads(ctx);
  const callerOf = (request: FastifyRequest) =>
    authenticateRegion(ctx.catalog, request.headers[REGION_HEADER], request.headers[REGION_SECRET_HEADER]);
  // No user token; the calling region's credentials instead, checked before the body is read.
  const internal = {
    config: { public: true },
    onRequest: async (request: FastifyRequest) => {
      const { [REGION_HEADER]: name, [REGION_SECRET_HEADER]: secret } = request.headers;
      if (verifyRegion(ctx.catalog, name, secret) !== undefined) return;
      // Before refusing, the catalog file once more: a rotation may have listed the caller's new credential
      // since this region last looked (region/region-trust.ts). Two stat calls when nothing changed.
      await ctx.trust.refresh(request.log);
      callerOf(request);
    },
  };
  const grantOf = (request: FastifyRequest & { params: { job: string } }) =>
    reads.grantFor(callerOf(request), request.params.job, request.headers[GRANT_HEADER]);

  app.get<JobParams & { Querystring: GrantManifestQuery }>(
    PEER_CALLS.grantManifest.pattern,
    { ...internal, schema: { querystring: GrantManifestQuery } },
    async (request, reply) => {
      const manifest = await reads.manifest(
        await grantOf(request),
        request.query.disk === undefined ? undefined : Number(request.query.disk),
      );
      return reply.header('content-type', 'application/octet-stream').send(manifest);
    },
  );

  /**
   * A batch of chunks in one response: the body names up to MAX_CHUNKS_PER_REQUEST digests of the granted
   * manifest, the answer is their bytes back to back in that order (`Content-Length` is the sum; the
   * destination knows each length from the manifest). One request per batch instead of per chunk: the
   * destination streams the answer to disk as it arrives. A chunk the source cannot read cuts the response
   * short, which the destination sees as a transient error. Bytes are metered as they are sent.
   */
  app.post<JobParams & { Body: ChunkBatchRequest }>(
    PEER_CALLS.grantChunks.pattern,
    { ...internal, schema: { body: ChunkBatchRequest } },
    async (request, reply) => {
      const grant = await grantOf(request);
      const batch = await reads.chunkBatch(
        grant,
        request.body.digests as Digest[],
        request.body.bytes_per_second ?? null,
        (error) => request.log.error({ err: error, job: grant.job_id }, 'metering failed'),
      );
      // Written to the socket by hand (see blobs/read.ts): each chunk is sent from the buffer the store lends.
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': batch.bytes });
      try {
        const onWritten = (bytes: number) => {
          batch.sent(bytes);
          ctx.metrics.replicationSentBytes.inc(bytes);
        };
        await writePieces(res, ctx.chunks, batch.pieces, { pace: batch.pace, onWritten });
        res.end();
      } catch (error) {
        // Cut short: the destination sees the answer end early, a transient error it retries.
        request.log.warn({ err: error, job: grant.job_id }, 'chunk batch cut short');
        res.destroy();
      } finally {
        await batch.flush();
      }
    },
  );

  app.post<JobParams & { Body: JobState }>(
    PEER_CALLS.jobState.pattern,
    { ...internal, schema: { body: JobState } },
    async (request, reply) => {
      await acceptDestinationReport(ctx, callerOf(request), request.params.job, request.body);
      return reply.code(204).send();
    },
  );

  // Another region counts a user's running replications across all regions (replication/running-limit.ts).
  app.post<{ Body: RunningJobsQuery }>(
    PEER_CALLS.runningJobs.pattern,
    { ...internal, schema: { body: RunningJobsQuery } },
    async (request): Promise<RunningJobs> => ({ running: await countRunningJobs(ctx, request.body.user_id) }),
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

  // A user's tokens revoked, or the user disabled or enabled, in another region (replication/identity-deliveries.ts).
  app.post<{ Body: UserChange }>(
    PEER_CALLS.identityChange.pattern,
    { ...internal, schema: { body: UserChange } },
    async (request) => applyUserChange(ctx, request.body),
  );

  app.post<{ Body: ReplicaRequest }>(
    PEER_CALLS.createReplica.pattern,
    { ...internal, schema: { body: ReplicaRequest } },
    async (request, reply) => reply.code(201).send(await createReplica(ctx, callerOf(request), request.body)),
  );

  app.get<JobParams>(PEER_CALLS.replicaState.pattern, internal, async (request) =>
    jobState(await replicaJobFrom(ctx, callerOf(request), request.params.job)),
  );

  app.post<JobParams>(PEER_CALLS.cancelReplica.pattern, internal, async (request) =>
    cancelReplica(
      ctx,
      await replicaJobFrom(ctx, callerOf(request), request.params.job),
      'cancelled from the source region',
    ),
  );
}
