/**
 * The local demo deployment in one process: every region of the catalog on its own loopback port with its
 * own SQLite file and blob folder under `<data>/<region>/`, the demo account and a fresh token. `ferry local`
 * runs each region in a process of its own instead (supervisor.ts); this in-process form is for tests and
 * embedding, which reach each region's context (its database) directly. Both leave the same data folder
 * (local-data.ts), so either reuses what the other made.
 * @module
 */
import { makePrivateDir } from '../lib/private-files.js';
import type { RegionCatalog } from '../config/catalog.js';
import type { ProvisionedIdentity } from '../identity/provision.js';
import { startRegion, type RunningRegion } from '../region/start-region.js';
import {
  clientCatalogFile as clientCatalogPath,
  loadOrWriteCatalog,
  provisionDemo,
  serverCatalogFile,
  writeClientCatalog,
} from './local-data.js';

import { DEMO_ACCOUNT, DEMO_AGENCY, DEMO_BASE_PORT, DEMO_REGIONS } from './demo.js';
import type { ReplicationSettings } from '../config/replication.js';
import type { ImageSettings, RegionLimits } from '../config/limits.js';
import type { DatabaseConfig } from '../store/db.js';
import type { TlsSettings } from '../config/tls.js';
import type { StorageSettings } from '../config/storage.js';

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
  /** Image settings (the upload's hashing algorithm) for every region. */
  images?: Partial<ImageSettings>;
  /** Storage settings for every region (the blob store: pack files, or a bucket, one prefix per region). */
  storage?: Partial<StorageSettings>;
  /** Each region's metadata database; default: SQLite at `<data>/<region>/ferry.sqlite`. */
  database?: (region: string) => DatabaseConfig;
  /**
   * TLS for every region (they all listen on 127.0.0.1, so one certificate for that address serves them
   * all): with a certificate, the catalog written on first start has https endpoints.
   */
  tls?: Partial<TlsSettings>;
}

/** The scheme of a new deployment's endpoints. */
export function localScheme(options: Pick<LocalOptions, 'tls'>): 'http' | 'https' {
  return (options.tls?.certFile ?? null) !== null ? 'https' : 'http';
}

export interface LocalDeployment {
  catalog: RegionCatalog;
  /** The servers' catalog, with the regions' credential hashes; each region re-reads it when it changes. */
  catalogFile: string;
  /** The same catalog without the hashes, for the CLI and other clients (`regions.json`). */
  clientCatalogFile: string;
  regions: RunningRegion[];
  demo: ProvisionedIdentity;
  close(): Promise<void>;
}

export async function startLocal(options: LocalOptions): Promise<LocalDeployment> {
  await makePrivateDir(options.dataDir);
  const catalogFile = serverCatalogFile(options.dataDir);
  const basePort = options.basePort ?? DEMO_BASE_PORT;
  const catalog = await loadOrWriteCatalog(
    options.dataDir,
    options.regions ?? DEMO_REGIONS,
    basePort,
    localScheme(options),
  );
  const regions: RunningRegion[] = [];
  try {
    for (const region of catalog.regions) {
      const port = basePort === 0 ? 0 : Number(new URL(region.endpoint).port);
      regions.push(
        await startRegion({
          name: region.name,
          catalog,
          catalogFile,
          dataDir: options.dataDir,
          port,
          logger: options.logger,
          ...(options.replication ? { replication: options.replication } : {}),
          ...(options.limits ? { limits: options.limits } : {}),
          ...(options.images ? { images: options.images } : {}),
          ...(options.storage ? { storage: options.storage } : {}),
          ...(options.database ? { database: options.database(region.name) } : {}),
          ...(options.tls ? { tls: options.tls } : {}),
        }),
      );
    }
    if (basePort === 0) {
      // Ports were chosen by the system: tell every region where the others really are (a region's catalog
      // is its own object, from its reading of the file; the file keeps port 0).
      const urlOf = (name: string) => regions.find((r) => r.name === name)!.url;
      for (const entry of catalog.regions) entry.endpoint = urlOf(entry.name);
      for (const running of regions)
        for (const entry of running.ctx.catalog.regions) entry.endpoint = urlOf(entry.name);
    }
    const demo = await provisionDemo(regions.map((r) => ({ region: r.name, db: r.ctx.db })));
    const clientCatalogFile = clientCatalogPath(options.dataDir);
    await writeClientCatalog(clientCatalogFile, catalog);
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
