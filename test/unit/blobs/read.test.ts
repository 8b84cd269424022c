// Image reads: whole and ranged reads give back exactly the ingested bytes from lent buffers; store errors
// and a receiver that goes away stop the writer.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { before, describe, test } from 'node:test';
import { createChunkStore, type ChunkStore } from '../../../src/blobs/chunk-store.js';
import type { BlobDriver } from '../../../src/blobs/driver.js';
import { createMemoryBlobDriver, type MemoryBlobDriver } from '../../../src/blobs/drivers/memory.js';
import { ingestImage } from '../../../src/blobs/ingest.js';
import { chunkKey } from '../../../src/blobs/layout.js';
import { imagePieces, writePieces, type ImageRange } from '../../../src/blobs/read.js';
import { isFerryError } from '../../../src/domain/errors.js';
import type { Digest } from '../../../src/domain/ids.js';
import { CHUNK_SIZE, type Manifest } from '../../../src/domain/manifest.js';

const MiB = CHUNK_SIZE;

/**
 * The driver, lending each object in a buffer it scribbles over once the borrower is done, as a driver that
 * reuses its buffers would: a writer that gave a buffer back before the sink took the bytes sends garbage.
 */
function scribbling(driver: MemoryBlobDriver): BlobDriver {
  return {
    ...driver,
    read: (key, use) =>
      driver.read(key, async (data) => {
        const lent = Buffer.from(data);
        try {
          return await use(lent);
        } finally {
          lent.fill(0xee);
        }
      }),
  };
}

/** A chunk store over `driver` that counts the driver's `read` calls. */
function countingReads(driver: BlobDriver): { store: ChunkStore; reads: () => number } {
  let reads = 0;
  const store = createChunkStore({
    driver: {
      ...driver,
      read: (key, use) => {
        reads++;
        return driver.read(key, use);
      },
    },
  });
  return { store, reads: () => reads };
}

/** A sink that copies what it is given (the writer lends its buffers only until the write callback). */
function collector(): Writable & { bytes(): Buffer } {
  const parts: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      parts.push(Buffer.from(chunk));
      setImmediate(callback); // slower than the reads: pieces queue in the sink while their buffers are lent
    },
  });
  return Object.assign(sink, { bytes: () => Buffer.concat(parts) });
}

async function readAll(
  store: ChunkStore,
  manifest: Manifest,
  range?: ImageRange,
  readAhead?: number,
): Promise<Buffer> {
  const sink = collector();
  const { pieces, bytes } = imagePieces(manifest, range);
  await writePieces(sink, store, pieces, { readAhead });
  assert.equal(sink.bytes().length, bytes);
  return sink.bytes();
}

