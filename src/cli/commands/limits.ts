/**
 * `ferry limits`: the limits the current region sets (`GET /v1/limits`).
 * @module
 */
import type { Command } from 'commander';
import type { LimitsView } from '../../api/schemas/limits.js';
import { example, withContext } from '../context.js';
import { formatBytes } from '../units.js';

export function registerLimitsCommand(program: Command): void {
  example(
    program
      .command('limits')
      .description('Show the limits of the current region: sizes, running replications, members.'),
    'ferry limits --region south-1',
  ).action(
    withContext(async (ctx) => {
      const limits = await (await ctx.client()).request<LimitsView>('GET', '/v1/limits');
      ctx.out.emit({
        json: limits,
        ids: [limits.region],
        human: () =>
          [
            `region                                  ${limits.region}`,
            `largest image                           ${formatBytes(limits.max_image_bytes)}`,
            `largest image to replicate              ${formatBytes(limits.max_replication_image_bytes)}`,
            `replications running per user           ${limits.max_running_replications_per_user} (across all regions)`,
            `members per image                       ${limits.max_members_per_image} (whole-server image: ${limits.max_members_per_whole_server_image})`,
            `disks per whole-server image            ${limits.max_disks_per_whole_server_image}`,
            `vault size                              ${limits.vault_size_gib.min} to ${limits.vault_size_gib.max} GiB`,
            `tags per image                          ${limits.max_tags_per_image}`,
            `properties per image                    ${limits.max_properties_per_image} (with the tags, ${formatBytes(limits.max_metadata_bytes_per_image)} at most)`,
            `images per project                      ${limits.max_images_per_project}`,
            `uploads at once per account             ${limits.max_concurrent_uploads_per_account}`,
            `client tokens remembered for            ${limits.client_token_ttl_seconds / 3600} hours`,
          ].join('\n'),
      });
    }),
  );
}
