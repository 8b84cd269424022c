/**
 * Starts one region: opens its metadata database and blob store, reads its credential and TLS files, builds
 * its API and listens (HTTPS when given a certificate). The embedded default keeps everything under one
 * data folder: `<data>/<region>/ferry.sqlite`, `<data>/<region>/blobs/` and
 * `<data>/<region>/region-credential`; with `storage.blobStore` `s3`, the blobs are objects in a bucket instead.
 * @module
 */
import { ownPrivateDir } from '../lib/private-files.js';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import { createChunkStore } from '../blobs/chunk-store.js';
import type { BlobDriver } from '../blobs/driver.js';
import { createFsBlobDriver } from '../blobs/drivers/fs.js';
import { createS3BlobDriver } from '../blobs/drivers/s3.js';
import { withFlushDelay } from '../blobs/drivers/flush-delay.js';
import { withFailureCount } from '../blobs/drivers/failure-count.js';
import { createManifestCache } from '../blobs/manifest-cache.js';
import { createRegionServer } from '../api/server.js';
import { findRegion, type RegionCatalog } from '../config/catalog.js';
import { regionCredentialFile } from '../config/region-credential.js';
import { loadRegionTls, type RegionTls, type TlsSettings } from '../config/tls.js';
import { coerceError } from '../domain/errors.js';
import { openRegionTrust, type TrustLog } from './region-trust.js';
import { startPeriodicTask } from './periodic-task.js';
import { SYSTEM_CLOCK, type Clock } from '../store/clock.js';
import { openDatabase, type DatabaseConfig } from '../store/db.js';
import { createRegionClient } from '../replication/region-client.js';
import { startJobWorker } from '../replication/worker.js';
import { imageReplicationsOf } from '../replication/source-jobs.js';
import { startRuntimeStats } from '../lib/runtime-stats.js';
import { createRegionMetrics } from '../lib/metrics.js';
import { countJobsByStatus } from '../store/jobs.js';
import { startPeriodicGc } from './periodic-gc.js';
import { startPeriodicScrub } from './periodic-scrub.js';
import { startAbandonedUploadSweep } from './abandoned-uploads.js';
import { startStorageUsageSampler } from './storage-usage.js';
import { startWebhookSender } from './webhook-sender.js';
import { startIdentityDeliverySender } from './identity-delivery-sender.js';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { DEFAULT_STORAGE_SETTINGS, type StorageSettings } from '../config/storage.js';
import {
  DEFAULT_IMAGE_SETTINGS,
  DEFAULT_LIMITS,
  type ImageSettings,
  type RegionLimits,
} from '../config/limits.js';
import type { RegionContext } from './context.js';
import { DEFAULT_REPLICATION_SETTINGS, type ReplicationSettings } from '../config/replication.js';

export interface RegionOptions {
  name: string;
  catalog: RegionCatalog;
  /**
   * The file `catalog` was read from: read again at start and whenever it changes (region-trust.ts).
   * Undefined: the catalog stays as given.
   */
  catalogFile?: string;
  /** The region's credential file (default: `<dataDir>/<name>/region-credential`). */
  credentialFile?: string;
  /** TLS: the server's certificate and key (then it serves HTTPS), the CAs trusted for peers. */
  tls?: Partial<TlsSettings>;
  /** Folder for the region's SQLite file and (with the `fs` blob store) blobs: `<dataDir>/<name>/`. */
  dataDir: string;
  /** Metadata database; default: SQLite at `<dataDir>/<name>/ferry.sqlite`. */
  database?: DatabaseConfig;
  host?: string;
  /** Port to listen on; default: the port of the region's catalog endpoint. 0 = any free port. */
  port?: number;
  limits?: Partial<RegionLimits>;
  images?: Partial<ImageSettings>;
  replication?: Partial<ReplicationSettings>;
  storage?: Partial<StorageSettings>;
  clock?: Clock;
  logger?: boolean | Record<string, unknown>;
  /**
   * What this process does for its region (default `all`): `api` serves the API and runs nothing in the
   * background (any number of them behind a load balancer); `worker` runs the replication transfers, garbage
   * collection, scrub and the other periodic tasks, and serves only /healthz, /readyz and /metrics. A
   * scale-out region runs both kinds over one PostgreSQL database and one S3 bucket (docs/deploy.md).
   */
  role?: RegionRole;
}

