/**
 * `ferry serve`: one region alone, as in a scale-out deployment. The server modules are loaded only when the
 * command runs, so the client commands start quickly. SIGHUP makes the region re-read its catalog and its
 * credential file at once (it also looks for a change every `replication.trustCheckMs`).
 * @module
 */
import path from 'node:path';
import type { Command } from 'commander';
import { example } from '../context.js';
import { UsageError } from '../errors.js';
import { stopOnSignals } from '../signals.js';

interface ServeOptions {
  catalog: string;
  data: string;
  database?: string;
  host: string;
  port?: string;
  settings?: string;
  credentialFile?: string;
}

export function registerServeCommand(program: Command): void {
  example(
    program
      .command('serve')
      .description('Run one region of a catalog.')
      // Declared for the help; the value arrives through the program's global --region option.
      .option('--region <name>', 'the region to serve (a name in the catalog; required)')
      .requiredOption('--catalog <file>', 'region catalog (JSON): regions, endpoints, replication pairs')
      .option('--data <dir>', 'data folder: <data>/<region>/ holds the SQLite file and blobs', './data')
      .option('--database <url>', 'PostgreSQL URL (postgres://...) instead of the embedded SQLite file')
      .option('--host <host>', 'address to listen on', '127.0.0.1')
      .option('--port <port>', 'port to listen on (default: the catalog endpoint port)')
      .option('--settings <file>', 'deployment settings (JSON): limits, replication rules, TLS')
      .option(
        '--credential-file <file>',
        "the region's credential for region-to-region calls (default: <data>/<region>/region-credential)",
      ),
    'ferry serve --region north-1 --catalog ./data/catalog.json',
  ).action(async (options: ServeOptions, command: Command) => {
    const name = command.optsWithGlobals<{ region?: string }>().region;
    if (name === undefined) throw new UsageError("required option '--region <name>' not specified");
    const [{ loadCatalog }, { loadSettings }, { startRegion }] = await Promise.all([
      import('../../config/catalog.js'),
      import('../../config/settings.js'),
      import('../../region/start-region.js'),
    ]);
    const catalog = await loadCatalog(options.catalog);
    const settings = await loadSettings(options.settings);
    const region = await startRegion({
      name,
      catalog,
      catalogFile: path.resolve(options.catalog),
      ...(options.credentialFile !== undefined
        ? { credentialFile: path.resolve(options.credentialFile) }
        : {}),
      dataDir: path.resolve(options.data),
      host: options.host,
      ...(options.port !== undefined ? { port: Number(options.port) } : {}),
      ...(options.database ? { database: { kind: 'postgres' as const, url: options.database } } : {}),
      ...settings,
      logger: true,
    });
    console.error(`ferry: region ${region.name} listening on ${region.url}`);
    process.on('SIGHUP', () => void region.refreshTrust());
    stopOnSignals(() => region.close());
  });
}
