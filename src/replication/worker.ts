/**
 * The job worker of a region process: claims runnable destination jobs (unleased, or with an expired lease
 * whose worker is presumed dead), runs them, and gives them back. Several processes of one region may run
 * workers against one database; the lease compare-and-set keeps each job with one worker at a time.
 *
 * Fair share: a run that has held its slot for `timeSliceMs` while other jobs wait is interrupted and its job
 * given back (not counted as a failed run); it resumes after them from the chunks it has stored, so the
 * slots go round all jobs instead of to whoever came first.
 * @module
 */
import type { FastifyBaseLogger } from 'fastify';
import { coerceError } from '../domain/errors.js';
import { timestamp } from '../store/clock.js';
import { claimJob, isJobWaiting } from '../store/jobs.js';
import { runTransfer } from './transfer.js';
import type { RegionContext } from '../region/context.js';

export interface JobWorker {
  /** Stops claiming and interrupts the jobs in hand, releasing them to resume at the next start. */
  stop(): Promise<void>;
}

export function startJobWorker(ctx: RegionContext, log: FastifyBaseLogger): JobWorker {
  const running = new Set<Promise<void>>();
  const stopping = new AbortController();
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;

  const tick = async () => {
    timer = undefined;
    try {
      while (!stopped && running.size < ctx.replication.concurrentJobs) {
        const now = ctx.clock.now();
        const leaseUntil = new Date(now.getTime() + ctx.replication.leaseMs).toISOString();
        const job = await claimJob(ctx.db, ctx.workerId, timestamp(ctx.clock), leaseUntil, (from) => {
          ctx.metrics.leaseTakeovers.inc();
          log.info({ from }, 'replication job taken over from a worker whose lease lapsed');
        });
        if (!job) break;
        // The run's lines carry the ID of the user request that started the job, as its calls do.
        const runLog = job.request_id !== null ? log.child({ reqId: job.request_id }) : log;
        runLog.info(
          { job: job.id, attempt: job.attempts + 1, of: job.max_attempts },
          'replication run starts',
        );
        const turn = new AbortController();
        const slice = setInterval(() => {
          if (running.size < ctx.replication.concurrentJobs) return; // a free slot takes the waiting job
          isJobWaiting(ctx.db, timestamp(ctx.clock))
            .then((waiting) => {
              if (!waiting || turn.signal.aborted) return;
              runLog.info({ job: job.id }, 'replication run gives its slot to a waiting job');
              turn.abort();
            })
            .catch((error: unknown) => log.error({ err: coerceError(error) }, 'job queue check failed'));
        }, ctx.replication.timeSliceMs);
        slice.unref();
        const run = runTransfer(ctx, job, runLog, AbortSignal.any([stopping.signal, turn.signal]))
          .catch((error: unknown) =>
            runLog.error({ job: job.id, err: coerceError(error) }, 'replication run crashed'),
          )
          .finally(() => {
            clearInterval(slice);
            running.delete(run);
            schedule(0);
          });
        running.add(run);
      }
    } catch (error) {
      // A database hiccup must not kill the worker: log and try again at the next tick.
      if (!stopped) log.error({ err: coerceError(error) }, 'job claim failed');
    }
    schedule(ctx.replication.pollMs);
  };

  const schedule = (delay: number) => {
    if (stopped || timer) return;
    timer = setTimeout(() => void tick(), delay);
    timer.unref();
  };
  const onQueued = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    schedule(0);
  };
  ctx.jobEvents.addEventListener('queued', onQueued);
  schedule(0);

  return {
    async stop() {
      stopped = true;
      ctx.jobEvents.removeEventListener('queued', onQueued);
      if (timer) clearTimeout(timer);
      stopping.abort();
      await Promise.allSettled([...running]);
    },
  };
}
