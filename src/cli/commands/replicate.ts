/**
 * `ferry image replicate` (cross-region, one job per image and destination) and `ferry image copy`
 * (in-region). With `--wait` both draw one progress bar per destination from the job API and end with a
 * summary table; a refused pair prints its code and message and makes the command exit 3, a failed job 4.
 * @module
 */
import type { Command } from 'commander';
import { collect, example, withContext, type CliContext } from '../context.js';
import { CliError, EXIT_CODES, ferryShapedRefusals, UsageError, type ApiErrorBody } from '../errors.js';
import { resolveImageId } from '../images.js';
import { renderTable } from '../output.js';
import {
  assertJobsSucceeded,
  INTERRUPT_CHOICES,
  printJobSummary,
  waitForJobs,
  type InterruptChoice,
  type JobView,
} from '../job-wait.js';
import { DEFAULT_AGENCY } from '../settings.js';
import { parseSize } from '../units.js';

interface StartedJob {
  image_id: string;
  region: string;
  job_id: string;
}

interface Refusal {
  image_id: string;
  region: string;
  error: ApiErrorBody;
}

/** Options shared by commands that wait for jobs (`--wait`, `job wait`). */
export interface WaitFlags {
  onInterrupt: string;
  timeout?: string;
}

export function addWaitOptions(command: Command): Command {
  return command
    .option('--on-interrupt <choice>', 'what Ctrl-C does to unfinished jobs: ask, cancel or leave', 'ask')
    .option('--timeout <seconds>', 'stop waiting after this long (the jobs keep running; exit 1)');
}

/** Waits with the command's flags; prints nothing itself except progress. */
export async function waitWithFlags(ctx: CliContext, jobIds: string[], o: WaitFlags): Promise<JobView[]> {
  if (!(INTERRUPT_CHOICES as readonly string[]).includes(o.onInterrupt)) {
    throw new UsageError(`--on-interrupt must be one of ${INTERRUPT_CHOICES.join(', ')}`);
  }
  const timeout = o.timeout === undefined ? undefined : Number(o.timeout);
  if (timeout !== undefined && !(timeout > 0)) throw new UsageError('--timeout must be a number of seconds');
  return waitForJobs(await ctx.client(), jobIds, ctx.out, {
    progress: ctx.progressMode,
    onInterrupt: o.onInterrupt as InterruptChoice,
    ...(timeout !== undefined ? { timeoutSeconds: timeout } : {}),
  });
}

/** One stderr line per refused image/region pair. */
function reportRefusals(ctx: CliContext, refused: readonly Refusal[]): void {
  for (const r of refused) {
    const ims = r.error.ims_code ? ` (IMS ${r.error.ims_code})` : '';
    ctx.out.warn(`refused: image ${r.image_id} to ${r.region}: ${r.error.code}${ims}: ${r.error.message}`);
  }
}

