/**
 * Waiting for replication and copy jobs: polls `GET /v1/cloudimages/job/{id}` on the source region, draws one
 * progress row per job (labelled with its destination region), and returns the jobs' last views once every
 * one has ended. Ctrl-C asks whether to cancel the unfinished jobs (`POST /v1/cloudimages/job/{id}/cancel`)
 * or leave them running (or does what `--on-interrupt` says); either way the command exits 130.
 * @module
 */
import { createInterface } from 'node:readline';
import type { JobView } from '../api/schemas/job.js';
import type { FerryClient } from './client.js';
import { ApiError, CliError, InterruptedError, JobFailedError } from './errors.js';
import type { Printer } from './output.js';
import { createProgressDisplay, type ProgressMode, type ProgressState } from './progress.js';
import { pushInterruptHandler } from './signals.js';
import { formatBytes, formatDuration, formatRate } from './units.js';

/** A job as `GET /v1/cloudimages/job/{id}` shows it (api/schemas/job.ts). */
export type { JobView };

export type InterruptChoice = 'ask' | 'cancel' | 'leave';
export const INTERRUPT_CHOICES: readonly InterruptChoice[] = ['ask', 'cancel', 'leave'];

export interface WaitOptions {
  progress: ProgressMode;
  /** What Ctrl-C does: ask (default; leave when there is no terminal to ask on), cancel or leave. */
  onInterrupt?: InterruptChoice;
  /** Poll interval (default: 500 ms, the rate at which workers save progress). */
  pollMs?: number;
  /** Give up (exit 1, jobs left running) after this many seconds; default: never. */
  timeoutSeconds?: number;
}

export function isFinished(job: JobView): boolean {
  return job.status === 'SUCCESS' || job.status === 'FAIL' || job.status === 'CANCELLED';
}

function progressOf(job: JobView): ProgressState {
  const done = job.bytes_transferred + job.bytes_skipped_present + job.bytes_skipped_zero;
  return {
    done: job.status === 'SUCCESS' ? Math.max(done, job.bytes_total) : done,
    total: job.bytes_total,
    percent: job.entities.process_percent * 100,
    bytesPerSecond: job.bytes_per_second,
    etaSeconds: job.eta_seconds,
    status: job.status === 'RUNNING' ? undefined : job.status,
  };
}

/** Row labels: the destination region, with the image's name when several jobs go to one region. */
function labelsOf(jobs: JobView[]): string[] {
  const base = jobs.map((j) => j.dest_region ?? 'copy');
  return jobs.map((j, i) =>
    base.filter((b) => b === base[i]).length > 1
      ? `${base[i]} ${j.source_image_name ?? j.source_image_id ?? j.job_id}`
      : base[i]!,
  );
}

export function getJob(client: FerryClient, jobId: string): Promise<JobView> {
  return client.request<JobView>('GET', `/v1/cloudimages/job/${encodeURIComponent(jobId)}`);
}

/** Reads a job, retrying network failures for a while (a region restarting); API refusals are final. */
async function pollJob(client: FerryClient, jobId: string): Promise<JobView> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await getJob(client, jobId);
    } catch (error) {
      if (error instanceof ApiError || attempt >= 10) throw error;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  }
}

/** Asks a yes/no question on the terminal; a second Ctrl-C or end of input answers no. */
function askYesNo(question: string): Promise<boolean> {
  return new Promise((resolve) => {
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    let answered = false;
    const finish = (yes: boolean) => {
      if (answered) return;
      answered = true;
      rl.close();
      process.stdin.pause();
      resolve(yes);
    };
    rl.on('SIGINT', () => finish(false));
    rl.on('close', () => finish(false));
    rl.question(question, (answer) => finish(/^\s*y(es)?\s*$/i.test(answer)));
  });
}

/**
 * Asks for every job to be cancelled. `ended`: those that had already ended (JOB_FINISHED: they need no
 * cancelling); `refused`: the other refusals by job ID (an unknown job, say).
 */
export async function cancelJobs(
  client: FerryClient,
  jobIds: readonly string[],
): Promise<{ ended: string[]; refused: Map<string, unknown> }> {
  const results = await Promise.allSettled(
    jobIds.map((id) => client.request('POST', `/v1/cloudimages/job/${encodeURIComponent(id)}/cancel`)),
  );
  const ended: string[] = [];
  const refused = new Map<string, unknown>();
  results.forEach((result, i) => {
    if (result.status === 'fulfilled') return;
    if (result.reason instanceof ApiError && result.reason.code === 'JOB_FINISHED') ended.push(jobIds[i]!);
    else refused.set(jobIds[i]!, result.reason);
  });
  return { ended, refused };
}

