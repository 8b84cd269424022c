// Image reads: whole and ranged reads give back exactly the ingested bytes; store errors reach the stream.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { before, describe, test } from 'node:test';
import { createChunkStore, type ChunkStore } from '../../../src/blobs/chunk-store.js';
import { createMemoryBlobDriver, type MemoryBlobDriver } from '../../../src/blobs/drivers/memory.js';
import { ingestImage } from '../../../src/blobs/ingest.js';
import { chunkKey } from '../../../src/blobs/layout.js';
import { createImageReadStream, type ImageReadOptions } from '../../../src/blobs/read.js';
import { isFerryError } from '../../../src/domain/errors.js';
import type { Digest } from '../../../src/domain/ids.js';
import { CHUNK_SIZE, type Manifest } from '../../../src/domain/manifest.js';

const MiB = CHUNK_SIZE;

async function readAll(store: ChunkStore, manifest: Manifest, options?: ImageReadOptions): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of createImageReadStream(store, manifest, options))
    parts.push(Buffer.from(part as Buffer));
  return Buffer.concat(parts);
}

describe('createImageReadStream', () => {
  // chunks: 0 random, 1-2 zero, 3 random, 4 = short random tail of 777 bytes
  const image = Buffer.alloc(4 * MiB + 777);
  randomBytes(MiB).copy(image, 0);
  randomBytes(MiB + 777).copy(image, 3 * MiB);
  let driver: MemoryBlobDriver;
  let store: ChunkStore;
  let manifest: Manifest;

  before(async () => {
    driver = createMemoryBlobDriver();
    store = createChunkStore({ driver });
    ({ manifest } = await ingestImage(store, Readable.from([image])));
    assert.deepEqual(
      manifest.chunks.map((c) => c === null),
      [false, true, true, false, false],
    );
  });

  test('reads the whole image byte-identical', async () => {
    assert.deepEqual(await readAll(store, manifest), image);
    assert.deepEqual(await readAll(store, manifest, { readAhead: 1 }), image);
    assert.deepEqual(await readAll(store, manifest, { verify: true }), image);
  });

  test('reads ranges: across chunk boundaries, inside a zero chunk, first and last bytes, open-ended', async () => {
    const ranges: Array<[number, number]> = [
      [MiB - 10, MiB + 10], // random → zero
      [3 * MiB - 5, 3 * MiB + 5], // zero → random
      [MiB + 100, MiB + 5000], // inside a zero chunk
      [MiB, 3 * MiB - 1], // exactly the zero run
      [100, 4 * MiB + 100], // almost everything
      [4 * MiB - 1, 4 * MiB], // into the short tail
      [0, 0],
      [image.length - 1, image.length - 1],
    ];
    for (const [start, end] of ranges) {
      assert.deepEqual(
        await readAll(store, manifest, { start, end }),
        image.subarray(start, end + 1),
        `${start}-${end}`,
      );
    }
    assert.deepEqual(await readAll(store, manifest, { start: 3 * MiB }), image.subarray(3 * MiB));
    assert.deepEqual(await readAll(store, manifest, { end: 99 }), image.subarray(0, 100));
  });

  test('an unsatisfiable range throws RANGE_NOT_SATISFIABLE at once', () => {
    for (const range of [
      { start: image.length },
      { start: 10, end: 9 },
      { start: 0, end: image.length },
      { start: -1, end: 5 },
    ]) {
      assert.throws(
        () => createImageReadStream(store, manifest, range),
        (error: unknown) => isFerryError(error, 'RANGE_NOT_SATISFIABLE'),
        JSON.stringify(range),
      );
    }
    const empty: Manifest = { chunkSize: CHUNK_SIZE, size: 0, chunks: [] };
    assert.throws(
      () => createImageReadStream(store, empty, { start: 0 }),
      (error: unknown) => isFerryError(error, 'RANGE_NOT_SATISFIABLE'),
    );
  });

  test('an empty image is an empty stream', async () => {
    assert.equal((await readAll(store, { chunkSize: CHUNK_SIZE, size: 0, chunks: [] })).length, 0);
  });

  test('a missing chunk destroys the stream with the store error', async () => {
    const other = createMemoryBlobDriver();
    for (const [key, value] of driver.objects) other.objects.set(key, value);
    other.objects.delete(chunkKey(manifest.chunks[3] as Digest));
    await assert.rejects(readAll(createChunkStore({ driver: other }), manifest), /blob not found/);
  });

  test('a stored chunk of the wrong length is reported as corrupt', async () => {
    const other = createMemoryBlobDriver();
    for (const [key, value] of driver.objects) other.objects.set(key, value);
    const key = chunkKey(manifest.chunks[0] as Digest);
    other.objects.set(key, (other.objects.get(key) as Buffer).subarray(1));
    await assert.rejects(readAll(createChunkStore({ driver: other }), manifest), {
      name: 'CorruptChunkError',
    });
  });

  test('a consumer that stops early stops the fetches', async () => {
    let gets = 0;
    const counting = createChunkStore({
      driver: {
        ...driver,
        get: (key) => {
          gets++;
          return driver.get(key);
        },
      },
    });
    const big: Manifest = {
      chunkSize: CHUNK_SIZE,
      size: 100 * MiB,
      chunks: new Array(100).fill(manifest.chunks[0]),
    };
    let received = 0;
    await assert.rejects(
      pipeline(
        createImageReadStream(counting, big, { readAhead: 4 }),
        new Writable({
          write(chunk: Buffer, _encoding, callback) {
            received += chunk.length;
            callback(received >= 3 * MiB ? new Error('client went away') : null);
          },
        }),
      ),
      /client went away/,
    );
    assert.ok(gets <= 10, `fetched ${gets} chunks after the consumer stopped`);
  });
});
