/**
 * `ferry admin agency list|show|create|delete`: your account's agencies, which let replication act in
 * destination regions (an agency needs `CrossCopyAgencyPolicy` in a region to replicate into it). Agencies
 * are created and deleted in every region of the catalog with the same id.
 * @module
 */
import type { Command } from 'commander';
import { collect, example, withContext, type CliContext } from '../context.js';
import { UsageError } from '../errors.js';
import { clientsFor, newId, targetRegions } from '../identity.js';

interface AgencyView {
  id: string;
  name: string;
  created_at: string;
  policies: Array<{ region: string; policy: string }>;
}

/** The policy `--allow` grants. */
const CROSS_COPY_POLICY = 'CrossCopyAgencyPolicy';

function printAgencies(ctx: CliContext, agencies: AgencyView[]): void {
  ctx.out.list(agencies, {
    id: (a) => a.name,
    empty: 'No agencies.',
    columns: [
      { header: 'Name', value: (a) => a.name },
      { header: 'ID', value: (a) => a.id },
      { header: 'Policies', value: (a) => a.policies.map((p) => `${p.region}:${p.policy}`).join(', ') },
      { header: 'Created', value: (a) => a.created_at },
    ],
  });
}

export function registerAdminAgencyCommands(admin: Command): void {
  const agency = example(
    admin.command('agency').description('Your account’s agencies (who may replicate into which region).'),
    'ferry admin agency list',
  );

  example(
    agency.command('list').description('List your account’s agencies.'),
    'ferry admin agency list',
  ).action(
    withContext(async (ctx) => {
      const { agencies } = await (
        await ctx.client()
      ).request<{ agencies: AgencyView[] }>('GET', '/v1/agencies');
      printAgencies(ctx, agencies);
    }),
  );

  example(
    agency.command('show').argument('<name>', 'agency name').description('Show an agency.'),
    'ferry admin agency show ferry_copy',
  ).action(
    withContext<[string]>(async (ctx, _o, name) => {
      const view = await (
        await ctx.client()
      ).request<AgencyView>('GET', `/v1/agencies/${encodeURIComponent(name)}`);
      printAgencies(ctx, [view]);
    }),
  );

  example(
    agency
      .command('create')
      .argument('<name>', 'agency name')
      .option(
        '--allow <regions>',
        `grant ${CROSS_COPY_POLICY} in these regions ("all": every region)`,
        collect,
      )
      .option('--policy <region=policy>', 'grant a policy in a region (repeatable)', collect)
      .option(
        '--regions <names>',
        'create it in these regions (default: every region of the catalog)',
        collect,
      )
      .description('Create an agency in every region, with the same id.'),
    'ferry admin agency create replicator --allow all',
    'ferry admin agency create to-south --allow south-1',
  ).action(
    withContext<[string], { allow?: string[]; policy?: string[]; regions?: string[] }>(
      async (ctx, o, name) => {
        const everywhere = (await ctx.regions()).map((r) => r.name);
        const allowed = (o.allow ?? []).flatMap((r) => (r === 'all' ? everywhere : [r]));
        const policies = [
          ...allowed.map((region) => ({ region, policy: CROSS_COPY_POLICY })),
          ...(o.policy ?? []).map((pair) => {
            const [region, policy] = pair.split('=');
            if (!region || !policy) throw new UsageError(`--policy takes region=policy, not ${pair}`);
            return { region, policy };
          }),
        ];
        if (policies.length === 0)
          throw new UsageError('give --allow REGION (or all) or --policy REGION=POLICY');
        const id = newId();
        const clients = await clientsFor(ctx, await targetRegions(ctx, o.regions));
        let created: AgencyView | undefined;
        for (const client of clients) {
          created = await client.request<AgencyView>('POST', '/v1/agencies', {
            json: { id, name, policies },
          });
        }
        printAgencies(ctx, [created!]);
      },
    ),
  );

  example(
    agency
      .command('delete')
      .argument('<name>', 'agency name')
      .option(
        '--regions <names>',
        'delete it in these regions (default: every region of the catalog)',
        collect,
      )
      .description('Delete an agency in every region.'),
    'ferry admin agency delete to-south',
  ).action(
    withContext<[string], { regions?: string[] }>(async (ctx, o, name) => {
      for (const client of await clientsFor(ctx, await targetRegions(ctx, o.regions))) {
        await client.request('DELETE', `/v1/agencies/${encodeURIComponent(name)}`);
      }
      ctx.out.note(`Deleted agency ${name}.`);
    }),
  );
}
