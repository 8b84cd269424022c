/**
 * A region's limits and its image settings (the settings file's `limits` and `images` sections), with their
 * defaults.
 * @module
 */
import { DEFAULT_OS_HASH_ALGO, type OsHashAlgorithm } from '../domain/image.js';

/** How fast the periodic scrub reads the store by default: about 5.5 TiB a day. */
export const DEFAULT_SCRUB_BYTES_PER_SECOND = 64 * 1024 * 1024;

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
  /**
   * An upload slower than this on average, once `uploadGraceMs` has passed, is cut off (default: 8 KiB/s):
   * a trickle that never idles long enough for the idle timeout must not hold its slot for ever (Apache's
   * mod_reqtimeout `MinRate`).
   */
  uploadMinBytesPerSecond: number;
  /** How long an upload may start slowly before its rate is held to `uploadMinBytesPerSecond` (default: 60 s). */
  uploadGraceMs: number;
  /** Every other request must arrive whole, body included, within this (default: 30 s); api/slow-clients.ts. */
  requestTimeoutMs: number;
  /** A connection with no traffic either way for this long is closed (default: 120 s). */
  idleSocketTimeoutMs: number;
  /** Connections one client address may hold open at once (default: 128). */
  maxConnectionsPerClient: number;
  /**
   * How long a stopping region lets requests under way finish before it cuts every connection (default: 20 s,
   * inside the 30 s a container orchestrator gives by default): a stalled upload or a client that keeps its
   * connection open must not hold a stop for as long as its own timeouts allow.
   */
  shutdownGraceMs: number;
  /** Images one project may hold in the region (default: 10,000); more are refused 413 LIMIT_EXCEEDED. */
  maxImagesPerProject: number;
}

/**
 * How long an upload's heartbeat stays proof that it is alive: three idle timeouts (it is refreshed every third
 * of one, and a live upload that sends nothing is cut off after one). Older, the upload's process is gone.
 */
export function uploadHeartbeatLifetimeMs(limits: Pick<RegionLimits, 'uploadIdleTimeoutMs'>): number {
  return 3 * limits.uploadIdleTimeoutMs;
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
  maxImagesPerProject: 10_000,
  uploadMinBytesPerSecond: 8 * 1024,
  uploadGraceMs: 60 * 1000,
  requestTimeoutMs: 30 * 1000,
  idleSocketTimeoutMs: 120 * 1000,
  maxConnectionsPerClient: 128,
  shutdownGraceMs: 20 * 1000,
};

/** How the region treats image data it is given (`images` in the settings file). */
export interface ImageSettings {
  /**
   * The whole-image hash an upload computes for `os_hash_value`, besides the MD5 `checksum` (default:
   * sha512; Glance's `hashing_algorithm`). Stored with each image as `os_hash_algo`: a replica keeps its
   * source's, whatever its own region is set to.
   */
  hashingAlgorithm: OsHashAlgorithm;
  /** Price of a GiB of image storage for a month (30 days), for the usage report (default: 0). */
  storagePricePerGiBMonth: number;
  /** Price of a GiB of vault backup storage (whole-server images' disks) for a month (default: 0). */
  vaultStoragePricePerGiBMonth: number;
}

export const DEFAULT_IMAGE_SETTINGS: ImageSettings = {
  hashingAlgorithm: DEFAULT_OS_HASH_ALGO,
  storagePricePerGiBMonth: 0,
  vaultStoragePricePerGiBMonth: 0,
};
