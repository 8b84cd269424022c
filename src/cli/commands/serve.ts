/**
 * `ferry serve`: one region alone, as in a scale-out deployment.
 * @module
 */
import path from 'node:path';
import type { Command } from 'commander';
import { loadCatalog } from '../../config/catalog.js';
import { loadSettings } from '../../config/settings.js';
import { startRegion } from '../../region/start-region.js';
import type { DatabaseConfig } from '../../store/db.js';
import { stopOnSignals } from '../signals.js';

export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('Run one region of a catalog.')
    .requiredOption('--region <name>', 'the region to serve (a name in the catalog)')
    .requiredOption('--catalog <file>', 'region catalog (JSON): regions, endpoints, replication pairs')
    .option('--data <dir>', 'data folder: <data>/<region>/ holds the SQLite file and blobs', './data')
    .option('--database <url>', 'PostgreSQL URL (postgres://...) instead of the embedded SQLite file')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port to listen on (default: the catalog endpoint port)')
    .option('--settings <file>', 'deployment settings (JSON): limits and replication rules')
    .addHelpText('after', '\nExample:\n  ferry serve --region north-1 --catalog ./data/catalog.json')
    .action(
      async (options: {
        region: string;
        catalog: string;
        data: string;
        database?: string;
        host: string;
        port?: string;
        settings?: string;
      }) => {
        const catalog = await loadCatalog(options.catalog);
        const settings = await loadSettings(options.settings);
        const database: DatabaseConfig | undefined = options.database
          ? { kind: 'postgres', url: options.database }
          : undefined;
        const region = await startRegion({
          name: options.region,
          catalog,
          dataDir: path.resolve(options.data),
          host: options.host,
          ...(options.port !== undefined ? { port: Number(options.port) } : {}),
          ...(database ? { database } : {}),
          ...settings,
          logger: true,
        });
        console.error(`ferry: region ${region.name} listening on ${region.url}`);
        stopOnSignals(() => region.close());
      },
    );
}
