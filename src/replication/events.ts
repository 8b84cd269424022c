/**
 * Events of a replication, recorded in its source region (where the user asked for it): per destination (per
 * job) `replication.started`, the progress milestones `replication.progress.25`, `.50` and `.75`, and its end,
 * `replication.succeeded`, `replication.failed` or `replication.cancelled`; per request (one replication call,
 * which may start a job per image and destination) `request.started` once its jobs are started, and
 * `request.finished` once every one of them has ended, with how many succeeded, failed or were cancelled.
 * A request's events carry its ID in `job_id`, and every event of the request carries it in `request_id`.
 * Each is recorded once per job or request (a state learnt twice is one event), with a delivery to each of the
 * account's webhooks (region/webhook-sender.ts sends them). The
 * source learns a job's progress from its destination, which pushes its state at each milestone and at its end
 * (transfer.ts), besides the reads that pull it.
 * @module
 */
import { newHexId } from '../domain/ids.js';
import { isTerminal, processPercent } from '../domain/job.js';
import { timestamp } from '../store/clock.js';
import { hasEvent, listEvents, recordEvent, type EventFilters, type EventRow } from '../store/events.js';
import type { Principal } from '../identity/tokens.js';
import { listJobsOfRequest, progressOf, type JobRow } from '../store/jobs.js';
import type { RegionContext } from '../region/context.js';
import type { Db } from '../store/db.js';

export const EVENT_TYPES = [
  'replication.started',
  'replication.progress.25',
  'replication.progress.50',
  'replication.progress.75',
  'replication.succeeded',
  'replication.failed',
  'replication.cancelled',
  'request.started',
  'request.finished',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** The milestones, in per cent of the image in place at the destination. */
export const MILESTONES = [25, 50, 75] as const;

const END_EVENTS: Record<string, EventType> = {
  SUCCESS: 'replication.succeeded',
  FAIL: 'replication.failed',
  CANCELLED: 'replication.cancelled',
};

/** The share of the job's image in place, 0..1. */
export function percentOf(job: JobRow): number {
  return processPercent(progressOf(job), job.status);
}

async function record(ctx: RegionContext, db: Db, job: JobRow, type: EventType): Promise<void> {
  await recordEvent(db, {
    id: newHexId<string>(),
    account_id: job.account_id,
    type,
    job_id: job.id,
    image_id: job.source_image_id,
    details: JSON.stringify({
      source_region: job.source_region,
      dest_region: job.dest_region,
      dest_image_id: job.dest_image_id,
      status: job.status,
      process_percent: percentOf(job),
      ...(job.error_code ? { error_code: job.error_code, fail_reason: job.fail_reason } : {}),
    }),
    created_at: timestamp(ctx.clock),
    rank: EVENT_TYPES.indexOf(type),
    request_id: job.request_id,
  });
}

/** A source job was created and its destination took it. */
export function recordStarted(ctx: RegionContext, job: JobRow): Promise<void> {
  return record(ctx, ctx.db, job, 'replication.started');
}

/**
 * The job events a source job's state means, in order: its start, each milestone reached, its end. A success
 * has reached every milestone, whatever bytes its last report counted: a milestone's report that arrives after
 * the end (they are sent without waiting) then finds its event recorded, before the end's.
 */
function impliedBy(job: JobRow): EventType[] {
  const percent = job.status === 'SUCCESS' ? 100 : percentOf(job) * 100;
  return [
    'replication.started',
    ...MILESTONES.filter((m) => percent >= m).map((m): EventType => `replication.progress.${m}`),
    ...(isTerminal(job.status) ? [END_EVENTS[job.status]!] : []),
  ];
}

/**
 * Records the events a source job's state means, when it means one its state `before` the change did not (all
 * of them without `before`). Its start is always among them (a fast job's end may arrive before the request
 * that started it recorded its start). A state read again unchanged costs no write.
 */
export async function recordProgress(
  ctx: RegionContext,
  job: JobRow,
  before?: JobRow,
  db: Db = ctx.db,
): Promise<void> {
  if (job.role !== 'source') return;
  const had = new Set(before ? impliedBy(before) : []);
  const now = impliedBy(job);
  if (now.every((type) => had.has(type))) return;
  // Every event the state means, in order, each recorded once (a repeat is no event): not only those `before`
  // lacked, which another report, read at the same moment, may not have recorded yet when this one records
  // the end. So an end is always recorded after the milestones it passed.
  for (const type of now) await record(ctx, db, job, type);
  if (isTerminal(job.status) && job.request_id !== null) await recordRequestProgress(ctx, db, job.request_id);
}

async function recordRequest(
  ctx: RegionContext,
  db: Db,
  requestId: string,
  jobs: readonly JobRow[],
  type: 'request.started' | 'request.finished',
  details: Record<string, unknown>,
): Promise<void> {
  const images = [...new Set(jobs.map((job) => job.source_image_id))];
  await recordEvent(db, {
    id: newHexId<string>(),
    account_id: jobs[0]!.account_id,
    type,
    job_id: requestId,
    // A request of one image is found by that image too.
    image_id: images.length === 1 ? images[0]! : '',
    details: JSON.stringify({
      jobs: jobs.map((job) => ({
        job_id: job.id,
        image_id: job.source_image_id,
        dest_region: job.dest_region,
        ...(type === 'request.finished' ? { status: job.status } : {}),
      })),
      ...details,
    }),
    created_at: timestamp(ctx.clock),
    rank: EVENT_TYPES.indexOf(type),
    request_id: requestId,
  });
}

/**
 * A replication call started its jobs (`refused`: the image-region pairs it refused). Recorded after the last
 * job was created, so that a request's end is never judged on part of its jobs; if they all ended meanwhile,
 * its end follows at once.
 */
export async function recordRequestStarted(
  ctx: RegionContext,
  requestId: string,
  refused: number,
): Promise<void> {
  const jobs = await listJobsOfRequest(ctx.db, requestId);
  if (jobs.length === 0) return;
  await recordRequest(ctx, ctx.db, requestId, jobs, 'request.started', { refused });
  await recordRequestProgress(ctx, ctx.db, requestId);
}

/** Records the request's end once every one of its jobs has ended (and the request had started them all). */
async function recordRequestProgress(ctx: RegionContext, db: Db, requestId: string): Promise<void> {
  if (!(await hasEvent(db, requestId, 'request.started'))) return;
  const jobs = await listJobsOfRequest(db, requestId);
  if (jobs.length === 0 || !jobs.every((job) => isTerminal(job.status))) return;
  const count = (status: string) => jobs.filter((job) => job.status === status).length;
  await recordRequest(ctx, db, requestId, jobs, 'request.finished', {
    succeeded: count('SUCCESS'),
    failed: count('FAIL'),
    cancelled: count('CANCELLED'),
  });
}

/** The caller's account's events in this region, oldest first, filtered. */
export async function eventsOf(
  ctx: RegionContext,
  principal: Principal,
  filters: Omit<EventFilters, 'accountId'>,
): Promise<Array<Omit<EventRow, 'account_id' | 'details' | 'rank'> & { details: unknown }>> {
  const events = await listEvents(ctx.db, { ...filters, accountId: principal.accountId });
  return events.map(({ account_id: _account, rank: _rank, details, ...event }) => ({
    ...event,
    details: JSON.parse(details) as unknown,
  }));
}
