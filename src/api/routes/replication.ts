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
import type { FastifyInstance } from 'fastify';
import { FerryError, type ErrorCode } from '../../domain/errors.js';
import { JOB_STATUSES, JOB_TYPES } from '../../domain/job.js';
import { MAX_COPY_NAME_LENGTH } from '../../domain/replication-rules.js';
import { copyInRegion } from '../../replication/in-region-copy.js';
import { cancelReplica } from '../../replication/replicas.js';
import {
  cancelSourceJob,
  refreshSourceJob,
  startCrossRegionCopies,
  type CrossRegionRequest,
  type Refusal,
} from '../../replication/source-jobs.js';
import { listTransferUsage } from '../../store/grants.js';
import {
  findJob,
  findJobByDestImage,
  listActiveSourceJobs,
  listJobs,
  type JobRow,
} from '../../store/jobs.js';
import type { Principal } from '../../identity/tokens.js';
import { principalOf } from '../auth.js';
import { loadOwnedImage } from '../../images/access.js';
import { jobView } from '../job-view.js';
import { nextLink } from '../page-links.js';
import type { RegionContext } from '../../region/context.js';

type Body = Record<string, unknown>;

/**
 * The request body as an object of known fields. An unknown field is refused rather than ignored: a
 * misspelt `bandwidth_limit` or `regions` would otherwise start an uncapped copy, or one to fewer regions.
 */
function body(value: unknown, fields: readonly string[]): Body {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new FerryError('VALIDATION_FAILED', 'The request body must be a JSON object.');
  }
  const unknown = Object.keys(value).filter((name) => !fields.includes(name));
  if (unknown.length > 0) {
    throw new FerryError(
      'VALIDATION_FAILED',
      `Unknown field${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')}; this call takes ${fields.join(', ')}.`,
    );
  }
  return value as Body;
}

/** Fields of both cross-region calls, besides what names the images. */
const COPY_FIELDS = [
  'name',
  'description',
  'region',
  'regions',
  'project_name',
  'agency_name',
  'vault_id',
  'bandwidth_limit',
] as const;

/** IMS's in-region copy body; `enterprise_project_id` is accepted as IMS clients send it, and not used. */
const IN_REGION_COPY_FIELDS = ['name', 'description', 'cmk_id', 'enterprise_project_id'] as const;

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

function optionalString(b: Body, name: string, max: number): string | undefined {
  const value = b[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || value.length > max) {
    throw new FerryError('VALIDATION_FAILED', `${name} must be a string of at most ${max} characters.`);
  }
  return value;
}

/** A field that may be left out, but not given empty. */
function nonEmpty(name: string, value: string | undefined): string | undefined {
  if (value === '') throw new FerryError('VALIDATION_FAILED', `${name} may be left out, but not empty.`);
  return value;
}

function requiredString(b: Body, name: string, max: number): string {
  const value = optionalString(b, name, max);
  if (value === undefined || value.length === 0)
    throw new FerryError('VALIDATION_FAILED', `${name} is required.`);
  return value;
}

/**
 * The name of a new image (a copy or a replica): 1 to 128 characters, not all blank, without `<`, `>` or
 * control characters (IMS's rule; the console shows these names).
 */
function imageName(b: Body, required: boolean): string | undefined {
  const value = required
    ? requiredString(b, 'name', MAX_COPY_NAME_LENGTH)
    : optionalString(b, 'name', MAX_COPY_NAME_LENGTH);
  if (value === undefined) return undefined;
  if (value.trim().length === 0 || /[<>\p{Cc}]/u.test(value)) {
    throw new FerryError(
      'VALIDATION_FAILED',
      'name must be 1 to 128 characters, not all blank, without <, > or control characters.',
    );
  }
  return value;
}

function stringList(b: Body, name: string): string[] | undefined {
  const value = b[name];
  if (value === undefined) return undefined;
  if (
    !Array.isArray(value) ||
    value.length === 0 ||
    value.length > 50 ||
    !value.every((v) => typeof v === 'string')
  ) {
    throw new FerryError('VALIDATION_FAILED', `${name} must be a list of 1 to 50 strings.`);
  }
  return [...new Set(value as string[])];
}

