/**
 * `ferry region credential rotate|migrate`: a region's credential for region-to-region calls changed
 * without stopping any region (docs/security.md, "Region trust and TLS"). Both work on files, not through
 * the API: the catalog file the regions read and the region's credential file.
 *
 * - `rotate`: (a) a new credential's hash added to the region's `credential_sha256` in the catalog, then
 *   (b) the new credential written to the region's credential file; prints step (c).
 * - `rotate --finish`: (c) every hash but the one of the credential in the file removed from the region's
 *   list: the old credential is refused from then on.
 * - `migrate`: a former catalog's `internal_secret` fields moved into credential files.
 * @module
 */
import path from 'node:path';
import type { Command } from 'commander';
import { example } from '../context.js';
import { UsageError } from '../errors.js';

interface RotateOptions {
  catalog: string;
  credentialFile: string;
  finish: boolean;
}

interface MigrateOptions {
  catalog: string;
  data: string;
}

/** The first characters of a hash, to name it in what is printed. */
const short = (hash: string) => `${hash.slice(0, 12)}…`;

async function rotate(region: string, options: RotateOptions): Promise<string[]> {
  const [{ parseCatalog }, files, credentials] = await Promise.all([
    import('../../config/catalog.js'),
    import('../../config/catalog-file.js'),
    import('../../config/region-credential.js'),
  ]);
  const catalogFile = path.resolve(options.catalog);
  const credentialFile = path.resolve(options.credentialFile);
  const json = await files.readCatalogJson(catalogFile);
  const listed = parseCatalog(json).regions.find((r) => r.name === region);
  if (listed === undefined) throw new UsageError(`region ${region} is not in the catalog ${catalogFile}`);
  const again = `ferry region credential rotate --catalog ${options.catalog} --region ${region} --credential-file ${options.credentialFile}`;

  if (options.finish) {
    const kept = credentials.credentialSha256(await credentials.readCredential(credentialFile));
    const removed = files.keepOnlyCredentialHash(json, region, kept);
    if (removed.length === 0) {
      return [
        `${region} is accepted with the credential in ${options.credentialFile} alone already: nothing to do.`,
      ];
    }
    await files.writeCatalogJson(catalogFile, json);
    return [
      `Step (c) done: ${options.catalog} lists ${short(kept)} alone for ${region} ` +
        `(removed ${removed.map(short).join(', ')}).`,
      'Every region that reads this file refuses the old credential once it has re-read it. Regions that',
      'read a copy of the catalog of their own refuse it once they have this version: copy it to them.',
    ];
  }

  const hashes = listed.credential_sha256 ?? [];
  if (hashes.length > 1) {
    throw new UsageError(
      `${region} is accepted with ${hashes.length} credentials already: a rotation is not finished. ` +
        `Finish it first: ${again} --finish`,
    );
  }
  const credential = credentials.newCredential();
  const hash = credentials.credentialSha256(credential);
  files.addCredentialHash(json, region, hash);
  await files.writeCatalogJson(catalogFile, json);
  // Only once the catalog lists the new credential: a region presents a credential only when its catalog
  // lists it, and the other regions accept it only then.
  await credentials.writeCredential(credentialFile, credential);
  return [
    `Step (a) done: ${options.catalog} lists a new credential for ${region} (sha256 ${short(hash)}) ` +
      `besides ${hashes.length > 0 ? `the current one (${short(hashes[0]!)})` : 'none'}.`,
    `Step (b) done: ${options.credentialFile} holds the new credential (mode 0600). ${region} presents it`,
    'once it has re-read both files (every replication.trustCheckMs, 5 s by default; at once on SIGHUP).',
    'Regions that read a copy of the catalog of their own must have this version before then (see',
    'docs/security.md for the order on several hosts).',
    '',
    `Step (c), once every region has this catalog and ${region} uses its new credential:`,
    `  ${again} --finish`,
  ];
}

async function migrate(options: MigrateOptions): Promise<string[]> {
  const [{ migrateCatalogFile }, { regionCredentialFile }] = await Promise.all([
    import('../../config/catalog-file.js'),
    import('../../config/region-credential.js'),
  ]);
  const data = path.resolve(options.data);
  const moved = await migrateCatalogFile(path.resolve(options.catalog), (region) =>
    regionCredentialFile(data, region),
  );
  if (moved.length === 0) return [`${options.catalog} holds no internal_secret: nothing to migrate.`];
  return [
    `Moved the secrets of ${moved.join(', ')} to ${path.join(options.data, '<region>', 'region-credential')} ` +
      `(mode 0600); ${options.catalog} lists their SHA-256 instead.`,
    'Give each region its own file (on its own host) and every region the new catalog. Every region could',
    'read every secret of the former catalog: rotate each region’s credential next (ferry region credential rotate).',
  ];
}

export function registerRegionCredentialCommands(region: Command): void {
  const credential = example(
    region
      .command('credential')
      .description(
        "A region's credential for region-to-region calls: rotate it, or migrate a former catalog.",
      ),
    'ferry region credential rotate --catalog ./data/catalog.json --region north-1 --credential-file ./data/north-1/region-credential',
  );

  example(
    credential
      .command('rotate')
      .description(
        "Add a new credential to the region's list in the catalog, then write it to the region's credential " +
          'file (--finish: remove every other credential of the region from the catalog).',
      )
      // Declared for the help; the value arrives through the program's global --region option.
      .option('--region <name>', 'the region whose credential changes (required)')
      .requiredOption('--catalog <file>', 'the catalog file the regions read')
      .requiredOption(
        '--credential-file <file>',
        "the region's credential file (e.g. <data>/<region>/region-credential)",
      )
      .option('--finish', "step (c): keep only the credential now in the region's file", false),
    'ferry region credential rotate --catalog ./data/catalog.json --region north-1 --credential-file ./data/north-1/region-credential',
    'ferry region credential rotate --finish --catalog ./data/catalog.json --region north-1 --credential-file ./data/north-1/region-credential',
  ).action(async (options: RotateOptions, command: Command) => {
    const name = command.optsWithGlobals<{ region?: string }>().region;
    if (name === undefined) throw new UsageError("required option '--region <name>' not specified");
    console.log((await rotate(name, options)).join('\n'));
  });

  example(
    credential
      .command('migrate')
      .description(
        "Move a former catalog's region secrets (internal_secret) into each region's credential file.",
      )
      .requiredOption('--catalog <file>', 'the catalog file, rewritten in place')
      .option('--data <dir>', 'data folder: the files go to <data>/<region>/region-credential', './data'),
    'ferry region credential migrate --catalog ./data/catalog.json --data ./data',
  ).action(async (options: MigrateOptions) => {
    console.log((await migrate(options)).join('\n'));
  });
}
