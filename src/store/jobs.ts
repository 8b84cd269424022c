/**
 * Job rows, one function per query. Every write made under a lease filters on `locked_by = me`, so a worker
 * whose lease was taken over cannot overwrite the new owner's progress (docs/design.md, "Jobs").
 * @module
 */
import {
  ACTIVE_JOB_STATUSES,
  isTerminal,
  statusesBefore,
  type JobProgress,
  type JobRole,
  type JobStatus,
} from '../domain/job.js';
import { sql } from 'kysely';
import { isSqlite, type Db } from './db.js';
import type { JobsTable } from './schema.js';

export type JobRow = JobsTable;

const ACTIVE = ACTIVE_JOB_STATUSES;

export async function insertJob(db: Db, row: JobRow): Promise<void> {
  await db.insertInto('jobs').values(row).execute();
}

export async function findJob(db: Db, id: string): Promise<JobRow | undefined> {
  return db.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function findJobsByIds(db: Db, ids: string[]): Promise<JobRow[]> {
  if (ids.length === 0) return [];
  return db.selectFrom('jobs').selectAll().where('id', 'in', ids).execute();
}

export async function findJobByDestImage(db: Db, imageId: string): Promise<JobRow | undefined> {
  return db
    .selectFrom('jobs')
    .selectAll()
    .where('dest_image_id', '=', imageId)
    .where('role', 'in', ['destination', 'local'])
    .executeTakeFirst();
}

export interface JobFilters {
  accountId: string;
  /** The caller's project: jobs of the account's other projects are not listed. */
  projectId: string;
  status?: JobStatus;
  jobType?: string;
  imageId?: string;
  limit: number;
  /** The page starts after this job (the last one of the previous page). */
  after?: Pick<JobRow, 'begin_time' | 'id'>;
}

/** The account's jobs as this region knows them (source and local rows, not destination copies), newest first. */
export async function listJobs(db: Db, filters: JobFilters): Promise<JobRow[]> {
  let query = db
    .selectFrom('jobs')
    .selectAll()
    .where('account_id', '=', filters.accountId)
    .where((eb) => eb.or([eb('project_id', '=', filters.projectId), eb('project_id', 'is', null)]))
    .where('role', 'in', ['source', 'local']);
  if (filters.status !== undefined) query = query.where('status', '=', filters.status);
  if (filters.jobType !== undefined) query = query.where('job_type', '=', filters.jobType);
  if (filters.imageId !== undefined) {
    const imageId = filters.imageId;
    query = query.where((eb) =>
      eb.or([eb('source_image_id', '=', imageId), eb('dest_image_id', '=', imageId)]),
    );
  }
  const after = filters.after;
  if (after !== undefined) {
    query = query.where((eb) =>
      eb.or([
        eb('begin_time', '<', after.begin_time),
        eb.and([eb('begin_time', '=', after.begin_time), eb('id', '<', after.id)]),
      ]),
    );
  }
  return query.orderBy('begin_time', 'desc').orderBy('id', 'desc').limit(filters.limit).execute();
}

/**
 * Unfinished source jobs of a user (the concurrency rule counts them) or of an account (a job list refreshes
 * them from their destinations first).
 */
export async function listActiveSourceJobs(
  db: Db,
  of: { userId: string } | { accountId: string },
): Promise<JobRow[]> {
  const query = db.selectFrom('jobs').selectAll().where('role', '=', 'source').where('status', 'in', ACTIVE);
  return (
    'userId' in of ? query.where('user_id', '=', of.userId) : query.where('account_id', '=', of.accountId)
  ).execute();
}

/**
 * Inserts a user's source job, unless `check` throws for the number of the user's unfinished source jobs with it
 * included; then nothing is inserted. One user's inserts are taken one at a time (a PostgreSQL advisory lock on
 * the user; SQLite's writers are one at a time already), so requests sent at once, to any process of the
 * region, each count the jobs the others inserted: counting after the insert without it let two transactions
 * each miss the other's uncommitted row on PostgreSQL and pass the limit together.
 */
export async function insertSourceJobWithin(
  db: Db,
  job: JobRow,
  check: (activeJobs: number) => void,
): Promise<void> {
  await db.transaction().execute(async (trx) => {
    if (!isSqlite(db)) {
      await sql`select pg_advisory_xact_lock(hashtext(${`ferry.source-jobs.${job.user_id}`}))`.execute(trx);
    }
    await trx.insertInto('jobs').values(job).execute();
    const row = await trx
      .selectFrom('jobs')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('user_id', '=', job.user_id)
      .where('role', '=', 'source')
      .where('status', 'in', ACTIVE)
      .executeTakeFirstOrThrow();
    check(Number(row.n));
  });
}

/** Unfinished source jobs reading an image (they lock it against change and deletion). */
export async function listActiveSourceJobsOfImage(db: Db, imageId: string): Promise<JobRow[]> {
  return db
    .selectFrom('jobs')
    .selectAll()
    .where('source_image_id', '=', imageId)
    .where('role', '=', 'source')
    .where('status', 'in', ACTIVE)
    .execute();
}

/** The source jobs one replication call started. */
export async function listJobsOfRequest(db: Db, requestId: string): Promise<JobRow[]> {
  return db
    .selectFrom('jobs')
    .selectAll()
    .where('request_id', '=', requestId)
    .where('role', '=', 'source')
    .orderBy('begin_time')
    .orderBy('id')
    .execute();
}

/** Manifests unfinished jobs are assembling here (garbage collection must keep their chunks). */
export async function listActiveJobManifests(db: Db): Promise<string[]> {
  const rows = await db
    .selectFrom('jobs')
    .select('manifest_digest')
    .where('role', 'in', ['destination', 'local'])
    .where('status', 'in', ACTIVE)
    .where('manifest_digest', 'is not', null)
    .execute();
  return rows.map((r) => r.manifest_digest!);
}

/** A change to a job's row; its status changes only as domain/job.ts's transitions allow (updateJob). */
export type JobUpdate = Partial<Omit<JobRow, 'id' | 'role'>>;

/**
 * Who changes a job: this region in its role (the source's row, a destination's row when cancelled, a local
 * copy), or the worker holding the job's lease (a worker whose lease was taken over changes nothing).
 */
export type JobHolder = { role: JobRole } | { worker: string };

/**
 * Changes an unfinished job: every change of a job's status goes through here, and the status may only move
 * as domain/job.ts allows (the statuses it may come from are the query's guard, so a concurrent cancel or
 * finish is never overwritten). Returns false if nothing changed: the job had finished, could not move to the
 * new status, or is not `holder`'s.
 */
export async function updateJob(db: Db, id: string, holder: JobHolder, update: JobUpdate): Promise<boolean> {
  // A destination presents its grant's secret to the source, so it keeps it as it is (a hash would not do),
  // but only while the job can still read: a finished job forgets it.
  const forget = update.status !== undefined && isTerminal(update.status) ? { grant_secret: null } : {};
  let query = db
    .updateTable('jobs')
    .set({ ...update, ...forget })
    .where('id', '=', id)
    .where('status', 'in', update.status === undefined ? ACTIVE : statusesBefore(update.status));
  query =
    'role' in holder ? query.where('role', '=', holder.role) : query.where('locked_by', '=', holder.worker);
  const result = await query.executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

/** Destination jobs due to run that no live worker holds. */
function claimable(db: Db, now: string) {
  return db
    .selectFrom('jobs')
    .where('role', '=', 'destination')
    .where('status', 'in', ACTIVE)
    .where('run_at', '<=', now)
    .where((eb) => eb.or([eb('locked_by', 'is', null), eb('lease_until', '<', now)]));
}

/** How many jobs the region holds, by role and status (the metrics' job gauge). */
export async function countJobsByStatus(
  db: Db,
): Promise<Array<{ role: string; status: string; count: number }>> {
  const rows = await db
    .selectFrom('jobs')
    .select(['role', 'status', (eb) => eb.fn.countAll<number | string | bigint>().as('count')])
    .groupBy(['role', 'status'])
    .execute();
  return rows.map((row) => ({ role: row.role, status: row.status, count: Number(row.count) }));
}

/** Whether some job waits for a worker (see claimJob). */
export async function isJobWaiting(db: Db, now: string): Promise<boolean> {
  return (await claimable(db, now).select('id').limit(1).executeTakeFirst()) !== undefined;
}

/**
 * Claims the next runnable destination job: unfinished, due, and either unleased or with an expired lease
 * (its worker is presumed dead). Compare-and-set on the lease, so two workers never hold one job. On
 * PostgreSQL the candidate is picked `FOR UPDATE SKIP LOCKED` in the claim's transaction, so many workers
 * claiming at once each take a different row instead of racing for the same one and retrying.
 */
export async function claimJob(
  db: Db,
  workerId: string,
  now: string,
  leaseUntil: string,
  /** Told when the job claimed was another worker's, whose lease lapsed. */
  onTakeover?: (from: string) => void,
): Promise<JobRow | undefined> {
  if (!isSqlite(db)) {
    const claimed = await db.transaction().execute(async (trx) => {
      const candidate = await claimable(trx, now)
        .select(['id', 'locked_by'])
        .orderBy('run_at')
        .limit(1)
        .forUpdate()
        .skipLocked()
        .executeTakeFirst();
      if (candidate === undefined) return undefined;
      await trx
        .updateTable('jobs')
        .set({ locked_by: workerId, lease_until: leaseUntil, updated_at: now })
        .where('id', '=', candidate.id)
        .execute();
      return candidate;
    });
    if (claimed === undefined) return undefined;
    if (claimed.locked_by !== null) onTakeover?.(claimed.locked_by);
    return findJob(db, claimed.id);
  }
  const candidates = await claimable(db, now)
    .select(['id', 'locked_by', 'lease_until'])
    .orderBy('run_at')
    .limit(5)
    .execute();
  for (const candidate of candidates) {
    let update = db
      .updateTable('jobs')
      .set({ locked_by: workerId, lease_until: leaseUntil, updated_at: now })
      .where('id', '=', candidate.id)
      .where('status', 'in', ACTIVE);
    update =
      candidate.locked_by === null
        ? update.where('locked_by', 'is', null)
        : update
            .where('locked_by', '=', candidate.locked_by)
            .where('lease_until', '=', candidate.lease_until);
    const result = await update.executeTakeFirst();
    if (Number(result.numUpdatedRows) !== 1) continue;
    if (candidate.locked_by !== null) onTakeover?.(candidate.locked_by);
    return findJob(db, candidate.id);
  }
  return undefined;
}

/**
 * Gives a job back (the worker stops without finishing it): no lease, run again at `update.run_at`. Its status
 * is left as it is (a status changes through updateJob).
 */
export async function releaseJob(
  db: Db,
  id: string,
  workerId: string,
  update: Omit<JobUpdate, 'status'>,
): Promise<void> {
  await db
    .updateTable('jobs')
    .set({ ...update, locked_by: null, lease_until: null })
    .where('id', '=', id)
    .where('locked_by', '=', workerId)
    .execute();
}

export async function deleteJob(db: Db, id: string): Promise<void> {
  await db.deleteFrom('jobs').where('id', '=', id).execute();
}

/** What every new job must be told; everything else starts at its default. */
export type NewJob = Pick<
  JobRow,
  | 'id'
  | 'job_type'
  | 'role'
  | 'account_id'
  | 'user_id'
  | 'source_region'
  | 'source_image_id'
  | 'source_image_name'
  | 'dest_region'
  | 'image_name'
  | 'manifest_digest'
  | 'bytes_total'
> &
  Partial<JobRow>;

/** A new job row: INIT, no progress, no lease, due now (`now` is the ISO timestamp to stamp it with). */
export function newJobRow(job: NewJob, now: string, maxAttempts: number): JobRow {
  return {
    status: 'INIT',
    dest_project_id: null,
    project_id: null,
    dest_image_id: null,
    description: '',
    agency_name: null,
    vault_id: null,
    cmk_id: null,
    share_with: null,
    disks: null,
    request_id: null,
    bytes_transferred: 0,
    bytes_skipped_present: 0,
    bytes_skipped_zero: 0,
    bytes_per_second: 0,
    bandwidth_limit: null,
    current_task: '',
    error_code: null,
    fail_reason: null,
    grant_secret: null,
    attempts: 0,
    max_attempts: maxAttempts,
    run_at: now,
    locked_by: null,
    lease_until: null,
    cancel_requested: 0,
    begin_time: now,
    end_time: null,
    updated_at: now,
    ...job,
  };
}

/** The job's progress figures, as domain/job.ts's rules (percent, ETA) take them. */
export function progressOf(job: JobRow): JobProgress {
  return {
    bytesTotal: job.bytes_total,
    bytesTransferred: job.bytes_transferred,
    bytesSkippedPresent: job.bytes_skipped_present,
    bytesSkippedZero: job.bytes_skipped_zero,
    bytesPerSecond: job.bytes_per_second,
  };
}
