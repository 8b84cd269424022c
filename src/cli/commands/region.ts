/**
 * `ferry region list`: the regions of the configured catalog, which one is current, and whether each
 * answers its health check. `ferry whoami`: who the token acts as, in the current region.
 * @module
 */
import type { Command } from 'commander';
import { createClient } from '../client.js';
import { example, withContext } from '../context.js';
import { ApiError } from '../errors.js';

/** How long a region's health check may take before it is shown as unreachable. */
const HEALTH_TIMEOUT_MS = 2_000;

async function health(endpoint: string): Promise<string> {
  const timeout = new Promise<string>((resolve) =>
    setTimeout(resolve, HEALTH_TIMEOUT_MS, 'no answer').unref(),
  );
  const check = createClient({ endpoint })
    .request('GET', '/healthz')
    .then(
      () => 'ok',
      (error: unknown) => (error instanceof ApiError ? `HTTP ${error.status}` : 'unreachable'),
    );
  return Promise.race([check, timeout]);
}

export function registerRegionCommands(program: Command): void {
  const region = example(
    program.command('region').description('Regions of the catalog.'),
    'ferry region list',
  );

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
      const rows = await Promise.all(
        regions.map(async (r) => ({
          ...r,
          current: r.name === ctx.settings.region,
          ...(check ? { health: await health(r.endpoint) } : {}),
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
