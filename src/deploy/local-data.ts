/**
 * What the local demo deployment keeps in its data folder besides the regions' own files: the servers'
 * catalog (`catalog.json`, with the regions' secrets), the clients' catalog (`regions.json`) and the demo
 * account. Shared by the supervised deployment (`ferry local`, supervisor.ts) and the in-process one
 * (`startLocal`, local.ts), so both leave the same folder behind.
 * @module
 */
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { clientCatalog, loopbackCatalog, parseCatalog, type RegionCatalog } from '../config/catalog.js';
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
 * `basePort` (every port 0 when `basePort` is 0, so each start lets the system choose).
 */
export async function loadOrWriteCatalog(
  file: string,
  names: string[],
  basePort: number,
): Promise<RegionCatalog> {
  try {
    return parseCatalog(JSON.parse(await readFile(file, 'utf8')));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const catalog = loopbackCatalog(
    names,
    names.map((_, i) => (basePort === 0 ? 0 : basePort + i)),
  );
  // The catalog holds the regions' secrets: readable by its owner only.
  await writeFile(file, JSON.stringify(catalog, null, 2) + '\n', { mode: 0o600 });
  return catalog;
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
