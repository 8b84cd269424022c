/**
 * What every route and use case of a region needs, built once at start (region/start-region.ts) and passed
 * explicitly (no module singletons). Types only: any layer above the stores may name it.
 * @module
 */
import type { ChunkStore } from '../blobs/chunk-store.js';
import type { ManifestCache } from '../blobs/manifest-cache.js';
import type { BlobDriver } from '../blobs/driver.js';
import type { RegionCatalog } from '../config/catalog.js';
import type { ImageSettings, RegionLimits } from '../config/limits.js';
import type { ReplicationSettings } from '../config/replication.js';
import type { Clock } from '../store/clock.js';
import type { Db } from '../store/db.js';
import type { RegionClient } from '../replication/region-client.js';
import type { RegionMetrics } from '../lib/metrics.js';
import type { RegionTrust } from './region-trust.js';

export interface RegionContext {
  region: string;
  db: Db;
  chunks: ChunkStore;
  /** Indexed manifests of the images being read (downloads), loaded through `chunks`. */
  manifests: ManifestCache;
  /** The blob driver under the chunk store (garbage collection walks it). */
  blobs: BlobDriver;
  /** The region catalog as the region has it now (`trust.catalog()`: it changes when its file does). */
  readonly catalog: RegionCatalog;
  /** The catalog and this region's credential, kept current (region-trust.ts). */
  trust: RegionTrust;
  clock: Clock;
  limits: RegionLimits;
  images: ImageSettings;
  replication: ReplicationSettings;
  /** Calls to the other regions of the catalog. */
  regions: RegionClient;
  /** This process's name in job leases: unique per process. */
  workerId: string;
  /**
   * Fires `queued` when this process queues a job it can run, so the job worker claims it at once instead of
   * at its next poll (other processes of the region still find it by polling).
   */
  jobEvents: EventTarget;
  /** What the image use cases ask of replication (see ImageReplications). */
  imageReplications: ImageReplications;
  /** The region's figures for `GET /metrics`. */
  metrics: RegionMetrics;
}

/**
 * Replication's answers about one source image, for the image use cases: images/ sits below replication/ (which
 * reads images through it) and may not call it, so the region wires replication/source-jobs.ts in here.
 */
export interface ImageReplications {
  /** Refuses (IMAGE_IN_USE) while an unfinished replication reads the image, asking its destination first. */
  assertNoneReading(imageId: string): Promise<void>;
  /** Cancels every unfinished replication that reads the image (a frozen image is not replicated). */
  cancelAllReading(imageId: string): Promise<void>;
}