/** Waits until every job has ended; returns their last views, in the order of `jobIds`. */
export async function waitForJobs(
  client: FerryClient,
  jobIds: readonly string[],
  out: Printer,
  options: WaitOptions,
): Promise<JobView[]> {
  const jobs = await Promise.all(jobIds.map((id) => pollJob(client, id)));
  const display = createProgressDisplay(options.progress);
  labelsOf(jobs).forEach((label, i) => display.add(jobs[i]!.job_id, label, progressOf(jobs[i]!)));
  const deadline =
    options.timeoutSeconds === undefined ? Infinity : Date.now() + options.timeoutSeconds * 1000;

  let interrupted = false;
  let wake: (() => void) | undefined;
  const popHandler = pushInterruptHandler(() => {
    interrupted = true;
    wake?.();
  });
  try {
    while (!jobs.every(isFinished) && !interrupted) {
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, options.pollMs ?? 500);
      });
      if (interrupted) break;
      if (Date.now() > deadline) {
        display.stop();
        throw new CliError(
          `jobs still running after ${options.timeoutSeconds}s (left running): ${unfinished(jobs).join(' ')}`,
        );
      }
      await Promise.all(
        jobs.map(async (job, i) => {
          if (isFinished(job)) return;
          jobs[i] = await pollJob(client, job.job_id);
          display.update(job.job_id, progressOf(jobs[i]!));
        }),
      );
    }
  } finally {
    display.stop();
    popHandler();
  }
  if (interrupted) await handleInterrupt(client, jobs, out, options.onInterrupt ?? 'ask');
  return jobs;
}

function unfinished(jobs: readonly JobView[]): string[] {
  return jobs.filter((j) => !isFinished(j)).map((j) => j.job_id);
}

async function handleInterrupt(
  client: FerryClient,
  jobs: JobView[],
  out: Printer,
  choice: InterruptChoice,
): Promise<never> {
  const running = unfinished(jobs);
  if (running.length === 0) throw new InterruptedError('interrupted; every job had already ended');
  let cancel = choice === 'cancel';
  if (choice === 'ask') {
    if (process.stdin.isTTY) {
      process.stderr.write('\n');
      cancel = await askYesNo(
        `Cancel ${running.length} unfinished job(s) (${running.join(', ')})? Otherwise they keep running. [y/N] `,
      );
    } else {
      out.warn('no terminal to ask on: leaving the jobs running (use --on-interrupt cancel to cancel them)');
    }
  }
  if (!cancel) {
    throw new InterruptedError(
      `interrupted; ${running.length} job(s) left running. Follow them with \`ferry job wait ${running.join(' ')}\`, ` +
        `cancel them with \`ferry job cancel ${running.join(' ')}\``,
    );
  }
  const { refused } = await cancelJobs(client, running);
  if (refused.size > 0) throw refused.values().next().value;
  const final = await Promise.all(jobs.map((job) => (isFinished(job) ? job : getJob(client, job.job_id))));
  printJobSummary(out, final);
  throw new InterruptedError(`interrupted; cancelled ${running.length} job(s)`);
}

function secondsBetween(begin: string, end: string): number | null {
  const from = Date.parse(begin);
  const to = Date.parse(end);
  return Number.isFinite(from) && Number.isFinite(to) ? Math.max(0, (to - from) / 1000) : null;
}

/** The table after a wait: one line per job with its outcome, bytes sent and skipped, time and rate. */
export function printJobSummary(out: Printer, jobs: readonly JobView[]): void {
  out.list(jobs, {
    id: (j) => j.dest_image_id ?? j.entities.image_id ?? j.job_id,
    columns: [
      { header: 'Region', value: (j) => j.dest_region ?? j.source_region },
      { header: 'Status', value: (j) => j.status },
      { header: 'Image', value: (j) => j.dest_image_id ?? j.entities.image_id },
      { header: 'Size', value: (j) => formatBytes(j.bytes_total), align: 'right' },
      { header: 'Sent', value: (j) => formatBytes(j.bytes_transferred), align: 'right' },
      {
        header: 'Skipped',
        value: (j) => formatBytes(j.bytes_skipped_present + j.bytes_skipped_zero),
        align: 'right',
      },
      {
        header: 'Time',
        value: (j) => formatDuration(secondsBetween(j.begin_time, j.end_time)),
        align: 'right',
      },
      {
        header: 'Rate',
        value: (j) => {
          const seconds = secondsBetween(j.begin_time, j.end_time);
          return seconds ? formatRate(j.bytes_transferred / seconds) : '-';
        },
        align: 'right',
      },
      { header: 'Error', value: (j) => (j.error_code ? `${j.error_code}: ${j.fail_reason ?? ''}` : '') },
    ],
  });
}

/** Exit 4 when any job ended FAIL or CANCELLED, naming each with its error. */
export function assertJobsSucceeded(jobs: readonly JobView[]): void {
  const failed = jobs.filter((j) => j.status !== 'SUCCESS');
  if (failed.length === 0) return;
  throw new JobFailedError(
    failed
      .map(
        (j) =>
          `job ${j.job_id}${j.dest_region ? ` to ${j.dest_region}` : ''} ended ${j.status}` +
          (j.error_code || j.fail_reason
            ? `: ${[j.error_code, j.fail_reason].filter(Boolean).join(': ')}`
            : ''),
      )
      .join('\n'),
  );
}
