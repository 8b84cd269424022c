/**
 * Starts one region: opens its metadata database and blob store, builds its API and listens.
 * The embedded default keeps everything under one data folder: `<data>/<region>/ferry.sqlite` and
 * `<data>/<region>/blobs/`; with `storage.blobStore` `s3`, the blobs are objects in a bucket instead.
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
import { createManifestCache } from '../blobs/manifest-cache.js';
import { createRegionServer } from '../api/server.js';
import { findRegion, type RegionCatalog } from '../config/catalog.js';
import { SYSTEM_CLOCK, type Clock } from '../store/clock.js';
import { openDatabase, type DatabaseConfig } from '../store/db.js';
import { createRegionClient } from '../replication/region-client.js';
import { startJobWorker } from '../replication/worker.js';
import { imageReplicationsOf } from '../replication/source-jobs.js';
import { startRuntimeStats } from '../lib/runtime-stats.js';
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
}

export interface RunningRegion {
  name: string;
  url: string;
  ctx: RegionContext;
  app: FastifyInstance;
  close(): Promise<void>;
}

/**
 * The region's blob store as `storage` says: pack files under `<regionDir>/blobs/` (`fs`), or the objects under
 * `<storage.s3.prefix><region>/` in the bucket (`s3`), the region's name keeping regions that share a bucket
 * apart (each collects its own garbage).
 */
async function openBlobStore(
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

export async function openRegionContext(options: RegionOptions): Promise<RegionContext> {
  if (!findRegion(options.catalog, options.name)) {
    throw new Error(`region ${options.name} is not in the region catalog`);
  }
  const regionDir = path.join(options.dataDir, options.name);
  await ownPrivateDir(regionDir);
  const db = await openDatabase(
    options.database ?? { kind: 'sqlite', file: path.join(regionDir, 'ferry.sqlite') },
  );
  const storage = { ...DEFAULT_STORAGE_SETTINGS, ...options.storage };
  let driver: BlobDriver;
  try {
    driver = withFlushDelay(await openBlobStore(options.name, regionDir, storage), storage.flushDelayMs);
  } catch (error) {
    await db.destroy(); // a wrong bucket or folder must not leave the database open
    throw error;
  }
  const chunks = createChunkStore({ driver });
  const ctx: RegionContext = {
    region: options.name,
    db,
    chunks,
    manifests: createManifestCache((digest) => chunks.getManifestIndex(digest)),
    blobs: driver,
    catalog: options.catalog,
    clock: options.clock ?? SYSTEM_CLOCK,
    limits: { ...DEFAULT_LIMITS, ...options.limits },
    images: { ...DEFAULT_IMAGE_SETTINGS, ...options.images },
    replication: { ...DEFAULT_REPLICATION_SETTINGS, ...options.replication },
    regions: createRegionClient(options.catalog, options.name),
    workerId: `${hostname()}:${process.pid}:${options.name}:${randomBytes(4).toString('hex')}`,
    jobEvents: new EventTarget(),
    imageReplications: undefined as never, // set below: it needs the context it belongs to
  };
  ctx.imageReplications = imageReplicationsOf(ctx);
  return ctx;
}

export async function startRegion(options: RegionOptions): Promise<RunningRegion> {
  const ctx = await openRegionContext(options);
  const app = await createRegionServer(ctx, { logger: options.logger ?? false });
  const endpoint = new URL(findRegion(options.catalog, options.name)!.endpoint);
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? Number(endpoint.port || 80);
  try {
    await app.listen({ host, port });
  } catch (error) {
    await ctx.db.destroy();
    throw error;
  }
  startRuntimeStats();
  const worker = ctx.replication.runWorker ? startJobWorker(ctx, app.log) : undefined;
  const gc = ctx.limits.gcIntervalMs > 0 ? startPeriodicGc(ctx, app.log) : undefined;
  const scrub = ctx.limits.scrubIntervalMs > 0 ? startPeriodicScrub(ctx, app.log) : undefined;
  const uploadSweep = startAbandonedUploadSweep(ctx, app.log);
  const storageSampler = startStorageUsageSampler(ctx, app.log);
  const webhookSender = startWebhookSender(ctx, app.log);
  const identitySender = startIdentityDeliverySender(ctx, app.log);
  const address = app.server.address();
  let closing: Promise<void> | undefined;
  const actualPort = typeof address === 'object' && address !== null ? address.port : port;
  return {
    name: options.name,
    url: `http://${host}:${actualPort}`,
    ctx,
    app,
    // Once, however often it is called (a test may stop one region before the whole deployment).
    close() {
      closing ??= (async () => {
        await worker?.stop();
        await gc?.stop();
        await scrub?.stop();
        await uploadSweep.stop();
        await storageSampler.stop();
        await webhookSender.stop();
        await identitySender.stop();
        await app.close();
        ctx.regions.close();
        await ctx.blobs.close?.();
        await ctx.db.destroy();
      })();
      return closing;
    },
  };
}
