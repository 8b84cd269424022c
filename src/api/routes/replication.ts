/**
 * The replication API, shaped like Huawei IMS with Ferry's extensions:
 * - `POST /v1/cloudimages/{image_id}/cross_region_copy` (`name`, `description`, `region`, `project_name`,
 *   `agency_name`, `vault_id`; extension: `regions` for several destinations, one job each) → `{job_id}`;
 * - `POST /v1/cloudimages/cross_region_copy` (extension: `image_ids`, several images to one region) →
 *   one job per eligible image and a reason for each refused one;
 * - `POST /v1/cloudimages/{image_id}/copy` (in-region copy: `name`, `description`, `cmk_id`) → `{job_id}`;
 * - `GET /v1/cloudimages/job/{job_id}`, `GET /v1/cloudimages/jobs` (the caller's jobs, filtered);
 * - `POST /v1/cloudimages/job/{job_id}/cancel` (from the source) and
 *   `POST /v1/cloudimages/{image_id}/cancel_copy` (from the destination, by the new image's id);
 * - `GET /v1/usage/transfer` (metered traffic between regions, with its price).
 * @module
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { FerryError, type ErrorCode } from '../../domain/errors.js';
import { copyInRegion } from '../../replication/in-region-copy.js';
import { cancelOwnJob, cancelReplicationInto, listOwnJobs, showOwnJob } from '../../replication/own-jobs.js';
import {
  startCrossRegionCopies,
  type CrossRegionRequest,
  type Refusal,
} from '../../replication/source-jobs.js';
import { transferUsage } from '../../replication/transfer-usage.js';
import { usageCsv, usageReport } from '../../replication/usage.js';
import { Type } from 'typebox';
import { oneOf } from '../schemas/common.js';
import { oncePerClientToken } from '../../replication/client-tokens.js';
import { principalOf } from '../auth.js';
import { imsShapedRefusals } from '../ims-errors.js';
import { jobView } from '../job-view.js';
import { nextLink } from '../page-links.js';
import type { RegionContext } from '../../region/context.js';
import { IdParams } from '../schemas/common.js';
import {
  BatchCrossRegionCopyBody,
  CrossRegionCopyBody,
  InRegionCopyBody,
  JobListQuery,
  JobParams,
} from '../schemas/replication.js';

/**
 * The error for a call that started nothing: one refusal is answered as itself (as IMS does); several
 * share a code if they share a reason, else REPLICATION_REFUSED; `details.refused` lists each.
 */
function refusalError(refused: readonly Refusal[]): FerryError {
  const first = refused[0]!;
  if (refused.length === 1) return new FerryError(first.error.code as ErrorCode, first.error.message);
  if (refused.every((r) => r.error.code === first.error.code))
    return new FerryError(first.error.code as ErrorCode, first.error.message, { refused });
  return new FerryError(
    'REPLICATION_REFUSED',
    'Nothing can be replicated; details.refused gives each reason.',
    {
      refused,
    },
  );
}

/** A copy's fields as the use case takes them; null is as left out. */
function copyRequest(b: CrossRegionCopyBody): CrossRegionRequest {
  if (b.name != null && b.name_prefix !== undefined) {
    throw new FerryError('VALIDATION_FAILED', 'Give name or name_prefix, not both.');
  }
  return {
    name: b.name ?? undefined,
    namePrefix: b.name_prefix,
    shareWith: b.share_with,
    description: b.description ?? undefined,
    projectName: b.project_name ?? undefined,
    agencyName: b.agency_name,
    vaultId: b.vault_id ?? undefined,
    ...(b.bandwidth_limit !== undefined ? { bandwidthLimit: b.bandwidth_limit } : {}),
  };
}

/** Destination regions of a request: `region` (IMS) and/or `regions` (Ferry's extension). */
function destinations(b: Pick<CrossRegionCopyBody, 'region' | 'regions'>): string[] {
  const all = [...new Set([...(b.region ? [b.region] : []), ...(b.regions ?? [])])];
  if (all.length === 0)
    throw new FerryError('VALIDATION_FAILED', 'Name the destination: region (or regions).');
  return all;
}

const TAGS = ['Replication (IMS)'];

/** The header form of `client_token` (replication/client-tokens.ts). */
const CLIENT_TOKEN_HEADER = 'x-client-token';

/** The request's client token, from its body or its X-Client-Token header (both: they must agree). */
function clientTokenOf(request: FastifyRequest): string | undefined {
  const inBody = (request.body as { client_token?: string }).client_token;
  const header = request.headers[CLIENT_TOKEN_HEADER];
  if (header !== undefined && (typeof header !== 'string' || !/^[\x21-\x7e]{1,64}$/.test(header))) {
    throw new FerryError(
      'VALIDATION_FAILED',
      'X-Client-Token must be 1 to 64 printable ASCII characters, once.',
    );
  }
  if (inBody !== undefined && header !== undefined && inBody !== header) {
    throw new FerryError('VALIDATION_FAILED', 'client_token and X-Client-Token differ: give one of them.');
  }
  return inBody ?? header;
}

/** What a client token stands for: the call, its path and its body without the token. */
function submitted(request: FastifyRequest): unknown {
  const body = { ...(request.body as Record<string, unknown>), client_token: undefined };
  return { call: request.routeOptions.url, params: request.params, body };
}

