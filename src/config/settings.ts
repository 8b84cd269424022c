/**
 * Deployment settings (optional JSON file, `--settings`): the product limits and replication timings a
 * deployment may change. Every key is optional; unknown keys and wrong types are refused at start.
 *
 * ```json
 * { "limits": { "maxImageBytes": 1099511627776 },
 *   "images": { "hashingAlgorithm": "sha256" },
 *   "storage": { "flushDelayMs": 0, "packBytes": 134217728, "compactThreshold": 0.5 },
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
import { DEFAULT_STORAGE_SETTINGS, type StorageSettings } from './storage.js';
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
    const storage = checkKeys('storage', root.storage, DEFAULT_STORAGE_SETTINGS);
    for (const [key, min, max] of [
      ['flushDelayMs', 0, 60_000],
      ['packBytes', 1024 * 1024, 4 * 1024 * 1024 * 1024],
      ['compactThreshold', 0, 1],
    ] as const) {
      const value = storage[key];
      if (value !== undefined && !((value as number) >= min && (value as number) <= max))
        throw new FerryError('VALIDATION_FAILED', `settings: storage.${key} must be from ${min} to ${max}`);
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

export async function loadSettings(file: string | undefined): Promise<DeploymentSettings> {
  if (file === undefined) return {};
  try {
    return parseSettings(JSON.parse(await readFile(file, 'utf8')));
  } catch (error) {
    if (error instanceof FerryError) throw error;
    throw new FerryError('VALIDATION_FAILED', `settings: cannot read ${file} as JSON`);
  }
}
