/**
 * A driver decorator that makes every durability barrier take `delayMs` longer, one barrier after another
 * as a disk flushes: a `flush`, and the barrier a `put` without `deferSync` ends with. For measuring how
 * much the store's speed depends on the disk's flush latency (the bench's D = 10 ms rows) rather than
 * arguing it; deployments set it with `storage.flushDelayMs` (0, the default, returns the driver as is).
 * @module
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { BlobDriver } from '../driver.js';

export function withFlushDelay<D extends BlobDriver>(driver: D, delayMs: number): D {
  if (delayMs <= 0) return driver;
  let barriers: Promise<void> = Promise.resolve();
  const flush = (keys?: readonly string[]): Promise<void> => {
    const run = barriers.then(async () => {
      await sleep(delayMs);
      await driver.flush(keys);
    });
    barriers = run.catch(() => undefined);
    return run;
  };
  return {
    ...driver,
    flush,
    async put(key, data, options) {
      await driver.put(key, data, { ...options, deferSync: true });
      if (options?.deferSync !== true) await flush([key]);
    },
  };
}
