/**
 * Storage settings of a region (the settings file's `storage` section).
 * @module
 */
/** A pack takes no more records once it holds this many bytes (blobs/drivers/packs.ts). */
export const DEFAULT_PACK_BYTES = 128 * 1024 * 1024;

/** Default share of a sealed pack's bytes that must be garbage before `compact` rewrites it. */
export const DEFAULT_COMPACT_THRESHOLD = 0.5;

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
