/**
 * What a region's blob store holds, read as an operator would and not through the region's driver: on a
 * folder from the packs' index files, in S3 from the bucket with a client of its own. For tests that damage
 * stored bytes or count what a region keeps, on whichever store the test stack gives the region (stack.ts).
 * @module
 */
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { open, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { createS3BlobDriver, s3ClientConfig } from '../../src/blobs/drivers/s3.js';
import { PACKS_DIR } from '../../src/blobs/drivers/packs.js';
import { CHUNKS_PREFIX, chunkKey, parseChunkKey } from '../../src/blobs/layout.js';
import type { S3Settings, StorageSettings } from '../../src/config/storage.js';
import type { Digest } from '../../src/domain/ids.js';

/** A region's blob store: its folder, or its bucket and the prefix its objects are under. */
export type BlobLocation = { kind: 'fs'; root: string } | { kind: 's3'; s3: S3Settings; prefix: string };

/** Where `region` of a deployment (a folder of region folders, run with `storage`) keeps its blobs. */
export function regionBlobs(
  deployment: { dataDir: string; storage?: Partial<StorageSettings> },
  region: string,
): BlobLocation {
  const { storage } = deployment;
  if (storage?.blobStore === 's3' && storage.s3) {
    return { kind: 's3', s3: storage.s3, prefix: `${storage.s3.prefix ?? ''}${region}/` };
  }
  return { kind: 'fs', root: join(deployment.dataDir, region, 'blobs') };
}

async function bucketChunkKeys(location: Extract<BlobLocation, { kind: 's3' }>): Promise<string[]> {
  const driver = await createS3BlobDriver({ ...location.s3, prefix: location.prefix, checkBucket: false });
  try {
    const keys: string[] = [];
    for await (const key of driver.list(CHUNKS_PREFIX)) keys.push(key);
    return keys;
  } finally {
    await driver.close();
  }
}

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

/** Whether the region holds the chunk. */
export async function holdsChunk(store: BlobLocation, digest: string): Promise<boolean> {
  if (store.kind === 's3') return (await bucketChunkKeys(store)).includes(chunkKey(digest as Digest));
  return (await packedObjects(store.root)).has(chunkKey(digest as Digest));
}

/** The digests of every chunk the region holds. */
export async function storedChunkDigests(store: BlobLocation): Promise<string[]> {
  const keys = store.kind === 's3' ? await bucketChunkKeys(store) : (await packedObjects(store.root)).keys();
  return [...keys].flatMap((key) => parseChunkKey(key) ?? []);
}

/** Flips bits of the byte at `at` of a stored chunk in place (its length unchanged): bit rot. */
export async function corruptStoredChunk(
  store: BlobLocation,
  digest: string,
  at: number,
  xor = 0xff,
): Promise<void> {
  if (store.kind === 's3') return corruptObject(store, chunkKey(digest as Digest), at, xor);
  const blobRoot = store.root;
  const location = (await packedObjects(blobRoot)).get(chunkKey(digest as Digest));
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

/** The object rewritten with one byte flipped, its metadata (the time GC reads) kept. */
async function corruptObject(
  store: Extract<BlobLocation, { kind: 's3' }>,
  key: string,
  at: number,
  xor: number,
): Promise<void> {
  const client = new S3Client(s3ClientConfig(store.s3));
  try {
    const Key = `${store.prefix}${key}`;
    const object = await client.send(new GetObjectCommand({ Bucket: store.s3.bucket, Key }));
    const body = Buffer.from(await object.Body!.transformToByteArray());
    body[at] = body[at]! ^ xor;
    await client.send(
      new PutObjectCommand({ Bucket: store.s3.bucket, Key, Body: body, Metadata: object.Metadata ?? {} }),
    );
  } finally {
    client.destroy();
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
