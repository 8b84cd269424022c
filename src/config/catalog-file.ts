/**
 * Changes to a catalog file, for the commands that rotate a region's credential and migrate a former catalog
 * (cli/commands/region-credential.ts) and for `ferry local`: each reads the file's JSON, changes one field
 * of one region, keeps every other field as written, and replaces the file at once (written beside it, then
 * renamed), so that a region re-reading it (region/region-trust.ts) sees the old catalog or the new one.
 * @module
 */
import { randomBytes } from 'node:crypto';
import { readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { FerryError } from '../domain/errors.js';
import { parseCatalog, type RegionCatalog } from './catalog.js';
import { checkCredential, credentialSha256, readCredential, writeCredential } from './region-credential.js';

/** A catalog as its JSON: only `regions[].name` is relied on; every other field is kept as it is. */
export interface CatalogJson {
  regions: Array<Record<string, unknown> & { name: string }>;
  [field: string]: unknown;
}

function refuse(message: string): never {
  throw new FerryError('VALIDATION_FAILED', `region catalog: ${message}`);
}

/** Reads a catalog file's JSON (not validated: a former catalog must be readable to be migrated). */
export async function readCatalogJson(file: string): Promise<CatalogJson> {
  let value: unknown;
  try {
    value = JSON.parse(await readFile(file, 'utf8'));
  } catch (error) {
    if (error instanceof SyntaxError) refuse(`${file} is not valid JSON`);
    refuse(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  const regions = (value as { regions?: unknown } | null)?.regions;
  if (!Array.isArray(regions) || !regions.every((r) => typeof (r as { name?: unknown })?.name === 'string')) {
    refuse(`${file} has no "regions" list of named regions`);
  }
  return value as CatalogJson;
}

/**
 * Validates `json` (parseCatalog) and writes it to `file` in place of the old one, with the old file's mode
 * (default 0644: a catalog holds no secret). Returns the parsed catalog.
 */
export async function writeCatalogJson(file: string, json: CatalogJson): Promise<RegionCatalog> {
  const catalog = parseCatalog(json);
  const mode = await stat(file).then(
    (s) => s.mode & 0o777,
    () => 0o644,
  );
  const staged = `${file}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    await writeFile(staged, JSON.stringify(json, null, 2) + '\n', { mode, flag: 'wx' });
    await rename(staged, file);
  } catch (error) {
    await rm(staged, { force: true });
    throw error;
  }
  return catalog;
}

function regionOf(json: CatalogJson, region: string): CatalogJson['regions'][number] {
  const entry = json.regions.find((r) => r.name === region);
  if (entry === undefined) refuse(`region ${region} is not in the catalog`);
  return entry;
}

function hashesOf(entry: Record<string, unknown>): string[] {
  const list = entry.credential_sha256;
  return Array.isArray(list) ? list.filter((h): h is string => typeof h === 'string') : [];
}

/** Rotation step (a): `hash` added to the credentials `region` is accepted with (kept if listed already). */
export function addCredentialHash(json: CatalogJson, region: string, hash: string): void {
  const entry = regionOf(json, region);
  const hashes = hashesOf(entry);
  if (!hashes.includes(hash)) entry.credential_sha256 = [...hashes, hash];
}

/**
 * Rotation step (c): `region` accepted with `hash` alone. Answers the hashes removed. Refused if `hash` is
 * not listed yet (the credential the region uses would be refused everywhere).
 */
export function keepOnlyCredentialHash(json: CatalogJson, region: string, hash: string): string[] {
  const entry = regionOf(json, region);
  const hashes = hashesOf(entry);
  if (!hashes.includes(hash)) {
    refuse(`the catalog does not list the credential in use for ${region}: finishing would lock it out`);
  }
  entry.credential_sha256 = [hash];
  return hashes.filter((h) => h !== hash);
}

/**
 * A former catalog's `internal_secret` fields replaced with their hashes: answers each region's secret, to
 * be written to its credential file. The secrets are kept as they were, so the regions go on accepting each
 * other; rotate each afterwards (every region read every other's secret in the former catalog).
 */
export function migrateInternalSecrets(json: CatalogJson): Array<{ region: string; credential: string }> {
  const moved: Array<{ region: string; credential: string }> = [];
  for (const entry of json.regions) {
    if (!('internal_secret' in entry)) continue;
    const secret = entry.internal_secret;
    delete entry.internal_secret;
    if (typeof secret !== 'string') refuse(`regions ${entry.name}: internal_secret is not a string`);
    checkCredential(secret, `the internal_secret of ${entry.name}`);
    const hashes = hashesOf(entry);
    const hash = credentialSha256(secret);
    entry.credential_sha256 = hashes.includes(hash) ? hashes : [...hashes, hash];
    moved.push({ region: entry.name, credential: secret });
  }
  return moved;
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    () => true,
    (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return false;
      throw error;
    },
  );
}

/**
 * Migrates a former catalog file in place: each region's `internal_secret` goes to its credential file
 * (`credentialFileOf(region)`, mode 0600) and the catalog lists its hash instead. The credential files are
 * written first, so a migration cut short is finished by running it again; a credential file that exists
 * already must hold the same secret (else refused, nothing overwritten). Answers the regions migrated (none:
 * the catalog had no secret, and is left as it was).
 */
export async function migrateCatalogFile(
  file: string,
  credentialFileOf: (region: string) => string,
): Promise<string[]> {
  const json = await readCatalogJson(file);
  const moved = migrateInternalSecrets(json);
  if (moved.length === 0) return [];
  parseCatalog(json); // the rest of the catalog must be valid before any file is written
  for (const { region, credential } of moved) {
    const target = credentialFileOf(region);
    if (!(await exists(target))) await writeCredential(target, credential);
    else if ((await readCredential(target)) !== credential) {
      refuse(`${target} exists and holds another credential than the catalog's for ${region}: not replaced`);
    }
  }
  await writeCatalogJson(file, json);
  return moved.map((m) => m.region);
}
