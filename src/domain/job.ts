/**
 * Jobs: asynchronous replication and copy work, named as IMS names them. Pure rules: the states and their
 * transitions, the retry backoff, and progress figures.
 *
 * Glossary: a *lease* is a worker's time-limited claim on a job; an expired lease may be taken over by any
 * worker (the previous one is presumed dead). A *run* is one attempt of a worker at a job; a failed run is
 * retried after a backoff until `max_attempts` runs have failed.
 * @module
 */

export const JOB_STATUSES = ['INIT', 'RUNNING', 'SUCCESS', 'FAIL', 'CANCELLED'] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

export const JOB_TYPES = {
  crossRegion: 'imsCrossRegionCopyImageJob',
  inRegion: 'imsCopyImageInRegionJob',
  /** IMS's batch member calls (`/v1/cloudimages/members`): add, remove, and the recipient's answer. */
  addMembers: 'imsAddImageMembersJob',
  deleteMembers: 'imsDelImageMembersJob',
  updateMembers: 'imsUpdateImageMembersJob',
} as const;

export type JobRole = 'source' | 'destination' | 'local';

/** What a job is doing now (`current_task`, empty once it ended), named as IMS names its tasks. */
export const JOB_TASKS = {
  /** The source asks the destination for the replica. */
  createReplica: 'ReplicateImageTask:CreateReplica',
  /** Waiting for a worker at the destination. */
  queued: 'ReplicateImageTask:Queued',
  fetchManifest: 'ReplicateImageTask:FetchManifest',
  fetchChunks: 'ReplicateImageTask:FetchChunks',
  verify: 'ReplicateImageTask:Verify',
  /** A run failed; the next one waits for its backoff. */
  waitingToRetry: 'ReplicateImageTask:WaitingToRetry',
} as const;

const TRANSITIONS: Record<JobStatus, readonly JobStatus[]> = {
  INIT: ['RUNNING', 'SUCCESS', 'FAIL', 'CANCELLED'],
  RUNNING: ['INIT', 'SUCCESS', 'FAIL', 'CANCELLED'],
  SUCCESS: [],
  FAIL: [],
  CANCELLED: [],
};

export function canTransitionJob(from: JobStatus, to: JobStatus): boolean {
  return TRANSITIONS[from].includes(to);
}

/**
 * The statuses a job may be in for a change that sets `to`: those it may move to `to` from, and `to` itself
 * unless final (a running job saves progress as RUNNING; a finished job never changes).
 */
export function statusesBefore(to: JobStatus): JobStatus[] {
  return JOB_STATUSES.filter((from) => (from === to ? !isTerminal(to) : canTransitionJob(from, to)));
}

/** The statuses of an unfinished job: those it may still leave. */
export const ACTIVE_JOB_STATUSES: readonly JobStatus[] = JOB_STATUSES.filter(
  (status) => TRANSITIONS[status].length > 0,
);

export function isTerminal(status: string): boolean {
  return status === 'SUCCESS' || status === 'FAIL' || status === 'CANCELLED';
}

/** First retry delay after a failed run (default: 2 s); doubles per failed run up to RETRY_MAX_DELAY_MS. */
export const RETRY_BASE_DELAY_MS = 2_000;
/** Longest wait between runs (default: 5 minutes). */
export const RETRY_MAX_DELAY_MS = 5 * 60_000;

/** Delay before run number `attempts + 1`, after `attempts` failed runs: 2 s, 4 s, 8 s … capped. */
export function retryDelayMs(attempts: number, baseMs = RETRY_BASE_DELAY_MS): number {
  return Math.min(RETRY_MAX_DELAY_MS, baseMs * 2 ** Math.max(0, attempts - 1));
}

export interface JobProgress {
  bytesTotal: number;
  bytesTransferred: number;
  bytesSkippedPresent: number;
  bytesSkippedZero: number;
  bytesPerSecond: number;
}

/** Share of the image already in place at the destination, 0..1 (IMS `process_percent`). */
export function processPercent(p: JobProgress, status: string): number {
  if (status === 'SUCCESS') return 1;
  if (p.bytesTotal === 0) return 0;
  const done = p.bytesTransferred + p.bytesSkippedPresent + p.bytesSkippedZero;
  return Math.min(0.99, Math.floor((done / p.bytesTotal) * 10000) / 10000);
}

/** Seconds left at the current rate, or null when unknown. */
export function etaSeconds(p: JobProgress): number | null {
  const left = p.bytesTotal - p.bytesTransferred - p.bytesSkippedPresent - p.bytesSkippedZero;
  if (left <= 0) return 0;
  if (p.bytesPerSecond <= 0) return null;
  return Math.ceil(left / p.bytesPerSecond);
}
