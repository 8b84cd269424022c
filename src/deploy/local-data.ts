/**
 * What the local demo deployment keeps in its data folder besides the regions' databases and blobs: the
 * servers' catalog (`catalog.json`, with each region's credential hashes), each region's credential
 * (`<region>/region-credential`, mode 0600), the clients' catalog (`regions.json`) and the demo account. Shared by the supervised deployment (`ferry local`, supervisor.ts) and the in-process one
 * (`startLocal`, local.ts), so both leave the same folder behind.
 * @module
 */
import { stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { clientCatalog, loadCatalog, loopbackCatalog, type RegionCatalog } from '../config/catalog.js';
import { migrateCatalogFile, readCatalogJson, writeCatalogJson } from '../config/catalog-file.js';
import {
  credentialSha256,
  ensureCredential,
  ensureRegionCredentials,
  regionCredentialFile,
} from '../config/region-credential.js';
import { provisionIdentity, type ProvisionedIdentity, type RegionDb } from '../identity/provision.js';
import { SYSTEM_CLOCK } from '../store/clock.js';
import { DEMO_ACCOUNT, DEMO_AGENCY } from './demo.js';

/** How long the token printed at start is valid. */
const DEMO_TOKEN_TTL_SECONDS = 7 * 24 * 3600;

/** `<data>/catalog.json`: the servers' catalog. */
export function serverCatalogFile(dataDir: string): string {
  return path.join(dataDir, 'catalog.json');
}

/** `<data>/regions.json`: the clients' catalog. */
export function clientCatalogFile(dataDir: string): string {
  return path.join(dataDir, 'regions.json');
}

/**
 * Reads the servers' catalog, or writes a new one on first start: `names` on consecutive ports from
 * `basePort` (every port 0 when `basePort` is 0, so each start lets the system choose), `scheme` https when
 * the regions serve TLS. Each region's credential file is created if missing, its hash then the one the
 * catalog lists for the region (the deployment owns every region's file). A former catalog, with the regions'
 * secrets in it (`internal_secret`), is migrated first: each secret moves to its region's credential file.
 */
export async function loadOrWriteCatalog(
  dataDir: string,
  names: string[],
  basePort: number,
  scheme: 'http' | 'https' = 'http',
): Promise<RegionCatalog> {
  const file = serverCatalogFile(dataDir);
  const credentialFile = (region: string) => regionCredentialFile(dataDir, region);
  const exists = await stat(file).then(
    () => true,
    (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return false;
      throw error;
    },
  );
  if (!exists) {
    const catalog = loopbackCatalog(
      names,
      names.map((_, i) => (basePort === 0 ? 0 : basePort + i)),
      await ensureRegionCredentials(dataDir, names),
      scheme,
    );
    // No secret in it: readable by all, as any catalog.
    await writeFile(file, JSON.stringify(catalog, null, 2) + '\n', { mode: 0o644 });
    return catalog;
  }
  await migrateCatalogFile(file, credentialFile);
  const json = await readCatalogJson(file);
  let changed = false;
  for (const entry of json.regions) {
    const { credential, created } = await ensureCredential(credentialFile(entry.name));
    if (created) {
      entry.credential_sha256 = [credentialSha256(credential)];
      changed = true;
    }
  }
  return changed ? writeCatalogJson(file, json) : loadCatalog(file);
}

/** Writes `regions.json` from the catalog as the regions really listen (ports the system chose included). */
export async function writeClientCatalog(file: string, catalog: RegionCatalog): Promise<void> {
  await writeFile(file, JSON.stringify(clientCatalog(catalog), null, 2) + '\n', { mode: 0o644 });
}

/**
 * `<data>/<region>/ferry.sqlite`: a region's database, the one `startRegion` opens when given no other. The
 * supervisor opens it only to provision the demo account, before the region's process starts.
 */
export function regionDatabaseFile(dataDir: string, region: string): string {
  return path.join(dataDir, region, 'ferry.sqlite');
}

/** The demo account in every region (kept if it exists) and a new token valid in all of them. */
export function provisionDemo(regions: RegionDb[]): Promise<ProvisionedIdentity> {
  return provisionIdentity(
    regions,
    SYSTEM_CLOCK,
    { account: DEMO_ACCOUNT, user: DEMO_ACCOUNT, isAdmin: false, agency: DEMO_AGENCY },
    DEMO_TOKEN_TTL_SECONDS,
  );
}