export function registerReplicationRoutes(app: FastifyInstance, ctx: RegionContext): void {
  app.post<{ Params: { id: string }; Body: CrossRegionCopyBody }>(
    '/v1/cloudimages/:id/cross_region_copy',
    {
      schema: {
        summary: 'Replicate an image to one or more regions (one job each)',
        tags: TAGS,
        params: IdParams,
        body: CrossRegionCopyBody,
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const b = request.body;
      return oncePerClientToken(ctx, principal, clientTokenOf(request), submitted(request), async () => {
        const { requestId, started, refused } = await startCrossRegionCopies(
          ctx,
          principal,
          [request.params.id],
          destinations(b),
          copyRequest(b),
          request.id,
        );
        if (started.length === 0) throw refusalError(refused);
        return {
          job_id: started[0]!.job_id,
          request_id: requestId,
          jobs: started,
          refused: imsShapedRefusals(refused),
        };
      });
    },
  );

  app.post<{ Body: BatchCrossRegionCopyBody }>(
    '/v1/cloudimages/cross_region_copy',
    {
      schema: {
        summary: 'Replicate several images to one or more regions (one job per image and region)',
        tags: TAGS,
        body: BatchCrossRegionCopyBody,
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const b = request.body;
      return oncePerClientToken(ctx, principal, clientTokenOf(request), submitted(request), async () => {
        const { requestId, started, refused } = await startCrossRegionCopies(
          ctx,
          principal,
          [...new Set(b.image_ids)],
          destinations(b),
          copyRequest(b),
          request.id,
        );
        if (started.length === 0) throw refusalError(refused);
        return { request_id: requestId, jobs: started, refused: imsShapedRefusals(refused) };
      });
    },
  );

  app.post<{ Params: { id: string }; Body: InRegionCopyBody }>(
    '/v1/cloudimages/:id/copy',
    {
      schema: {
        summary: 'Copy an image within its region',
        tags: TAGS,
        params: IdParams,
        body: InRegionCopyBody,
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const b = request.body;
      return oncePerClientToken(ctx, principal, clientTokenOf(request), submitted(request), async () => {
        const { jobId, imageId } = await copyInRegion(ctx, principal, request.params.id, {
          name: b.name,
          description: b.description ?? undefined,
          cmkId: b.cmk_id ?? undefined,
        });
        return { job_id: jobId, image_id: imageId };
      });
    },
  );

  app.get<{ Params: { job: string } }>(
    '/v1/cloudimages/job/:job',
    { schema: { summary: 'Show a job (IMS job view)', tags: TAGS, params: JobParams } },
    async (request) => jobView(await showOwnJob(ctx, principalOf(request), request.params.job)),
  );

  app.get<{ Querystring: JobListQuery }>(
    '/v1/cloudimages/jobs',
    { schema: { summary: "List your account's jobs in this region", tags: TAGS, querystring: JobListQuery } },
    async (request) => {
      const query = request.query;
      const limit = query.limit === undefined ? 100 : Number(query.limit);
      const jobs = await listOwnJobs(ctx, principalOf(request), {
        limit,
        status: query.status,
        jobType: query.job_type,
        imageId: query.image_id,
        marker: query.marker,
      });
      const body: { jobs: unknown[]; next?: string } = { jobs: jobs.map(jobView) };
      const last = jobs.at(-1);
      if (last && jobs.length === limit) body.next = nextLink('/v1/cloudimages/jobs', query, last.id);
      return body;
    },
  );

  app.post<{ Params: { job: string } }>(
    '/v1/cloudimages/job/:job/cancel',
    { schema: { summary: 'Cancel a job, from its source region', tags: TAGS, params: JobParams } },
    async (request) => {
      const principal = principalOf(request);
      const job = await cancelOwnJob(ctx, principal, request.params.job);
      request.log.info({ audit: 'job.cancel', job: job.id, by: principal.userId }, 'job cancelled');
      return jobView(job);
    },
  );

  app.post<{ Params: { id: string } }>(
    '/v1/cloudimages/:id/cancel_copy',
    {
      schema: {
        summary: "Cancel a replication from the destination region, by the replica's ID",
        tags: TAGS,
        params: IdParams,
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const state = await cancelReplicationInto(ctx, principal, request.params.id);
      request.log.info({ audit: 'job.cancel', job: state.job_id, by: principal.userId }, 'replica cancelled');
      return { job_id: state.job_id, status: state.status };
    },
  );

  app.get<{ Querystring: { format?: 'json' | 'csv' } }>(
    '/v1/usage',
    {
      schema: {
        summary: 'Your usage in this region per day: traffic to each region and image storage, priced',
        tags: ['Usage'],
        querystring: Type.Object({ format: Type.Optional(oneOf(['json', 'csv'] as const)) }),
      },
    },
    async (request, reply) => {
      const report = await usageReport(ctx, principalOf(request));
      if (request.query.format !== 'csv') return report;
      return reply
        .header('content-type', 'text/csv; charset=utf-8')
        .header('content-disposition', `attachment; filename="ferry-usage-${ctx.region}.csv"`)
        .send(usageCsv(report));
    },
  );

  app.get(
    '/v1/usage/transfer',
    {
      schema: {
        summary: 'Traffic between regions metered for your account, with its price',
        tags: ['Usage'],
      },
    },
    async (request) => transferUsage(ctx, principalOf(request)),
  );
}
