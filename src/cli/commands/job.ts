/**
 * `ferry job list|show|cancel|wait`: replication and copy jobs, read from the region they started in (the
 * source region of a cross-region job).
 * @module
 */
import type { Command } from 'commander';
import { example, withContext } from '../context.js';
import { UsageError } from '../errors.js';
import { assertJobsSucceeded, cancelJobs, getJob, printJobSummary, type JobView } from '../job-wait.js';
import { formatBytes } from '../units.js';
import { addWaitOptions, waitWithFlags, type WaitFlags } from './replicate.js';

/** Short names for `--type`, and the IMS job types they stand for. */
const JOB_TYPES: Record<string, string> = {
  'cross-region': 'imsCrossRegionCopyImageJob',
  'in-region': 'imsCopyImageInRegionJob',
};

function typeName(jobType: string): string {
  return Object.entries(JOB_TYPES).find(([, v]) => v === jobType)?.[0] ?? jobType;
}

export function registerJobCommands(program: Command): void {
  const job = example(
    program.command('job').description('Replication and copy jobs (in the region where they started).'),
    'ferry job list --status RUNNING',
  );

  example(
    job
      .command('list')
      .description('List your jobs, newest first.')
      .option('--status <status>', 'INIT, RUNNING, SUCCESS, FAIL or CANCELLED')
      .option('--type <type>', 'cross-region or in-region')
      .option('--image <id>', 'only jobs of this source image')
      .option('--limit <n>', 'at most this many jobs (default: 100)'),
    'ferry job list --type cross-region --status RUNNING',
  ).action(
    withContext<[], { status?: string; type?: string; image?: string; limit?: string }>(async (ctx, o) => {
      const type = o.type === undefined ? undefined : (JOB_TYPES[o.type] ?? o.type);
      const client = await ctx.client();
      const { jobs } = await client.request<{ jobs: JobView[] }>('GET', '/v1/cloudimages/jobs', {
        query: { status: o.status, job_type: type, image_id: o.image, limit: o.limit },
      });
      ctx.out.list(jobs, {
        id: (j) => j.job_id,
        empty: 'No jobs.',
        columns: [
          { header: 'Job', value: (j) => j.job_id },
          { header: 'Type', value: (j) => typeName(j.job_type) },
          { header: 'Status', value: (j) => j.status },
          { header: 'Image', value: (j) => j.source_image_name ?? j.source_image_id },
          { header: 'To', value: (j) => j.dest_region ?? j.source_region },
          {
            header: 'Done',
            value: (j) => `${Math.floor(j.entities.process_percent * 100)}%`,
            align: 'right',
          },
          { header: 'Size', value: (j) => formatBytes(j.bytes_total), align: 'right' },
          { header: 'Began', value: (j) => j.begin_time },
        ],
      });
    }),
  );

  example(
    job.command('show').argument('<job>', 'job ID').description('Show a job with its progress.'),
    'ferry job show 8a4e0c6b…',
  ).action(
    withContext<[string]>(async (ctx, _o, id) => {
      const view = await getJob(await ctx.client(), id);
      ctx.out.record(view as unknown as Record<string, unknown>, { id: view.job_id });
    }),
  );

  example(
    job
      .command('cancel')
      .argument('<job...>', 'job IDs')
      .description('Cancel jobs: the transfer stops and the new image leaves its destination region.'),
    'ferry job cancel 8a4e0c6b…',
  ).action(
    withContext<[string[]]>(async (ctx, _o, ids) => {
      const client = await ctx.client();
      if (ids.length === 0) throw new UsageError('name at least one job');
      const { ended, refused } = await cancelJobs(client, ids);
      const jobs = await Promise.all(ids.filter((id) => !refused.has(id)).map((id) => getJob(client, id)));
      for (const job of jobs.filter((j) => ended.includes(j.job_id))) {
        ctx.out.warn(`job ${job.job_id} had already ended (${job.status}): nothing to cancel`);
      }
      ctx.out.list(jobs, {
        id: (j) => j.job_id,
        columns: [
          { header: 'Job', value: (j) => j.job_id },
          { header: 'Status', value: (j) => j.status },
          { header: 'To', value: (j) => j.dest_region ?? j.source_region },
        ],
      });
      // The jobs that could be cancelled were; the first refusal is the command's error (exit 3).
      if (refused.size > 0) throw refused.values().next().value;
    }),
  );

  example(
    addWaitOptions(
      job
        .command('wait')
        .argument('<job...>', 'job IDs')
        .description('Wait for jobs with one progress bar each, then print a summary; exit 4 if any failed.'),
    ),
    'ferry job wait 8a4e0c6b… 1f9d3a77…',
  ).action(
    withContext<[string[]], WaitFlags>(async (ctx, o, ids) => {
      const jobs = await waitWithFlags(ctx, ids, o);
      printJobSummary(ctx.out, jobs);
      assertJobsSucceeded(jobs);
    }),
  );
}
