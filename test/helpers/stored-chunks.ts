/**
 * Where the fs driver keeps a chunk on disk, read from the packs' index files as an operator would (not
 * through the driver): for tests that damage stored bytes or count what a region keeps.
 * @module
 */
import { open, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { PACKS_DIR } from '../../src/blobs/drivers/packs.js';
import { chunkKey, parseChunkKey } from '../../src/blobs/layout.js';
import type { Digest } from '../../src/domain/ids.js';

interface Location {
  file: string;
  offset: number;
  length: number;
}

/** Every object the packs under `blobRoot` hold, by key (index lines in order; tombstones applied). */
async function packedObjects(blobRoot: string): Promise<Map<string, Location>> {
  const dir = join(blobRoot, PACKS_DIR);
  const objects = new Map<string, Location>();
  const names = await readdir(dir).catch(() => [] as string[]);
  for (const name of names.filter((n) => n.endsWith('.idx')).sort()) {
    const file = join(dir, name.replace(/\.idx$/, '.pack'));
    for (const line of (await readFile(join(dir, name), 'utf8')).split('\n')) {
      if (line === '') continue;
      const entry = JSON.parse(line) as { k?: string; d?: string; o: number; n?: number };
      if (entry.d !== undefined) {
        if (objects.get(entry.d)?.file === file && objects.get(entry.d)?.offset === entry.o)
          objects.delete(entry.d);
      } else objects.set(entry.k!, { file, offset: entry.o, length: entry.n! });
    }
  }
  return objects;
}

/** The pack file, offset and length of a stored chunk, or undefined if the region does not hold it. */
export async function storedChunk(blobRoot: string, digest: string): Promise<Location | undefined> {
  return (await packedObjects(blobRoot)).get(chunkKey(digest as Digest));
}

/** The digests of every chunk stored under `blobRoot`. */
export async function storedChunkDigests(blobRoot: string): Promise<string[]> {
  return [...(await packedObjects(blobRoot)).keys()].flatMap((key) => parseChunkKey(key) ?? []);
}

/** Flips bits of the byte at `at` of a stored chunk in place (its length unchanged): bit rot. */
export async function corruptStoredChunk(
  blobRoot: string,
  digest: string,
  at: number,
  xor = 0xff,
): Promise<void> {
  const location = await storedChunk(blobRoot, digest);
  if (location === undefined) throw new Error(`chunk ${digest} is not stored under ${blobRoot}`);
  const handle = await open(location.file, 'r+');
  try {
    const byte = Buffer.alloc(1);
    await handle.read(byte, 0, 1, location.offset + at);
    byte[0] = byte[0]! ^ xor;
    await handle.write(byte, 0, 1, location.offset + at);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Each pack file under `blobRoot`: its size, and the end of the last record its index lists. */
export async function packFiles(
  blobRoot: string,
): Promise<Array<{ file: string; size: number; indexedEnd: number }>> {
  const dir = join(blobRoot, PACKS_DIR);
  const names = await readdir(dir).catch(() => [] as string[]);
  const packs = [];
  for (const name of names.filter((n) => n.endsWith('.pack'))) {
    const file = join(dir, name);
    let indexedEnd = 0;
    const idx = await readFile(file.replace(/\.pack$/, '.idx'), 'utf8').catch(() => '');
    for (const line of idx.split('\n')) {
      if (line === '') continue;
      const entry = JSON.parse(line) as { k?: string; o: number; n?: number };
      if (entry.k !== undefined)
        indexedEnd = Math.max(indexedEnd, entry.o + Math.ceil(entry.n! / 4096) * 4096);
    }
    packs.push({ file, size: (await stat(file)).size, indexedEnd });
  }
  return packs;
}
