/**
 * `ferry admin bootstrap`: creates the first administrator (account `admin`, user `admin`) in every region of
 * a catalog whose databases this machine can open, and prints the administrator's token once.
 * @module
 */
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import { loadCatalog } from '../../config/catalog.js';
import { hasAdmin, provisionIdentity } from '../../identity/provision.js';
import { SYSTEM_CLOCK } from '../../store/clock.js';
import { openDatabase } from '../../store/db.js';

export function registerAdminCommands(program: Command): void {
  const admin = program.command('admin').description('Administration.');
  admin
    .command('bootstrap')
    .description('Create the first administrator in every region of the catalog and print its token.')
    .requiredOption('--catalog <file>', 'region catalog (JSON)')
    .option('--data <dir>', 'data folder holding <region>/ferry.sqlite', './data')
    .option('--database <url>', 'PostgreSQL URL; use {region} where the region name goes')
    .addHelpText('after', '\nExample:\n  ferry admin bootstrap --catalog ./data/catalog.json --data ./data')
    .action(async (options: { catalog: string; data: string; database?: string }) => {
      const catalog = await loadCatalog(options.catalog);
      const dataDir = path.resolve(options.data);
      if (!options.database)
        await Promise.all(catalog.regions.map((r) => mkdir(path.join(dataDir, r.name), { recursive: true })));
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
        const admin = await provisionIdentity(regions, SYSTEM_CLOCK, {
          account: 'admin',
          user: 'admin',
          isAdmin: true,
        });
        console.log(`Administrator created in ${regions.map((r) => r.region).join(', ')}.`);
        console.log(`Token (shown once, valid 30 days): ${admin.token}`);
      } finally {
        await Promise.all(regions.map((r) => r.db.destroy()));
      }
    });
}
