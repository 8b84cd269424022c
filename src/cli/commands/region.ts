/**
 * `ferry region list`: the regions of the configured catalog, which one is current, whether each answers its
 * health check, and the regions each may replicate into (as the current region's `GET /v1/regions` says). `ferry whoami`: who the token acts as, in the current region.
 * `ferry region credential`: region-credential.ts. `ferry region move`: region-move.ts.
 * @module
 */
import type { Command } from 'commander';
import { createClient } from '../client.js';
import { example, withContext } from '../context.js';
import { ApiError } from '../errors.js';
import type { RegionList } from '../../api/schemas/region.js';
import { registerRegionCredentialCommands } from './region-credential.js';
import { registerRegionMoveCommand } from './region-move.js';

/** How long a region's health check may take before it is shown as unreachable. */
const HEALTH_TIMEOUT_MS = 2_000;

/** `answer`, or `fallback` if it takes longer than HEALTH_TIMEOUT_MS. */
function withinTimeout<T>(answer: Promise<T>, fallback: T): Promise<T> {
  const timeout = new Promise<T>((resolve) => setTimeout(resolve, HEALTH_TIMEOUT_MS, fallback).unref());
  return Promise.race([answer, timeout]);
}

function health(endpoint: string): Promise<string> {
  const check = createClient({ endpoint })
    .request('GET', '/healthz')
    .then(
      () => 'ok',
      (error: unknown) => (error instanceof ApiError ? `HTTP ${error.status}` : 'unreachable'),
    );
  return withinTimeout(check, 'no answer');
}

/** Each region's replication targets, from `current`'s GET /v1/regions; undefined if it cannot be asked. */
async function replicationPairs(
  current: string | undefined,
  regions: Array<{ name: string; endpoint: string }>,
): Promise<Map<string, string[]> | undefined> {
  const endpoint = regions.find((r) => r.name === current)?.endpoint;
  if (endpoint === undefined) return undefined;
  const answer = createClient({ endpoint })
    .request<RegionList>('GET', '/v1/regions')
    .catch(() => undefined);
  const list = await withinTimeout(answer, undefined);
  return list && new Map(list.regions.map((r) => [r.name, r.replicates_to]));
}

export function registerRegionCommands(program: Command): void {
  const region = example(
    program.command('region').description('Regions of the catalog.'),
    'ferry region list',
  );
  registerRegionCredentialCommands(region);
  registerRegionMoveCommand(region);

  example(
    region
      .command('list')
      .description('List the regions of the configured catalog with their health (quiet: names only).')
      .option('--no-check', 'do not call each region’s health check'),
    'ferry region list',
    'ferry region list --quiet',
  ).action(
    withContext<[], { check: boolean }>(async (ctx, o) => {
      const regions = await ctx.regions();
      const check = o.check && !ctx.out.quiet;
      // The pairs are the servers' to say: asked of the current region, when there is one that answers.
      const pairs = check ? await replicationPairs(ctx.settings.region, regions) : undefined;
      const rows = await Promise.all(
        regions.map(async (r) => ({
          ...r,
          current: r.name === ctx.settings.region,
          ...(check ? { health: await health(r.endpoint) } : {}),
          ...(pairs ? { replicates_to: pairs.get(r.name) ?? [] } : {}),
        })),
      );
      ctx.out.list(rows, {
        id: (r) => r.name,
        empty: 'No regions: run `ferry configure --catalog FILE|URL`.',
        columns: [
          { header: '', value: (r) => (r.current ? '*' : '') },
          { header: 'Name', value: (r) => r.name },
          { header: 'Display name', value: (r) => r.display_name },
          { header: 'Endpoint', value: (r) => r.endpoint },
          ...(check ? [{ header: 'Health', value: (r: { health?: string }) => r.health }] : []),
          ...(pairs
            ? [
                {
                  header: 'Replicates to',
                  value: (r: { replicates_to?: string[] }) => r.replicates_to?.join(', '),
                },
              ]
            : []),
        ],
      });
    }),
  );

  example(
    program.command('whoami').description('Show the user, account and project your token acts as.'),
    'ferry whoami --region south-1',
  ).action(
    withContext(async (ctx) => {
      const me = await (await ctx.client()).request<Record<string, unknown>>('GET', '/v1/auth/whoami');
      const user = me.user as { id: string; name: string; is_admin: boolean };
      const account = me.account as { id: string; name: string };
      const project = me.project as { id: string; name: string };
      ctx.out.emit({
        json: me,
        ids: [user.id],
        human: () =>
          [
            `region   ${String(me.region)}`,
            `user     ${user.name} (${user.id})${user.is_admin ? ', administrator' : ''}`,
            `account  ${account.name} (${account.id})`,
            `project  ${project.name} (${project.id})`,
          ].join('\n'),
      });
    }),
  );
}