/**
 * Lowest bandwidth cap accepted (128 KiB/s): the source sends whole 1 MiB chunks as the cap allows, and below
 * this the pause between two chunks would near the transfer's 30 s stall timeout (REGION_CALL_TIMEOUT_MS).
 */
export const MIN_BANDWIDTH_LIMIT = 128 * 1024;

function copyRequest(b: Body): CrossRegionRequest {
  const description = optionalString(b, 'description', 1024);
  if (description !== undefined && /[<>\r]/.test(description)) {
    throw new FerryError('VALIDATION_FAILED', 'description may not contain <, > or carriage returns.');
  }
  const bandwidth = b.bandwidth_limit;
  if (
    bandwidth !== undefined &&
    (typeof bandwidth !== 'number' || !Number.isInteger(bandwidth) || bandwidth < MIN_BANDWIDTH_LIMIT)
  ) {
    throw new FerryError(
      'VALIDATION_FAILED',
      `bandwidth_limit must be an integer number of bytes per second, at least ${MIN_BANDWIDTH_LIMIT} (128 KiB/s).`,
    );
  }
  return {
    name: imageName(b, false),
    description,
    projectName: nonEmpty('project_name', optionalString(b, 'project_name', 255)),
    agencyName: requiredString(b, 'agency_name', 255),
    vaultId: optionalString(b, 'vault_id', 255),
    ...(typeof bandwidth === 'number' ? { bandwidthLimit: bandwidth } : {}),
  };
}

/** Destination regions of a request: `region` (IMS) and/or `regions` (Ferry's extension). */
function destinations(b: Body): string[] {
  const regions = stringList(b, 'regions') ?? [];
  const region = optionalString(b, 'region', 64);
  const all = [...new Set([...(region ? [region] : []), ...regions])];
  if (all.length === 0)
    throw new FerryError('VALIDATION_FAILED', 'Name the destination: region (or regions).');
  return all;
}

