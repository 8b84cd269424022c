/**
 * Deployment settings (optional JSON file, `--settings`): the product limits and replication timings a
 * deployment may change. Every key is optional; unknown keys and wrong types are refused at start.
 *
 * ```json
 * { "limits": { "maxImageBytes": 1099511627776 },
 *   "images": { "hashingAlgorithm": "sha256" },
 *   "storage": { "blobStore": "fs", "flushDelayMs": 0, "packBytes": 134217728, "compactThreshold": 0.5,
 *                "s3": { "bucket": "ferry", "prefix": "", "endpoint": "https://s3.example.net", "region": "us-east-1",
 *                        "forcePathStyle": true } },
 *   "replication": { "limits": { "maxImageBytes": 137438953472, "maxRunningJobsPerUser": 5 },
 *                    "bandwidthLimit": null, "transferPricePerGiB": 0.02 },
 *   "tls": { "certFile": "/etc/ferry/north-1.crt", "keyFile": "/etc/ferry/north-1.key",
 *            "peerCaFile": "/etc/ferry/regions-ca.crt", "peerCaOnly": true } }
 * ```
 * @module
 */
import { readFile } from 'node:fs/promises';
import { FerryError } from '../domain/errors.js';
import { OS_HASH_ALGORITHMS, isOsHashAlgorithm } from '../domain/image.js';
import { ImageSettings, RegionLimits, DEFAULT_IMAGE_SETTINGS, DEFAULT_LIMITS } from './limits.js';
import { BLOB_STORES, DEFAULT_STORAGE_SETTINGS, type S3Settings, type StorageSettings } from './storage.js';
import { parseTlsSettings, type TlsSettings } from './tls.js';
import {
  MAX_CHUNKS_PER_REQUEST,
  DEFAULT_REPLICATION_SETTINGS,
  type ReplicationSettings,
} from './replication.js';

export interface DeploymentSettings {
  limits?: Partial<RegionLimits>;
  images?: Partial<ImageSettings>;
  replication?: Partial<ReplicationSettings>;
  storage?: Partial<StorageSettings>;
  tls?: Partial<TlsSettings>;
}

function checkKeys(where: string, value: unknown, defaults: object): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new FerryError('VALIDATION_FAILED', `settings: ${where} must be an object`);
  }
  for (const [key, v] of Object.entries(value)) {
    if (!(key in defaults))
      throw new FerryError('VALIDATION_FAILED', `settings: unknown key ${where}.${key}`);
    const expected = (defaults as Record<string, unknown>)[key];
    const ok =
      typeof expected === 'object' && expected !== null
        ? typeof v === 'object'
        : expected === null
          ? v === null || typeof v === 'number'
          : typeof v === typeof expected;
    if (!ok) throw new FerryError('VALIDATION_FAILED', `settings: ${where}.${key} has the wrong type`);
  }
  return value as Record<string, unknown>;
}

