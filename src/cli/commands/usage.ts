/**
 * `ferry usage`: the account's usage in the current region per day (`GET /v1/usage`): traffic sent to each
 * other region, image storage and vault storage, with their cost; `--csv` prints the API's CSV as it is.
 * @module
 */
import type { Command } from 'commander';
import { text } from 'node:stream/consumers';
import type { UsageReport } from '../../replication/usage.js';
import { example, withContext } from '../context.js';
import { formatBytes } from '../units.js';

const KIND_TEXT: Record<UsageReport['usage'][number]['kind'], string> = {
  transfer: 'traffic',
  image_storage: 'image storage',
  vault_storage: 'vault storage',
};

export function registerUsageCommand(program: Command): void {
  example(
    program
      .command('usage')
      .description(
        'Show your usage in the current region per day: traffic to other regions, image and vault storage.',
      )
      .option('--csv', 'print CSV (day,region,kind,dest_region,bytes,cost), for a spreadsheet'),
    'ferry usage --region north-1',
    'ferry usage --csv > usage.csv',
  ).action(
    withContext<[], { csv?: boolean }>(async (ctx, o) => {
      const client = await ctx.client();
      if (o.csv) {
        process.stdout.write(await text(await client.stream('GET', '/v1/usage?format=csv')));
        return;
      }
      const report = await client.request<UsageReport>('GET', '/v1/usage');
      ctx.out.list(report.usage, {
        id: (row) => `${row.day}:${row.kind}:${row.dest_region ?? ''}`,
        empty: `No usage in ${report.region} yet.`,
        columns: [
          { header: 'Day', value: (row) => row.day },
          { header: 'Kind', value: (row) => KIND_TEXT[row.kind] },
          { header: 'To', value: (row) => row.dest_region ?? '' },
          { header: 'Bytes', value: (row) => formatBytes(row.bytes) },
          { header: 'Cost', value: (row) => row.cost.toFixed(6) },
        ],
      });
    }),
  );
}
