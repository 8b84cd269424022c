/**
 * `ferry vault ...`: the vaults of the current project in the current region (`/v1/vaults`): create, list,
 * show, delete (when empty) and the backups in one (whole-server images' disks).
 * @module
 */
import type { Command } from 'commander';
import type { BackupView, VaultView } from '../../api/schemas/vault.js';
import { example, withContext, type CliContext } from '../context.js';
import { UsageError } from '../errors.js';
import { formatBytes } from '../units.js';

function printVaults(ctx: CliContext, vaults: VaultView[]): void {
  ctx.out.list(vaults, {
    id: (v) => v.id,
    empty: 'No vaults in this region.',
    columns: [
      { header: 'ID', value: (v) => v.id },
      { header: 'Name', value: (v) => v.name },
      { header: 'Protection', value: (v) => v.protection_type },
      { header: 'Used', value: (v) => formatBytes(v.used), align: 'right' },
      { header: 'Size', value: (v) => formatBytes(v.size), align: 'right' },
      { header: 'Created', value: (v) => v.created_at },
    ],
  });
}

/** The disks of a whole-server image, or the backups of a vault. */
export function printBackups(ctx: CliContext, backups: BackupView[], empty: string): void {
  ctx.out.list(backups, {
    id: (b) => b.id,
    empty,
    columns: [
      { header: 'Backup', value: (b) => b.id },
      { header: 'Image', value: (b) => b.image_id },
      { header: 'Disk', value: (b) => `${b.disk_index} (${b.role})` },
      { header: 'Format', value: (b) => b.disk_format },
      { header: 'Size', value: (b) => formatBytes(b.size), align: 'right' },
      { header: 'Status', value: (b) => b.status },
    ],
  });
}

export function registerVaultCommands(program: Command): void {
  const vault = example(
    program
      .command('vault')
      .description('Vaults: where the disks of whole-server images are kept (backup or replication).'),
    'ferry vault create servers --protection backup --size 100',
  );

  example(
    vault
      .command('create')
      .argument('<name>', 'vault name')
      .requiredOption(
        '--protection <type>',
        'backup (make whole-server images) or replication (receive them)',
      )
      .option('--size <GiB>', 'capacity in GiB', '100')
      .description('Create a vault in the current region.'),
    'ferry vault create servers --protection backup --size 200',
    'ferry vault create arrivals --protection replication --region south-1',
  ).action(
    withContext<[string], { protection: string; size: string }>(async (ctx, o, name) => {
      if (!/^\d+$/.test(o.size)) throw new UsageError(`--size must be a whole number of GiB, not ${o.size}`);
      const created = await (
        await ctx.client()
      ).request<VaultView>('POST', '/v1/vaults', {
        json: { name, protection_type: o.protection, size_gib: Number(o.size) },
      });
      ctx.out.record(created as unknown as Record<string, unknown>, { id: created.id });
    }),
  );

  example(
    vault.command('list').description('List your vaults in the current region.'),
    'ferry vault list',
  ).action(
    withContext(async (ctx) => {
      const { vaults } = await (await ctx.client()).request<{ vaults: VaultView[] }>('GET', '/v1/vaults');
      printVaults(ctx, vaults);
    }),
  );

  example(
    vault.command('show').argument('<vault>', 'vault ID').description('Show a vault and what it holds.'),
    'ferry vault show 6f1c…',
  ).action(
    withContext<[string]>(async (ctx, _o, id) => {
      const shown = await (
        await ctx.client()
      ).request<VaultView>('GET', `/v1/vaults/${encodeURIComponent(id)}`);
      ctx.out.record(shown as unknown as Record<string, unknown>, { id: shown.id });
    }),
  );

  example(
    vault.command('backups').argument('<vault>', 'vault ID').description('List the backups in a vault.'),
    'ferry vault backups 6f1c…',
  ).action(
    withContext<[string]>(async (ctx, _o, id) => {
      const { backups } = await (
        await ctx.client()
      ).request<{ backups: BackupView[] }>('GET', `/v1/vaults/${encodeURIComponent(id)}/backups`);
      printBackups(ctx, backups, 'The vault holds no backups.');
    }),
  );

  example(
    vault
      .command('delete')
      .argument('<vault>', 'vault ID')
      .description('Delete an empty vault (delete its whole-server images first).'),
    'ferry vault delete 6f1c…',
  ).action(
    withContext<[string]>(async (ctx, _o, id) => {
      await (await ctx.client()).request('DELETE', `/v1/vaults/${encodeURIComponent(id)}`);
      ctx.out.note(`Vault ${id} deleted.`);
    }),
  );
}
