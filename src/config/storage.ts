/**
 * Storage settings of a region (the settings file's `storage` section): which blob store holds its chunks
 * and manifests (a folder of pack files, or an S3 bucket), and that store's knobs.
 * @module
 */
/** A pack takes no more records once it holds this many bytes (blobs/drivers/packs.ts). */
export const DEFAULT_PACK_BYTES = 128 * 1024 * 1024;

/** Default share of a sealed pack's bytes that must be garbage before `compact` rewrites it. */
export const DEFAULT_COMPACT_THRESHOLD = 0.5;

/** Attempts per S3 request, the first included (storage.s3.maxAttempts; the SDK's own default is 3). */
export const DEFAULT_S3_MAX_ATTEMPTS = 6;

/** S3 requests in flight at most (storage.s3.maxParallelism). */
export const DEFAULT_S3_MAX_PARALLELISM = 32;

/** Objects above this size go to S3 in parts (storage.s3.multipartThresholdBytes). */
export const DEFAULT_S3_MULTIPART_THRESHOLD_BYTES = 64 * 1024 * 1024;

/** The blob stores a region can keep its objects in: `fs` (`<data>/<region>/blobs/`) or `s3` (a bucket). */
export const BLOB_STORES = ['fs', 's3'] as const;
export type BlobStoreKind = (typeof BLOB_STORES)[number];

/**
 * Where and how a region reaches its S3 bucket (`storage.s3`, used when `storage.blobStore` is `s3`). Every
 * key but `bucket` is optional; what is not set here comes from the AWS SDK's own sources: the environment
 * (AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_PROFILE),
 * the shared config files, or an instance role.
 */
export interface S3Settings {
  /** The bucket; it must exist (the region checks at start that it can reach it). */
  bucket: string;
  /**
   * Put before every object name (default ''); a region adds its own name after it, so that regions sharing a
   * bucket never share objects: the objects are `<prefix><region>/v1/chunks/…`. Empty or ending in `/`.
   */
  prefix?: string;
  /** The service's URL, e.g. `http://127.0.0.1:18580` (default: AWS_ENDPOINT_URL, else AWS's for `region`). */
  endpoint?: string;
  /** Region name used to sign requests (default: AWS_REGION or the profile's). */
  region?: string;
  /** `<endpoint>/<bucket>/<key>` instead of `<bucket>.<endpoint>/<key>` (default false; true for most non-AWS servers). */
  forcePathStyle?: boolean;
  /** Access key; with `secretAccessKey`. Default: the SDK's credential chain (AWS_ACCESS_KEY_ID, ...). */
  accessKeyId?: string;
  secretAccessKey?: string;
  /** Attempts per request, the first included, on throttling and transient errors (default: DEFAULT_S3_MAX_ATTEMPTS). */
  maxAttempts?: number;
  /** Requests in flight at most (default: DEFAULT_S3_MAX_PARALLELISM). */
  maxParallelism?: number;
  /** Objects larger than this are uploaded in parts (default: DEFAULT_S3_MULTIPART_THRESHOLD_BYTES). */
  multipartThresholdBytes?: number;
}

export interface StorageSettings {
  /** The blob store (default `fs`). */
  blobStore: BlobStoreKind;
  /** The bucket and how to reach it; required when `blobStore` is `s3`. */
  s3?: S3Settings;
  /** Added to every durability barrier (drivers/flush-delay.ts): for measuring, 0 in production. */
  flushDelayMs: number;
  /** Size at which a pack file takes no more chunks (drivers/packs.ts; fs only). */
  packBytes: number;
  /** Share of a pack's bytes that must be garbage before garbage collection rewrites it (0..1; fs only). */
  compactThreshold: number;
}

export const DEFAULT_STORAGE_SETTINGS: StorageSettings = {
  blobStore: 'fs',
  flushDelayMs: 0,
  packBytes: DEFAULT_PACK_BYTES,
  compactThreshold: DEFAULT_COMPACT_THRESHOLD,
};