describe('imagePieces and writePieces', () => {
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
    assert.deepEqual(await readAll(store, manifest, undefined, 1), image);
    assert.deepEqual(await readAll(store, manifest, undefined, 16), image);
    const lending = createChunkStore({ driver: scribbling(driver) });
    assert.deepEqual(await readAll(lending, manifest, undefined, 8), image);
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
  });

  test('an unsatisfiable range throws RANGE_NOT_SATISFIABLE at once', () => {
    for (const range of [
      { start: image.length, end: image.length },
      { start: 10, end: 9 },
      { start: 0, end: image.length },
      { start: -1, end: 5 },
    ]) {
      assert.throws(
        () => imagePieces(manifest, range),
        (error: unknown) => isFerryError(error, 'RANGE_NOT_SATISFIABLE'),
        JSON.stringify(range),
      );
    }
    const empty: Manifest = { chunkSize: CHUNK_SIZE, size: 0, chunks: [] };
    assert.throws(
      () => imagePieces(empty, { start: 0, end: 0 }),
      (error: unknown) => isFerryError(error, 'RANGE_NOT_SATISFIABLE'),
    );
  });

  test('an empty image has no pieces', async () => {
    assert.equal((await readAll(store, { chunkSize: CHUNK_SIZE, size: 0, chunks: [] })).length, 0);
  });

  test('a missing chunk rejects with the store error', async () => {
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

  test('a receiver that goes away stops the reads', async () => {
    const { store: counting, reads } = countingReads(driver);
    const big: Manifest = {
      chunkSize: CHUNK_SIZE,
      size: 100 * MiB,
      chunks: new Array(100).fill(manifest.chunks[0]),
    };
    let received = 0;
    const sink = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        received += chunk.length;
        if (received >= 3 * MiB) sink.destroy();
        callback();
      },
    });
    await assert.rejects(writePieces(sink, counting, imagePieces(big).pieces, { readAhead: 4 }), /closed/);
    assert.ok(reads() <= 10, `read ${reads()} chunks after the receiver went away`);
  });

  test(
    'a receiver that takes nothing for the send timeout is destroyed before any buffer is given back',
    { timeout: 10_000 },
    async () => {
      let lent = 0;
      let lentAtDestroy = -1;
      const store = createChunkStore({
        driver: {
          ...driver,
          read: (key, use) => {
            lent++;
            return driver.read(key, async (data) => {
              try {
                return await use(data);
              } finally {
                lent--;
              }
            });
          },
        },
      });
      const stalled = new Writable({
        write() {
          // never calls back: a client that stopped reading
        },
      });
      stalled.once('close', () => (lentAtDestroy = lent));
      const started = performance.now();
      await assert.rejects(
        writePieces(stalled, store, imagePieces(manifest).pieces, { sendTimeoutMs: 100 }),
        {
          name: 'SendTimeoutError',
        },
      );
      assert.ok(performance.now() - started >= 90, 'gave up only after the timeout');
      assert.ok(stalled.destroyed, 'the receiver is destroyed');
      assert.ok(lentAtDestroy > 0, 'destroyed while the piece it held was still lent');
      assert.equal(lent, 0, 'every lent buffer is back');
    },
  );

  test('pacing is awaited before each read, so a paced sender holds no buffer while it waits', async () => {
    let lent = 0;
    const lentWhilePacing: number[] = [];
    const store = createChunkStore({
      driver: {
        ...driver,
        read: (key, use) =>
          driver.read(key, async (data) => {
            lent++;
            try {
              return await use(data);
            } finally {
              lent--;
            }
          }),
      },
    });
    const sink = collector();
    const paced: number[] = [];
    await writePieces(sink, store, imagePieces(manifest).pieces, {
      readAhead: 1,
      pace: async (bytes) => {
        paced.push(bytes);
        await new Promise((resolve) => setTimeout(resolve, 5));
        lentWhilePacing.push(lent);
      },
    });
    assert.deepEqual(sink.bytes(), image);
    assert.deepEqual(paced, [MiB, MiB, MiB, MiB, 777], 'every piece, zero ones too, is paced');
    assert.ok(
      lentWhilePacing.every((count) => count <= 1),
      `at most the piece being written is lent while the next is paced: ${lentWhilePacing.join(', ')}`,
    );
  });

  test('a failed piece stops the reads and the pieces after it are not written', async () => {
    const other = createMemoryBlobDriver();
    for (const [key, value] of driver.objects) other.objects.set(key, value);
    const { store: counting, reads } = countingReads(other);
    const broken = chunkKey(manifest.chunks[3] as Digest);
    other.objects.set(broken, (other.objects.get(broken) as Buffer).subarray(7));
    const big: Manifest = {
      chunkSize: CHUNK_SIZE,
      size: 100 * MiB,
      chunks: [manifest.chunks[0], manifest.chunks[3], ...new Array(98).fill(manifest.chunks[0])],
    };
    const sink = collector();
    await assert.rejects(writePieces(sink, counting, imagePieces(big).pieces), { name: 'CorruptChunkError' });
    assert.deepEqual(sink.bytes(), image.subarray(0, MiB));
    assert.ok(reads() <= 10, `read ${reads()} chunks after a corrupt one`);
  });
});
