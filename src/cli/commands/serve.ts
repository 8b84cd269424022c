/**
 * `ferry serve` and `ferry worker`: one region's process, as in a deployment of one process per region
 * (`serve`), or a scale-out region (`serve --api-only` many times behind a load balancer, and `worker` beside
 * them, over one PostgreSQL database and one S3 bucket). The server modules are loaded only when the command
 * runs, so the client commands start quickly. SIGHUP makes the process re-read its catalog and its credential
 * file at once (it also looks for a change every `replication.trustCheckMs`); SIGTERM stops it: no new job is
 * claimed, running transfers are handed back for another worker, requests in flight finish.
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
  databaseSchema?: string;
  host: string;
  port?: string;
  settings?: string;
  credentialFile?: string;
  apiOnly?: boolean;
}

type RegionRole = 'all' | 'api' | 'worker';

export function registerServeCommand(program: Command): void {
  example(
    withRegionOptions(
      program
        .command('serve')
        .description('Run one region of a catalog: its API, and its background work unless --api-only.'),
      '--port <port>',
      'port to listen on (default: the catalog endpoint port)',
    ).option(
      '--api-only',
      'serve the API only, no background work: for many API processes beside `ferry worker` processes',
    ),
    'ferry serve --region north-1 --catalog ./data/catalog.json',
  ).action((options: ServeOptions, command: Command) =>
    runRegionProcess(options, command, options.apiOnly === true ? 'api' : 'all'),
  );
  example(
    withRegionOptions(
      program
        .command('worker')
        .description(
          "Run one region's background work: replication transfers, garbage collection, scrub, deliveries. " +
            'It serves /healthz, /readyz and /metrics only.',
        ),
      '--port <port>',
      'port of its /healthz, /readyz and /metrics (default: any free port, printed)',
      '0',
    ),
    'ferry worker --region north-1 --catalog ./catalog.json --database postgres://... --settings s3.json',
  ).action((options: ServeOptions, command: Command) => runRegionProcess(options, command, 'worker'));
}

function withRegionOptions(
  command: Command,
  portFlag: string,
  portHelp: string,
  portDefault?: string,
): Command {
  return (
    command
      // Declared for the help; the value arrives through the program's global --region option.
      .option('--region <name>', 'the region (a name in the catalog; required)')
      .requiredOption('--catalog <file>', 'region catalog (JSON): regions, endpoints, replication pairs')
      .option('--data <dir>', 'data folder: <data>/<region>/ holds the SQLite file and blobs', './data')
      .option('--database <url>', 'PostgreSQL URL (postgres://...) instead of the embedded SQLite file')
      .option(
        '--database-schema <name>',
        "the region's PostgreSQL schema (created if missing), so regions can share one database",
      )
      .option('--host <host>', 'address to listen on', '127.0.0.1')
      .option(portFlag, portHelp, portDefault)
      .option('--settings <file>', 'deployment settings (JSON): limits, replication rules, storage, TLS')
      .option(
        '--credential-file <file>',
        "the region's credential for region-to-region calls (default: <data>/<region>/region-credential)",
      )
  );
}

async function runRegionProcess(options: ServeOptions, command: Command, role: RegionRole): Promise<void> {
  const name = command.optsWithGlobals<{ region?: string }>().region;
  if (name === undefined) throw new UsageError("required option '--region <name>' not specified");
  if (options.databaseSchema !== undefined && options.database === undefined) {
    throw new UsageError('--database-schema names a schema of the --database given: give --database too');
  }
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
    ...(options.credentialFile !== undefined ? { credentialFile: path.resolve(options.credentialFile) } : {}),
    dataDir: path.resolve(options.data),
    host: options.host,
    ...(options.port !== undefined ? { port: Number(options.port) } : {}),
    ...(options.database
      ? {
          database: {
            kind: 'postgres' as const,
            url: options.database,
            ...(options.databaseSchema !== undefined ? { schema: options.databaseSchema } : {}),
          },
        }
      : {}),
    ...settings,
    role,
    logger: true,
  });
  const what = role === 'worker' ? 'worker' : role === 'api' ? 'API' : 'region';
  console.error(`ferry: ${what} of region ${region.name} listening on ${region.url}`);
  process.on('SIGHUP', () => void region.refreshTrust());
  stopOnSignals(() => region.close());
}
