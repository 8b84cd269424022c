/**
 * `ferry region move`: an embedded region's SQLite file (and, when the settings put blobs in S3, its blob
 * folder) copied into PostgreSQL (and the bucket), to run the region as a scale-out region from then on
 * (deploy/region-move.ts says how; docs/deploy.md when).
 * @module
 */
import path from 'node:path';
import type { Command } from 'commander';
import { example } from '../context.js';
import { UsageError } from '../errors.js';

interface MoveOptions {
  data: string;
  database: string;
  databaseSchema?: string;
  settings?: string;
  progress: boolean;
}

/** A progress line at most this often. */
const PROGRESS_EVERY_MS = 2_000;

async function move(region: string, options: MoveOptions): Promise<string[]> {
  const [{ moveRegion }, { loadSettings }] = await Promise.all([
    import('../../deploy/region-move.js'),
    import('../../config/settings.js'),
  ]);
  const settings = await loadSettings(options.settings);
  let lastLine = 0;
  const report = await moveRegion({
    dataDir: path.resolve(options.data),
    region,
    database: {
      kind: 'postgres',
      url: options.database,
      ...(options.databaseSchema !== undefined ? { schema: options.databaseSchema } : {}),
    },
    storage: settings.storage ?? {},
    onProgress: ({ phase, done, total }) => {
      if (!options.progress || (done < total && Date.now() - lastLine < PROGRESS_EVERY_MS)) return;
      lastLine = Date.now();
      console.error(`${phase}: ${done}/${total}`);
    },
  });
  const rows = report.rows.reduce((sum, table) => sum + table.rows, 0);
  const serve = [
    `ferry serve --region ${region} --data ${options.data} --database <url>`,
    ...(options.databaseSchema !== undefined ? [`--database-schema ${options.databaseSchema}`] : []),
    ...(options.settings !== undefined ? [`--settings ${options.settings}`] : []),
    '--catalog <catalog>',
  ].join(' ');
  return [
    `Moved region ${region}: ${rows} rows in ${report.rows.length} tables to PostgreSQL` +
      (options.databaseSchema !== undefined ? ` (schema ${options.databaseSchema})` : '') +
      '.',
    report.blobs.moved
      ? `Blobs: ${report.blobs.copied} copied to the bucket (${report.blobs.bytes} bytes), ${report.blobs.present} there already.`
      : `Blobs: left in ${path.join(options.data, region, 'blobs')} (the settings keep storage.blobStore "fs").`,
    `Start the region on them from now on: ${serve}`,
    `${path.join(options.data, region, 'ferry.sqlite')} is left as it was; delete it once the region runs.`,
  ];
}

export function registerRegionMoveCommand(region: Command): void {
  example(
    region
      .command('move')
      .description(
        "Copy a stopped embedded region's SQLite data into PostgreSQL, and its blob folder into S3 when the " +
          'settings say storage.blobStore "s3"; the region then runs on them (ferry serve --database).',
      )
      // Declared for the help; the value arrives through the program's global --region option.
      .option('--region <name>', 'the region to move (required); it must be stopped')
      .option('--data <dir>', 'data folder: the region is <data>/<region>/', './data')
      .requiredOption('--database <url>', 'the PostgreSQL URL (postgres://...) the rows go to')
      .option('--database-schema <name>', "the region's PostgreSQL schema (created if missing)")
      .option('--settings <file>', 'the settings the region will run with (their storage section)')
      .option('--no-progress', 'print no progress lines'),
    'ferry region move --region north-1 --data ./data --database postgres://ferry@db/ferry --database-schema north_1 --settings north-1.json',
  ).action(async (options: MoveOptions, command: Command) => {
    const name = command.optsWithGlobals<{ region?: string }>().region;
    if (name === undefined) throw new UsageError("required option '--region <name>' not specified");
    console.log((await move(name, options)).join('\n'));
  });
}