export function registerReplicationRoutes(app: FastifyInstance, ctx: RegionContext): void {
  app.post<{ Params: { id: string } }>('/v1/cloudimages/:id/cross_region_copy', async (request) => {
    const principal = principalOf(request);
    const b = body(request.body, COPY_FIELDS);
    const regions = destinations(b);
    const { started, refused } = await startCrossRegionCopies(
      ctx,
      principal,
      [request.params.id],
      regions,
      copyRequest(b),
    );
    if (started.length === 0) throw refusalError(refused);
    return { job_id: started[0]!.job_id, jobs: started, refused };
  });

  app.post('/v1/cloudimages/cross_region_copy', async (request) => {
    const principal = principalOf(request);
    const b = body(request.body, ['image_ids', ...COPY_FIELDS]);
    const imageIds = stringList(b, 'image_ids');
    if (!imageIds)
      throw new FerryError('VALIDATION_FAILED', 'image_ids is required: the images to replicate.');
    const { started, refused } = await startCrossRegionCopies(
      ctx,
      principal,
      imageIds,
      destinations(b),
      copyRequest(b),
    );
    if (started.length === 0) throw refusalError(refused);
    return { jobs: started, refused };
  });

  app.post<{ Params: { id: string } }>('/v1/cloudimages/:id/copy', async (request) => {
    const principal = principalOf(request);
    const b = body(request.body, IN_REGION_COPY_FIELDS);
    const { jobId, imageId } = await copyInRegion(ctx, principal, request.params.id, {
      name: imageName(b, true)!,
      description: optionalString(b, 'description', 1024),
      cmkId: optionalString(b, 'cmk_id', 255),
    });
    return { job_id: jobId, image_id: imageId };
  });

  /** Whether the caller may see this job: its account's, in its project (as images), a source or local row. */
  function isOwnJob(principal: Principal, job: JobRow | undefined): job is JobRow {
    return (
      job !== undefined &&
      job.account_id === principal.accountId &&
      (job.project_id === null || job.project_id === principal.projectId) &&
      job.role !== 'destination'
    );
  }

  async function ownJob(principal: Principal, jobId: string) {
    const job = await findJob(ctx.db, jobId);
    if (!isOwnJob(principal, job)) throw new FerryError('JOB_NOT_FOUND', `No job ${jobId} was found.`);
    return job;
  }

  app.get<{ Params: { job: string } }>('/v1/cloudimages/job/:job', async (request) => {
    const principal = principalOf(request);
    return jobView(await refreshSourceJob(ctx, await ownJob(principal, request.params.job)));
  });

  app.get('/v1/cloudimages/jobs', async (request) => {
    const principal = principalOf(request);
    const query = request.query as Record<string, string | undefined>;
    if (query.status !== undefined && !(JOB_STATUSES as readonly string[]).includes(query.status)) {
      throw new FerryError('VALIDATION_FAILED', `status must be one of ${JOB_STATUSES.join(', ')}.`);
    }
    if (query.job_type !== undefined && !Object.values(JOB_TYPES).includes(query.job_type as never)) {
      throw new FerryError(
        'VALIDATION_FAILED',
        `job_type must be one of ${Object.values(JOB_TYPES).join(', ')}.`,
      );
    }
    const limit = query.limit === undefined ? 100 : Number(query.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 1000) {
      throw new FerryError('VALIDATION_FAILED', 'limit must be an integer from 1 to 1000.');
    }
    let after;
    if (query.marker !== undefined) {
      const marker = await findJob(ctx.db, query.marker);
      if (!isOwnJob(principal, marker)) {
        throw new FerryError('VALIDATION_FAILED', `marker ${query.marker} is not one of your jobs.`);
      }
      after = marker;
    }
    // Unfinished jobs first learn how far their destinations got, so that the status filter sees the truth.
    const active = await listActiveSourceJobs(ctx.db, { accountId: principal.accountId });
    await Promise.all(active.map((job) => refreshSourceJob(ctx, job)));
    const jobs = await listJobs(ctx.db, {
      accountId: principal.accountId,
      projectId: principal.projectId,
      limit,
      ...(query.status !== undefined ? { status: query.status } : {}),
      ...(query.job_type !== undefined ? { jobType: query.job_type } : {}),
      ...(query.image_id !== undefined ? { imageId: query.image_id } : {}),
      ...(after ? { after } : {}),
    });
    const body: { jobs: unknown[]; next?: string } = { jobs: jobs.map(jobView) };
    const last = jobs.at(-1);
    if (last && jobs.length === limit) body.next = nextLink('/v1/cloudimages/jobs', query, last.id);
    return body;
  });

  app.post<{ Params: { job: string } }>('/v1/cloudimages/job/:job/cancel', async (request) => {
    const principal = principalOf(request);
    const job = await ownJob(principal, request.params.job);
    if (job.role !== 'source')
      throw new FerryError('JOB_FINISHED', `Job ${job.id} has already ended (${job.status}).`);
    request.log.info({ audit: 'job.cancel', job: job.id, by: principal.userId }, 'job cancelled');
    return jobView(await cancelSourceJob(ctx, job));
  });

  app.post<{ Params: { id: string } }>('/v1/cloudimages/:id/cancel_copy', async (request) => {
    const principal = principalOf(request);
    const image = await loadOwnedImage(ctx, principal, request.params.id);
    const job = await findJobByDestImage(ctx.db, image.id);
    if (!job || job.role !== 'destination') {
      throw new FerryError('JOB_NOT_FOUND', `Image ${image.id} is not a replica: no replication writes it.`);
    }
    if (image.status !== 'saving') {
      throw new FerryError('JOB_FINISHED', `The replication of image ${image.id} has already ended.`);
    }
    const state = await cancelReplica(ctx, job, 'cancelled from the destination region');
    await ctx.regions
      .call(job.source_region, 'POST', `/internal/v1/jobs/${job.id}/state`, state)
      .catch(() => undefined); // The source learns it at its next refresh otherwise.
    request.log.info({ audit: 'job.cancel', job: job.id, by: principal.userId }, 'replica cancelled');
    return { job_id: job.id, status: state.status };
  });

  app.get('/v1/usage/transfer', async (request) => {
    const principal = principalOf(request);
    const rows = await listTransferUsage(ctx.db, principal.accountId);
    const price = ctx.replication.transferPricePerGiB;
    return {
      region: ctx.region,
      price_per_gib: price,
      usage: rows.map((r) => ({ ...r, cost: Math.round((r.bytes / 1024 ** 3) * price * 1e6) / 1e6 })),
    };
  });
}