export function registerReplicateCommands(image: Command): void {
  example(
    addWaitOptions(
      image
        .command('replicate')
        .argument('<image...>', 'image IDs or names in the current region (the source)')
        .requiredOption('--to <region>', 'a destination region (repeatable, or comma-separated)', collect)
        .option(
          '--name <name>',
          'name of the new image, one image only (default: copy_<source region>_<source name>)',
        )
        .option('--name-prefix <prefix>', 'name each new image <prefix><source name>')
        .option('--description <text>', 'description of the new images')
        .option('--project <name>', 'project in the destination region (default: the one named after it)')
        .option(
          '--agency <name>',
          `agency allowed to replicate there (default: the profile's, else ${DEFAULT_AGENCY})`,
        )
        .option('--vault <id>', 'backup vault in the destination (full-server images)')
        .option('--bandwidth <rate>', 'cap each transfer, e.g. 4MiB (per second); sent as bandwidth_limit')
        .option(
          '--share-with <project>',
          'share each new image with a project of its region once it is active (repeatable)',
          collect,
        )
        .option(
          '--client-token <token>',
          'make a retry safe: the same token and request within 24 h give the first jobs again',
        )
        .option('--wait', 'wait for the jobs, with one progress bar per destination, then print a summary'),
    ).description('Replicate images to other regions: one job per image and destination.'),
    'ferry image replicate my-image --to south-1 --to west-1 --wait',
    'ferry image replicate img-a img-b --to south-1 --bandwidth 50MiB --output json',
  ).action(
    withContext<
      [string[]],
      WaitFlags & {
        to: string[];
        name?: string;
        namePrefix?: string;
        description?: string;
        project?: string;
        agency?: string;
        vault?: string;
        bandwidth?: string;
        clientToken?: string;
        shareWith?: string[];
        wait?: boolean;
      }
    >(async (ctx, o, refs) => {
      if (refs.length > 1 && o.name !== undefined) {
        throw new UsageError('--name names one image: with several, use --name-prefix (or neither).');
      }
      const client = await ctx.client();
      const imageIds = await Promise.all(refs.map((ref) => resolveImageId(client, ref)));
      const request = {
        regions: o.to,
        name: o.name,
        name_prefix: o.namePrefix,
        description: o.description,
        project_name: o.project,
        agency_name: o.agency ?? ctx.settings.agency ?? DEFAULT_AGENCY,
        vault_id: o.vault,
        bandwidth_limit: o.bandwidth === undefined ? undefined : parseSize(o.bandwidth, '--bandwidth'),
        client_token: o.clientToken,
        share_with: o.shareWith,
      };
      const answer =
        imageIds.length === 1
          ? await client.request<{ jobs: StartedJob[]; refused: Refusal[] }>(
              'POST',
              `/v1/cloudimages/${imageIds[0]}/cross_region_copy`,
              { json: request },
            )
          : await client.request<{ jobs: StartedJob[]; refused: Refusal[] }>(
              'POST',
              '/v1/cloudimages/cross_region_copy',
              { json: { ...request, name: undefined, image_ids: imageIds } },
            );
      answer.refused = ferryShapedRefusals(answer.refused);
      reportRefusals(ctx, answer.refused);
      if (!o.wait) {
        ctx.out.emit({
          json: { jobs: answer.jobs, refused: answer.refused },
          ids: answer.jobs.map((j) => j.job_id),
          human: () =>
            answer.jobs.length === 0
              ? ''
              : renderTable(
                  ['Job', 'Image', 'To'],
                  answer.jobs.map((j) => [j.job_id, j.image_id, j.region]),
                ) +
                '\nFollow with: ferry job wait ' +
                answer.jobs.map((j) => j.job_id).join(' '),
        });
      } else {
        const jobs = await waitWithFlags(
          ctx,
          answer.jobs.map((j) => j.job_id),
          o,
        );
        if (ctx.out.format === 'json')
          ctx.out.emit({ json: { jobs, refused: answer.refused }, ids: [], human: () => '' });
        else printJobSummary(ctx.out, jobs);
        assertJobsSucceeded(jobs);
      }
      if (answer.refused.length > 0) {
        throw new CliError(
          `${answer.refused.length} of ${answer.refused.length + answer.jobs.length} replications were refused`,
          EXIT_CODES.API,
        );
      }
    }),
  );

  example(
    addWaitOptions(
      image
        .command('copy')
        .argument('<image>', 'image ID or name (yours, or a shared image you accepted)')
        .requiredOption('--name <name>', 'name of the copy')
        .option('--description <text>', 'description of the copy')
        .option('--cmk-id <key>', 'encrypt the copy with this key id')
        .option('--wait', 'wait for the copy job to end'),
    ).description('Copy an image within the region (no data is copied: the copy shares its chunks).'),
    'ferry image copy shared-base --name my-base',
  ).action(
    withContext<[string], WaitFlags & { name: string; description?: string; cmkId?: string; wait?: boolean }>(
      async (ctx, o, ref) => {
        const client = await ctx.client();
        const id = await resolveImageId(client, ref);
        const answer = await client.request<{ job_id: string; image_id: string }>(
          'POST',
          `/v1/cloudimages/${id}/copy`,
          { json: { name: o.name, description: o.description, cmk_id: o.cmkId } },
        );
        if (!o.wait) {
          ctx.out.record(answer, { id: answer.image_id });
          return;
        }
        const jobs = await waitWithFlags(ctx, [answer.job_id], o);
        printJobSummary(ctx.out, jobs);
        assertJobsSucceeded(jobs);
      },
    ),
  );
}
