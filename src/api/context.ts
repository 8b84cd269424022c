/**
 * What every route of a region needs, built once at start and passed explicitly (no module singletons).
 * @module
 */
import type { ChunkStore } from '../blobs/chunk-store.js';
import type { ManifestCache } from '../blobs/manifest-cache.js';
import { DEFAULT_SCRUB_BYTES_PER_SECOND } from '../blobs/scrub.js';
import type { BlobDriver } from '../blobs/driver.js';
import type { RegionCatalog } from '../config/catalog.js';
import { DEFAULT_OS_HASH_ALGO, type OsHashAlgorithm } from '../domain/image.js';
import type { Clock } from '../store/clock.js';
import type { Db } from '../store/db.js';
import type { RegionClient } from '../replication/region-client.js';
import type { ReplicationSettings } from '../replication/settings.js';

export interface RegionLimits {
  /** Largest image upload accepted, in bytes (default: 1 TiB, Glance's image_size_cap). */
  maxImageBytes: number;
  /** Largest page a list returns (default: 1000, Glance's api_limit_max). */
  maxListLimit: number;
  /** Page size when the caller names none (default: 25). */
  defaultListLimit: number;
  /** How often the region collects unreferenced chunks (default: 1 hour; 0 = never on its own). */
  gcIntervalMs: number;
  /** Chunks younger than this are never collected (default: 1 hour). */
  gcGraceMs: number;
  /** How often the region re-reads and verifies every stored chunk (blobs/scrub.ts; default: 1 day; 0 = never). */
  scrubIntervalMs: number;
  /** How fast that walk reads the store, in bytes per second (default: 64 MiB/s), so it leaves the disk to uploads. */
  scrubBytesPerSecond: number;
  /**
   * An upload that sends no bytes for this long is cut off and its image `killed` (default: 60 s, as nginx's
   * `client_body_timeout`): a client that stalls must not hold the image in `saving` and its socket for ever.
   */
  uploadIdleTimeoutMs: number;
  /** Uploads this region process runs at once (default: 32); more answer 429 TOO_MANY_UPLOADS (api/upload-slots.ts). */
  maxConcurrentUploads: number;
  /** Uploads one account runs at once in this region process (default: 8), so one account cannot take them all. */
  maxConcurrentUploadsPerAccount: number;
}

export const DEFAULT_LIMITS: RegionLimits = {
  maxImageBytes: 1024 ** 4,
  maxListLimit: 1000,
  defaultListLimit: 25,
  gcIntervalMs: 60 * 60 * 1000,
  gcGraceMs: 60 * 60 * 1000,
  scrubIntervalMs: 24 * 60 * 60 * 1000,
  scrubBytesPerSecond: DEFAULT_SCRUB_BYTES_PER_SECOND,
  uploadIdleTimeoutMs: 60 * 1000,
  maxConcurrentUploads: 32,
  maxConcurrentUploadsPerAccount: 8,
};

/** How the region treats image data it is given (`images` in the settings file). */
export interface ImageSettings {
  /**
   * The whole-image hash an upload computes for `os_hash_value`, besides the MD5 `checksum` (default:
   * sha512; Glance's `hashing_algorithm`). Stored with each image as `os_hash_algo`: a replica keeps its
   * source's, whatever its own region is set to.
   */
  hashingAlgorithm: OsHashAlgorithm;
}

export const DEFAULT_IMAGE_SETTINGS: ImageSettings = {
  hashingAlgorithm: DEFAULT_OS_HASH_ALGO,
};

export interface RegionContext {
  region: string;
  db: Db;
  chunks: ChunkStore;
  /** Indexed manifests of the images being read (downloads), loaded through `chunks`. */
  manifests: ManifestCache;
  /** The blob driver under the chunk store (garbage collection walks it). */
  blobs: BlobDriver;
  catalog: RegionCatalog;
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
}
