/**
 * Events of a replication, recorded in its source region (where the user asked for it): `replication.started`,
 * the progress milestones `replication.progress.25`, `.50` and `.75`, and its end, `replication.succeeded`,
 * `replication.failed` or `replication.cancelled`. Each is recorded once per job (a state learnt twice is one
 * event), with a delivery to each of the account's webhooks (region/webhook-sender.ts sends them). The
 * source learns a job's progress from its destination, which pushes its state at each milestone and at its end
 * (transfer.ts), besides the reads that pull it.
 * @module
 */
import { newHexId } from '../domain/ids.js';
import { isTerminal, processPercent } from '../domain/job.js';
import { timestamp } from '../store/clock.js';
import { listEvents, recordEvent, type EventFilters, type EventRow } from '../store/events.js';
import type { Principal } from '../identity/tokens.js';
import { progressOf, type JobRow } from '../store/jobs.js';
import type { RegionContext } from '../region/context.js';

export const EVENT_TYPES = [
  'replication.started',
  'replication.progress.25',
  'replication.progress.50',
  'replication.progress.75',
  'replication.succeeded',
  'replication.failed',
  'replication.cancelled',
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

async function record(ctx: RegionContext, job: JobRow, type: EventType): Promise<void> {
  await recordEvent(ctx.db, {
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
  });
}

/** A source job was created and its destination took it. */
export function recordStarted(ctx: RegionContext, job: JobRow): Promise<void> {
  return record(ctx, job, 'replication.started');
}

/**
 * The events a source job's state now means, in order: its start (if a fast job's end arrived before the
 * request that started it had recorded it), each milestone it has reached, then its end.
 */
export async function recordProgress(ctx: RegionContext, job: JobRow): Promise<void> {
  if (job.role !== 'source') return;
  await recordStarted(ctx, job);
  const percent = percentOf(job) * 100;
  for (const milestone of MILESTONES) {
    if (percent >= milestone) await record(ctx, job, `replication.progress.${milestone}`);
  }
  if (isTerminal(job.status)) await record(ctx, job, END_EVENTS[job.status]!);
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
