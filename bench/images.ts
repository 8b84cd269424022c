/**
 * The bench's derived test images, made untimed from the generated random source: a copy with a few bytes
 * changed in a share of its chunks (what an incremental replication should send), and a sparse image (a few
 * random chunks scattered in zeros, what a replication should send almost nothing of).
 * @module
 */
import { createHash, randomFillSync } from 'node:crypto';
import { open } from 'node:fs/promises';
import { MiB, writeFileHashed } from './lib.js';

/** Share of the 1 MiB blocks the changed copy changes. */
export const CHANGED_FRACTION = 0.05;
/** Bytes changed in each chosen block. */
export const CHANGED_BYTES = 16;
/** Ferry's chunk size (CHUNK_SIZE in src/domain/manifest.ts): the unit that is deduplicated and sent. */
export const CHUNK_SIZE = MiB;

/**
 * Writes `target`: `source` with CHANGED_BYTES bytes inverted in the middle of `count` evenly spread 1 MiB
 * blocks. Returns its MD5 and the indexes of the changed blocks.
 */
export async function writeChangedCopy(
  source: string,
  target: string,
  size: number,
): Promise<{ md5: string; changed: number[] }> {
  const blocks = Math.ceil(size / CHUNK_SIZE);
  const count = Math.max(1, Math.round(blocks * CHANGED_FRACTION));
  const changed = Array.from({ length: count }, (_, i) => Math.floor(((i + 0.5) * blocks) / count));
  const changedSet = new Set(changed);
  const input = await open(source, 'r');
  try {
    const md5 = await writeFileHashed(target, size, async (block, offset) => {
      const { bytesRead } = await input.read(block, 0, block.length, offset);
      if (bytesRead !== block.length) throw new Error('short read');
      for (let at = 0; at < block.length; at += CHUNK_SIZE) {
        if (!changedSet.has((offset + at) / CHUNK_SIZE)) continue;
        const middle = at + Math.floor(Math.min(CHUNK_SIZE, block.length - at) / 2);
        for (let i = middle; i < middle + CHANGED_BYTES; i++) block[i] = block[i]! ^ 0xff;
      }
    });
    return { md5, changed };
  } finally {
    await input.close();
  }
}

/**
 * Writes a sparse file of `size` bytes holding `dataChunks` chunks of fresh random bytes (shared with no
 * other image), evenly spread, and holes elsewhere: only the data takes disk space, while a client reading
 * it (curl) still sends every zero. Returns its MD5 (of all `size` bytes, zeros included).
 */
export async function writeSparseFile(
  target: string,
  size: number,
  dataChunks: number,
): Promise<{ md5: string }> {
  const chunks = Math.floor(size / CHUNK_SIZE);
  const at = new Set(
    Array.from({ length: dataChunks }, (_, i) => Math.floor(((i + 0.5) * chunks) / dataChunks)),
  );
  const md5 = createHash('md5');
  const zeros = Buffer.alloc(CHUNK_SIZE);
  const data = Buffer.allocUnsafe(CHUNK_SIZE);
  const handle = await open(target, 'wx');
  try {
    await handle.truncate(size);
    for (let chunk = 0; chunk < chunks; chunk++) {
      if (!at.has(chunk)) {
        md5.update(zeros);
        continue;
      }
      randomFillSync(data);
      md5.update(data);
      const { bytesWritten } = await handle.write(data, 0, CHUNK_SIZE, chunk * CHUNK_SIZE);
      if (bytesWritten !== CHUNK_SIZE) throw new Error('short write');
    }
  } finally {
    await handle.close();
  }
  return { md5: md5.digest('hex') };
}
