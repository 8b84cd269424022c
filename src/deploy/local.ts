/**
 * Ferry's main job on one machine: several demo regions in one process, each on its own loopback port with
 * its own SQLite file and blob folder under `<data>/<region>/`, a demo account with a project in every region
 * and an agency allowed to replicate into every region, and a fresh token printed at start. Data survives a
 * restart: the catalog, account and images are reused.
 * @module
 */
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { clientCatalog, loopbackCatalog, parseCatalog, type RegionCatalog } from '../config/catalog.js';
import { provisionIdentity, type ProvisionedIdentity } from '../identity/provision.js';
import { SYSTEM_CLOCK } from '../store/clock.js';
import { startRegion, type RunningRegion } from '../region/start-region.js';
import type { ReplicationSettings } from '../replication/settings.js';
import type { RegionLimits } from '../api/context.js';

import { DEMO_ACCOUNT, DEMO_AGENCY, DEMO_BASE_PORT, DEMO_REGIONS } from './demo.js';

export { DEMO_ACCOUNT, DEMO_AGENCY, DEMO_BASE_PORT, DEMO_REGIONS };

export interface LocalOptions {
  dataDir: string;
  /** First region's port; the others follow (default: 9301). 0 = any free ports (tests). */
  basePort?: number;
  regions?: string[];
  logger?: boolean | Record<string, unknown>;
  /** Replication settings for every region (tests shorten the timings). */
  replication?: Partial<ReplicationSettings>;
  /** Region limits for every region. */
  limits?: Partial<RegionLimits>;
}

export interface LocalDeployment {
  catalog: RegionCatalog;
  /** The servers' catalog, with the regions' secrets (mode 0600). */
  catalogFile: string;
  /** The same catalog without secrets, for the CLI and other clients (`regions.json`). */
  clientCatalogFile: string;
  regions: RunningRegion[];
  demo: ProvisionedIdentity;
  close(): Promise<void>;
}

async function loadOrWriteCatalog(file: string, names: string[], basePort: number): Promise<RegionCatalog> {
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

export async function startLocal(options: LocalOptions): Promise<LocalDeployment> {
  await mkdir(options.dataDir, { recursive: true });
  const catalogFile = path.join(options.dataDir, 'catalog.json');
  const basePort = options.basePort ?? DEMO_BASE_PORT;
  const catalog = await loadOrWriteCatalog(catalogFile, options.regions ?? DEMO_REGIONS, basePort);
  const regions: RunningRegion[] = [];
  try {
    for (const region of catalog.regions) {
      const port = basePort === 0 ? 0 : Number(new URL(region.endpoint).port);
      regions.push(
        await startRegion({
          name: region.name,
          catalog,
          dataDir: options.dataDir,
          port,
          logger: options.logger,
          ...(options.replication ? { replication: options.replication } : {}),
          ...(options.limits ? { limits: options.limits } : {}),
        }),
      );
    }
    if (basePort === 0) {
      // Ports were chosen by the system: tell every region where the others really are.
      for (const region of catalog.regions)
        region.endpoint = regions.find((r) => r.name === region.name)!.url;
    }
    const demo = await provisionIdentity(
      regions.map((r) => ({ region: r.name, db: r.ctx.db })),
      SYSTEM_CLOCK,
      { account: DEMO_ACCOUNT, user: DEMO_ACCOUNT, isAdmin: false, agency: DEMO_AGENCY },
      7 * 24 * 3600,
    );
    const clientCatalogFile = path.join(options.dataDir, 'regions.json');
    await writeFile(clientCatalogFile, JSON.stringify(clientCatalog(catalog), null, 2) + '\n', {
      mode: 0o644,
    });
    let closed: Promise<void> | undefined;
    return {
      catalog,
      catalogFile,
      clientCatalogFile,
      regions,
      demo,
      close() {
        // Once: a signal handler and a test's cleanup may both ask.
        closed ??= Promise.all(regions.map((r) => r.close())).then(() => undefined);
        return closed;
      },
    };
  } catch (error) {
    await Promise.all(regions.map((r) => r.close()));
    throw error;
  }
}
