/**
 * Storage settings of a region (the settings file's `storage` section).
 * @module
 */
import { DEFAULT_COMPACT_THRESHOLD, DEFAULT_PACK_BYTES } from './drivers/packs.js';

export interface StorageSettings {
  /** Added to every durability barrier (drivers/flush-delay.ts): for measuring, 0 in production. */
  flushDelayMs: number;
  /** Size at which a pack file takes no more chunks (drivers/packs.ts). */
  packBytes: number;
  /** Share of a pack's bytes that must be garbage before garbage collection rewrites it (0..1). */
  compactThreshold: number;
}

export const DEFAULT_STORAGE_SETTINGS: StorageSettings = {
  flushDelayMs: 0,
  packBytes: DEFAULT_PACK_BYTES,
  compactThreshold: DEFAULT_COMPACT_THRESHOLD,
};