export type RegionRole = 'all' | 'api' | 'worker';

export interface RunningRegion {
  name: string;
  url: string;
  ctx: RegionContext;
  app: FastifyInstance;
  /** Re-reads the catalog and credential files now if they changed (SIGHUP to `ferry serve`). */
  refreshTrust(): Promise<boolean>;
  close(): Promise<void>;
}

/**
 * The region's blob store as `storage` says: pack files under `<regionDir>/blobs/` (`fs`), or the objects under
 * `<storage.s3.prefix><region>/` in the bucket (`s3`), the region's name keeping regions that share a bucket
 * apart (each collects its own garbage).
 */
export async function openBlobStore(
  region: string,
  regionDir: string,
  storage: StorageSettings,
): Promise<BlobDriver> {
  if (storage.blobStore === 's3') {
    if (storage.s3 === undefined)
      throw new Error('storage.blobStore "s3" needs storage.s3 (its bucket at least)');
    return createS3BlobDriver({ ...storage.s3, prefix: `${storage.s3.prefix ?? ''}${region}/` });
  }
  return createFsBlobDriver({
    root: path.join(regionDir, 'blobs'),
    packBytes: storage.packBytes,
    compactThreshold: storage.compactThreshold,
  });
}

export async function openRegionContext(options: RegionOptions, tls: RegionTls = {}): Promise<RegionContext> {
  if (!findRegion(options.catalog, options.name)) {
    throw new Error(`region ${options.name} is not in the region catalog`);
  }
  const regionDir = path.join(options.dataDir, options.name);
  await ownPrivateDir(regionDir);
  const trust = await openRegionTrust({
    region: options.name,
    catalog: options.catalog,
    ...(options.catalogFile !== undefined ? { catalogFile: options.catalogFile } : {}),
    credentialFile: options.credentialFile ?? regionCredentialFile(options.dataDir, options.name),
  });
  const db = await openDatabase(
    options.database ?? { kind: 'sqlite', file: path.join(regionDir, 'ferry.sqlite') },
  );
  const storage = { ...DEFAULT_STORAGE_SETTINGS, ...options.storage };
  const metrics = createRegionMetrics(options.name, () => countJobsByStatus(db));
  let driver: BlobDriver;
  try {
    driver = withFlushDelay(await openBlobStore(options.name, regionDir, storage), storage.flushDelayMs);
  } catch (error) {
    await db.destroy(); // a wrong bucket or folder must not leave the database open
    throw error;
  }
  const counted = withFailureCount(driver, (operation) => metrics.blobDriverErrors.inc({ operation }));
  const chunks = createChunkStore({ driver: counted });
  const ctx: RegionContext = {
    region: options.name,
    db,
    chunks,
    manifests: createManifestCache((digest) => chunks.getManifestIndex(digest)),
    blobs: counted,
    get catalog() {
      return trust.catalog();
    },
    trust,
    clock: options.clock ?? SYSTEM_CLOCK,
    limits: { ...DEFAULT_LIMITS, ...options.limits },
    images: { ...DEFAULT_IMAGE_SETTINGS, ...options.images },
    replication: { ...DEFAULT_REPLICATION_SETTINGS, ...options.replication },
    regions: createRegionClient({
      self: options.name,
      catalog: trust.catalog,
      credential: trust.credential,
      ...(tls.peerCa !== undefined ? { peerCa: tls.peerCa } : {}),
    }),
    workerId: `${hostname()}:${process.pid}:${options.name}:${randomBytes(4).toString('hex')}`,
    jobEvents: new EventTarget(),
    imageReplications: undefined as never, // set below: it needs the context it belongs to
    metrics,
  };
  ctx.imageReplications = imageReplicationsOf(ctx);
  return ctx;
}

