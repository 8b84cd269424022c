/**
 * `ferry admin ...`: `bootstrap` creates the first administrator straight in the regions' databases (on a
 * machine that can open them); `account`, `user` and `project` call the administrator API. Identity is global
 * but each region keeps its own copy, so accounts and users are created in every region of the catalog with
 * the same ids. `token` and `agency` are in their own files.
 * @module
 */
import type { Command } from 'commander';
import { collect, example, withContext } from '../context.js';
import { UsageError } from '../errors.js';
import {
  clientsFor,
  newId,
  resolveAccountId,
  resolveUserId,
  targetRegions,
  type AccountDetail,
  type AccountView,
} from '../identity.js';
import { registerAdminAgencyCommands } from './agency.js';
import { registerAdminRuntimeCommand } from './runtime.js';
import { registerAdminStorageCommands } from './storage.js';
import { registerAdminTokenCommands } from './token.js';

function registerBootstrap(admin: Command): void {
  example(
    admin
      .command('bootstrap')
      .description('Create the first administrator in every region of the catalog and print its token.')
      .requiredOption('--catalog <file>', 'region catalog (JSON)')
      .option('--data <dir>', 'data folder holding <region>/ferry.sqlite', './data')
      .option('--database <url>', 'PostgreSQL URL; use {region} where the region name goes'),
    'ferry admin bootstrap --catalog ./data/catalog.json --data ./data',
  ).action(async (options: { catalog: string; data: string; database?: string }) => {
    // The server modules are loaded only here, so the client commands start quickly.
    const [
      { ownPrivateDir },
      path,
      { loadCatalog },
      { hasAdmin, provisionIdentity },
      { SYSTEM_CLOCK },
      { openDatabase },
    ] = await Promise.all([
      import('../../lib/private-files.js'),
      import('node:path'),
      import('../../config/catalog.js'),
      import('../../identity/provision.js'),
      import('../../store/clock.js'),
      import('../../store/db.js'),
    ]);
    const catalog = await loadCatalog(options.catalog);
    const dataDir = path.resolve(options.data);
    if (!options.database)
      await Promise.all(catalog.regions.map((r) => ownPrivateDir(path.join(dataDir, r.name))));
    const regions = await Promise.all(
      catalog.regions.map(async (r) => ({
        region: r.name,
        db: await openDatabase(
          options.database
            ? { kind: 'postgres', url: options.database.replaceAll('{region}', r.name) }
            : { kind: 'sqlite', file: path.join(dataDir, r.name, 'ferry.sqlite') },
        ),
      })),
    );
    try {
      if (await hasAdmin(regions)) {
        throw new Error('an administrator exists already; ask them for a token');
      }
      const created = await provisionIdentity(regions, SYSTEM_CLOCK, {
        account: 'admin',
        user: 'admin',
        isAdmin: true,
      });
      console.log(`Administrator created in ${regions.map((r) => r.region).join(', ')}.`);
      console.log(`Token (shown once, valid 30 days): ${created.token}`);
    } finally {
      await Promise.all(regions.map((r) => r.db.destroy()));
    }
  });
}

function registerAccountCommands(admin: Command): void {
  const account = example(
    admin.command('account').description('Accounts (administrators).'),
    'ferry admin account list',
  );

  example(account.command('list').description('List accounts.'), 'ferry admin account list').action(
    withContext(async (ctx) => {
      const { accounts } = await (
        await ctx.client()
      ).request<{ accounts: AccountView[] }>('GET', '/v1/admin/accounts');
      ctx.out.list(accounts, {
        id: (a) => a.id,
        columns: [
          { header: 'ID', value: (a) => a.id },
          { header: 'Name', value: (a) => a.name },
          { header: 'Created', value: (a) => a.created_at },
        ],
      });
    }),
  );

  example(
    account
      .command('create')
      .argument('<name>', 'account name')
      .option(
        '--regions <names>',
        'create it in these regions (default: every region of the catalog)',
        collect,
      )
      .description('Create an account, with the same id in every region.'),
    'ferry admin account create acme',
  ).action(
    withContext<[string], { regions?: string[] }>(async (ctx, o, name) => {
      const id = newId();
      const clients = await clientsFor(ctx, await targetRegions(ctx, o.regions));
      const created = [];
      for (const client of clients) {
        created.push(await client.request<AccountView>('POST', '/v1/admin/accounts', { json: { id, name } }));
      }
      ctx.out.record({ ...created[0]!, regions: clients.map((c) => c.region ?? c.endpoint) }, { id });
    }),
  );

  example(
    account
      .command('show')
      .argument('<account>', 'account ID or name')
      .description('Show an account, its users and projects.'),
    'ferry admin account show acme',
  ).action(
    withContext<[string]>(async (ctx, _o, ref) => {
      const client = await ctx.client();
      const id = await resolveAccountId(client, ref);
      const detail = await client.request<AccountDetail>('GET', `/v1/admin/accounts/${id}`);
      ctx.out.emit({
        json: detail,
        ids: [detail.id],
        human: () =>
          [
            `Account ${detail.name} (${detail.id}), created ${detail.created_at}`,
            `Users: ${detail.users.map((u) => `${u.name} (${u.id}${u.is_admin ? ', admin' : ''}${u.enabled === false ? ', disabled' : ''})`).join(', ') || 'none'}`,
            `Projects in ${client.region ?? 'this region'}: ${detail.projects.map((p) => `${p.name} (${p.id})`).join(', ') || 'none'}`,
          ].join('\n'),
      });
    }),
  );
}