export function parseSettings(value: unknown): DeploymentSettings {
  const root = checkKeys('(root)', value, {
    limits: {},
    images: {},
    replication: {},
    storage: {},
    tls: {},
  });
  const settings: DeploymentSettings = {};
  if (root.limits !== undefined) settings.limits = checkKeys('limits', root.limits, DEFAULT_LIMITS);
  if (root.images !== undefined) {
    const images = checkKeys('images', root.images, DEFAULT_IMAGE_SETTINGS);
    if (images.hashingAlgorithm !== undefined && !isOsHashAlgorithm(images.hashingAlgorithm)) {
      throw new FerryError(
        'VALIDATION_FAILED',
        `settings: images.hashingAlgorithm must be ${OS_HASH_ALGORITHMS.join(' or ')}, not ${JSON.stringify(images.hashingAlgorithm)}`,
      );
    }
    settings.images = images;
  }
  if (root.storage !== undefined) {
    const { s3, ...rest } = checkKeys('storage', root.storage, { ...DEFAULT_STORAGE_SETTINGS, s3: {} });
    const storage: Record<string, unknown> = rest;
    for (const [key, min, max] of [
      ['flushDelayMs', 0, 60_000],
      ['packBytes', 1024 * 1024, 4 * 1024 * 1024 * 1024],
      ['compactThreshold', 0, 1],
    ] as const) {
      const value = storage[key];
      if (value !== undefined && !((value as number) >= min && (value as number) <= max))
        throw new FerryError('VALIDATION_FAILED', `settings: storage.${key} must be from ${min} to ${max}`);
    }
    if (storage.blobStore !== undefined && !(BLOB_STORES as readonly unknown[]).includes(storage.blobStore)) {
      throw new FerryError(
        'VALIDATION_FAILED',
        `settings: storage.blobStore must be ${BLOB_STORES.join(' or ')}`,
      );
    }
    if (s3 !== undefined) storage.s3 = parseS3Settings(s3);
    if (storage.blobStore === 's3' && storage.s3 === undefined) {
      throw new FerryError(
        'VALIDATION_FAILED',
        'settings: storage.blobStore "s3" needs storage.s3 (its bucket at least)',
      );
    }
    settings.storage = storage;
  }
  if (root.tls !== undefined) settings.tls = parseTlsSettings(root.tls);
  if (root.replication !== undefined) {
    const replication = checkKeys('replication', root.replication, DEFAULT_REPLICATION_SETTINGS);
    if (replication.limits !== undefined) {
      replication.limits = {
        ...DEFAULT_REPLICATION_SETTINGS.limits,
        ...checkKeys('replication.limits', replication.limits, DEFAULT_REPLICATION_SETTINGS.limits),
      };
    }
    for (const [key, max] of [
      ['parallelFetches', 64],
      ['chunksPerRequest', MAX_CHUNKS_PER_REQUEST],
    ] as const) {
      const count = replication[key];
      if (
        count !== undefined &&
        !(Number.isInteger(count) && (count as number) >= 1 && (count as number) <= max)
      )
        throw new FerryError(
          'VALIDATION_FAILED',
          `settings: replication.${key} must be an integer from 1 to ${max}`,
        );
    }
    settings.replication = replication;
  }
  return settings;
}

/** `storage.s3`'s keys, each with a value of its type (checkKeys compares types); `bucket` is required. */
const S3_KEY_TYPES: Required<S3Settings> = {
  bucket: '',
  prefix: '',
  endpoint: '',
  region: '',
  forcePathStyle: false,
  accessKeyId: '',
  secretAccessKey: '',
  maxAttempts: 0,
  maxParallelism: 0,
  multipartThresholdBytes: 0,
};

/** A prefix of whole key segments (as blobs/driver.ts allows them), each ending in `/`, or ''. */
const S3_PREFIX_PATTERN = /^(?:[A-Za-z0-9_-][A-Za-z0-9._-]*\/)*$/;

function parseS3Settings(value: unknown): S3Settings {
  const s3 = checkKeys('storage.s3', value, S3_KEY_TYPES);
  const refuse = (message: string) => {
    throw new FerryError('VALIDATION_FAILED', `settings: storage.s3.${message}`);
  };
  // S3's bucket naming rules (DNS-compliant names), the ones every S3 server enforces.
  if (typeof s3.bucket !== 'string' || !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(s3.bucket)) {
    refuse('bucket is required: 3 to 63 lower-case letters, digits, dots and hyphens');
  }
  if (s3.prefix !== undefined && !S3_PREFIX_PATTERN.test(s3.prefix as string)) {
    refuse('prefix must be empty or segments of letters, digits, ".", "_" and "-", each ending in "/"');
  }
  if (s3.endpoint !== undefined && !/^https?:\/\/[^/]/.test(s3.endpoint as string)) {
    refuse('endpoint must be an http(s) URL');
  }
  if ((s3.accessKeyId === undefined) !== (s3.secretAccessKey === undefined)) {
    refuse('accessKeyId and secretAccessKey go together');
  }
  for (const [key, min, max] of [
    ['maxAttempts', 1, 20],
    ['maxParallelism', 1, 1024],
    ['multipartThresholdBytes', 5 * 1024 * 1024, 5 * 1024 * 1024 * 1024],
  ] as const) {
    const count = s3[key];
    if (
      count !== undefined &&
      !(Number.isInteger(count) && (count as number) >= min && (count as number) <= max)
    )
      refuse(`${key} must be an integer from ${min} to ${max}`);
  }
  return s3 as unknown as S3Settings;
}

export async function loadSettings(file: string | undefined): Promise<DeploymentSettings> {
  if (file === undefined) return {};
  try {
    return parseSettings(JSON.parse(await readFile(file, 'utf8')));
  } catch (error) {
    if (error instanceof FerryError) throw error;
    throw new FerryError('VALIDATION_FAILED', `settings: cannot read ${file} as JSON`);
  }
}