export async function startRegion(options: RegionOptions): Promise<RunningRegion> {
  const tls = await loadRegionTls(options.tls);
  const ctx = await openRegionContext(options, tls);
  const role = options.role ?? 'all';
  const works = role !== 'api';
  const app = await createRegionServer(ctx, {
    logger: options.logger ?? false,
    routes: role === 'worker' ? 'operations' : 'all',
    ...(tls.server !== undefined ? { https: tls.server } : {}),
  });
  const endpoint = new URL(findRegion(ctx.catalog, options.name)!.endpoint);
  const scheme = tls.server !== undefined ? 'https' : 'http';
  if (`${scheme}:` !== endpoint.protocol) {
    app.log.warn(
      `region ${options.name} serves ${scheme.toUpperCase()} but its catalog endpoint is ${endpoint.href}: ` +
        'the other regions and clients will fail to reach it',
    );
  }
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? Number(endpoint.port || (scheme === 'https' ? 443 : 80));
  try {
    await app.listen({ host, port });
  } catch (error) {
    await ctx.db.destroy();
    throw error;
  }
  startRuntimeStats();
  const worker = works && ctx.replication.runWorker ? startJobWorker(ctx, app.log) : undefined;
  const gc = works && ctx.limits.gcIntervalMs > 0 ? startPeriodicGc(ctx, app.log) : undefined;
  const scrub = works && ctx.limits.scrubIntervalMs > 0 ? startPeriodicScrub(ctx, app.log) : undefined;
  const uploadSweep = works ? startAbandonedUploadSweep(ctx, app.log) : undefined;
  const storageSampler = works ? startStorageUsageSampler(ctx, app.log) : undefined;
  const webhookSender = works ? startWebhookSender(ctx, app.log) : undefined;
  const identitySender = works ? startIdentityDeliverySender(ctx, app.log) : undefined;
  const trustLog: TrustLog = {
    info: (message) => app.log.info(message),
    // Without --log, `ferry local` logs errors only: a catalog or credential not taken must show.
    error: (message) => app.log.error(message),
  };
  const trustCheck = startPeriodicTask({
    name: 'catalog and credential check',
    intervalMs: ctx.replication.trustCheckMs,
    run: async () => void (await ctx.trust.refresh(trustLog)),
    log: app.log,
  });
  const address = app.server.address();
  let closing: Promise<void> | undefined;
  const actualPort = typeof address === 'object' && address !== null ? address.port : port;
  return {
    name: options.name,
    url: `${scheme}://${host}:${actualPort}`,
    ctx,
    app,
    refreshTrust: () =>
      ctx.trust.refresh(trustLog).catch((error: unknown) => {
        app.log.error({ err: coerceError(error) }, 'catalog and credential check failed');
        return false;
      }),
    // Once, however often it is called (a test may stop one region before the whole deployment).
    close() {
      closing ??= (async () => {
        await trustCheck.stop();
        await worker?.stop();
        await gc?.stop();
        await scrub?.stop();
        await uploadSweep?.stop();
        await storageSampler?.stop();
        await webhookSender?.stop();
        await identitySender?.stop();
        // Requests under way may finish within the grace; then every connection is cut, so that a stop is
        // bounded (Fastify's close waits for each request, and a kept-alive connection it does not see as idle
        // held one 72 s).
        const cut = setTimeout(() => app.server.closeAllConnections(), ctx.limits.shutdownGraceMs);
        cut.unref();
        await app.close().finally(() => clearTimeout(cut));
        ctx.regions.close();
        await ctx.blobs.close?.();
        await ctx.db.destroy();
      })();
      return closing;
    },
  };
}