function registerUserAndProjectCommands(admin: Command): void {
  const user = example(
    admin.command('user').description('Users of accounts (administrators).'),
    'ferry admin user create acme alice',
  );
  example(
    user
      .command('create')
      .argument('<account>', 'account ID or name')
      .argument('<name>', 'user name')
      .option('--admin', 'make the user an administrator')
      .option(
        '--regions <names>',
        'create it in these regions (default: every region of the catalog)',
        collect,
      )
      .description('Create a user in an account, with the same id in every region.'),
    'ferry admin user create acme alice',
  ).action(
    withContext<[string, string], { admin?: boolean; regions?: string[] }>(
      async (ctx, o, accountRef, name) => {
        const clients = await clientsFor(ctx, await targetRegions(ctx, o.regions));
        const accountId = await resolveAccountId(clients[0]!, accountRef);
        const id = newId();
        let created: Record<string, unknown> = {};
        for (const client of clients) {
          created = await client.request('POST', `/v1/admin/accounts/${accountId}/users`, {
            json: { id, name, is_admin: o.admin === true },
          });
        }
        ctx.out.record({ ...created, regions: clients.map((c) => c.region ?? c.endpoint) }, { id });
      },
    ),
  );

  for (const enabled of [false, true]) {
    const verb = enabled ? 'enable' : 'disable';
    example(
      user
        .command(verb)
        .argument('<user>', 'user ID, or name with --account')
        .option('--account <id|name>', 'the user’s account')
        .description(
          enabled
            ? 'Enable a disabled user again, in every region (it needs new tokens).'
            : 'Disable a user in every region: its tokens are revoked and refused, and no new one is issued.',
        ),
      `ferry admin user ${verb} alice --account acme`,
    ).action(
      withContext<[string], { account?: string }>(async (ctx, o, ref) => {
        const client = await ctx.client();
        const id = await resolveUserId(client, ref, o.account);
        const changed = await client.request<Record<string, unknown>>('PATCH', `/v1/admin/users/${id}`, {
          json: { enabled },
        });
        ctx.out.record(changed, { id });
      }),
    );
  }

  const project = example(
    admin.command('project').description('Projects of accounts, one per region (administrators).'),
    'ferry admin project create acme',
  );
  example(
    project
      .command('create')
      .argument('<account>', 'account ID or name')
      .argument('[name]', 'project name (default: the region’s name, as public clouds name them)')
      .option(
        '--regions <names>',
        'create one in each of these regions (default: every region of the catalog)',
        collect,
      )
      .description('Create a project of an account in each region.'),
    'ferry admin project create acme',
    'ferry admin project create acme team-a --regions north-1',
  ).action(
    withContext<[string, string | undefined], { regions?: string[] }>(async (ctx, o, accountRef, name) => {
      const clients = await clientsFor(ctx, await targetRegions(ctx, o.regions));
      const accountId = await resolveAccountId(clients[0]!, accountRef);
      const projects: Array<Record<string, unknown>> = [];
      for (const client of clients) {
        const projectName = name ?? client.region;
        if (!projectName) throw new UsageError('name the project (the region is not known)');
        projects.push(
          await client.request('POST', `/v1/admin/accounts/${accountId}/projects`, {
            json: { name: projectName },
          }),
        );
      }
      ctx.out.list(projects, {
        id: (p) => String(p.id),
        columns: [
          { header: 'ID', value: (p) => p.id },
          { header: 'Name', value: (p) => p.name },
          { header: 'Region', value: (p) => p.region },
        ],
      });
    }),
  );
}

export function registerAdminCommands(program: Command): void {
  const admin = example(
    program
      .command('admin')
      .description(
        'Administration: the first administrator, accounts, users, projects, tokens, agencies, storage.',
      ),
    'ferry admin account list',
  );
  registerBootstrap(admin);
  registerAccountCommands(admin);
  registerUserAndProjectCommands(admin);
  registerAdminTokenCommands(admin);
  registerAdminAgencyCommands(admin);
  registerAdminStorageCommands(admin);
  registerAdminRuntimeCommand(admin);
}
