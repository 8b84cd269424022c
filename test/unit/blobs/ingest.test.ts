// Streaming ingest: chunks, zero runs, dedup, whole-image hashes, and clean failure (abort, source error,
// size limit, observer error) with no staged files and no threads left behind.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test } from 'node:test';
import { createChunkStore } from '../../../src/blobs/chunk-store.js';
import type { BlobDriver } from '../../../src/blobs/driver.js';
import { createFsBlobDriver } from '../../../src/blobs/drivers/fs.js';
import { createMemoryBlobDriver } from '../../../src/blobs/drivers/memory.js';
import { ingestImage } from '../../../src/blobs/ingest.js';
import { CHUNKS_PREFIX, MANIFESTS_PREFIX, chunkKey } from '../../../src/blobs/layout.js';
import { isFerryError } from '../../../src/domain/errors.js';
import type { Digest } from '../../../src/domain/ids.js';
import { CHUNK_SIZE } from '../../../src/domain/manifest.js';
import { makeTempDir } from '../../helpers/tmp.js';

const MiB = CHUNK_SIZE;

/**
 * 8 MiB + 1000 bytes: chunks 0-2 random, 3-4 zero, 5 half random / half zero, 6 random, 7 = a copy of
 * chunk 0, then a 1000-byte random tail.
 */
function sampleImage(): Buffer {
  const image = Buffer.alloc(8 * MiB + 1000);
  randomBytes(3 * MiB).copy(image, 0);
  randomBytes(MiB / 2).copy(image, 5 * MiB);
  randomBytes(MiB).copy(image, 6 * MiB);
  image.copy(image, 7 * MiB, 0, MiB);
  randomBytes(1000).copy(image, 8 * MiB);
  return image;
}

/** The image in pieces of irregular sizes (1 byte to 300 KiB), so pieces straddle chunk boundaries. */
async function* piecesOf(image: Buffer): AsyncGenerator<Buffer> {
  let offset = 0;
  let i = 0;
  while (offset < image.length) {
    const size = i++ % 7 === 0 ? 1 : 1 + ((i * 104729) % (300 * 1024));
    yield image.subarray(offset, offset + size);
    offset += size;
  }
}

function hashOf(algorithm: string, data: Buffer): string {
  return createHash(algorithm).update(data).digest('hex');
}

async function listAll(driver: BlobDriver, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const key of driver.list(prefix)) keys.push(key);
  return keys;
}

/** Threads of this process (main, libuv pool, V8 platform, and any worker threads). */
async function threadCount(): Promise<number> {
  return (await readdir('/proc/self/task')).length;
}

/** Waits until the thread count drops back to `baseline` (a terminated worker takes a moment to be reaped). */
async function assertThreadsBackTo(baseline: number): Promise<void> {
  for (let i = 0; i < 50 && (await threadCount()) > baseline; i++) await sleep(20);
  assert.equal(await threadCount(), baseline, 'a worker thread is still running');
}

/** A source that sends `bytes` of random data and then stalls like a client that stopped sending. */
async function* stallingSource(bytes: number, stalled: () => void): AsyncGenerator<Buffer> {
  for (let sent = 0; sent < bytes; sent += 64 * 1024) yield randomBytes(64 * 1024);
  stalled();
  await new Promise(() => undefined);
}

async function fsSetup(t: import('node:test').TestContext) {
  const root = await makeTempDir(t);
  const driver = await createFsBlobDriver({ root });
  return { root, driver, store: createChunkStore({ driver }) };
}

describe('ingestImage', () => {
  let baselineThreads = 0;

  test('warm-up: one ingest so the libuv pool exists before threads are counted', async () => {
    await ingestImage(createChunkStore({ driver: createMemoryBlobDriver() }), piecesOf(randomBytes(3 * MiB)));
    await sleep(50);
    baselineThreads = await threadCount();
  });

  test('stores distinct non-zero chunks, records zero chunks as null, and hashes the whole stream', async (t) => {
    const { driver, store } = await fsSetup(t);
    const image = sampleImage();
    const observed: Buffer[] = [];
    const result = await ingestImage(store, piecesOf(image), {
      observe: (piece) => observed.push(Buffer.from(piece)),
    });

    assert.deepEqual(Buffer.concat(observed), image);
    assert.equal(result.size, image.length);
    assert.equal(result.md5, hashOf('md5', image));
    assert.equal(result.osHashAlgorithm, 'sha512');
    assert.equal(result.osHashValue, hashOf('sha512', image));
    const sha = (from: number, to: number) => hashOf('sha256', image.subarray(from, to)) as Digest;
    assert.deepEqual(result.manifest, {
      chunkSize: CHUNK_SIZE,
      size: image.length,
      chunks: [
        sha(0, MiB),
        sha(MiB, 2 * MiB),
        sha(2 * MiB, 3 * MiB),
        null,
        null,
        sha(5 * MiB, 6 * MiB),
        sha(6 * MiB, 7 * MiB),
        sha(0, MiB),
        sha(8 * MiB, image.length),
      ],
    });
    assert.equal(result.bytesZero, 2 * MiB);
    assert.equal(result.bytesDeduplicated, MiB); // chunk 7 repeats chunk 0
    assert.equal(result.bytesWritten, 5 * MiB + 1000);
    assert.deepEqual(await store.getManifest(result.manifestDigest), result.manifest);

    // Only the 6 distinct non-zero chunks are objects; zero chunks never are.
    const chunkKeys = await listAll(driver, CHUNKS_PREFIX);
    assert.equal(chunkKeys.length, 6);
    for (const digest of result.manifest.chunks)
      if (digest !== null) assert.ok(chunkKeys.includes(chunkKey(digest)));
    assert.equal((await listAll(driver, MANIFESTS_PREFIX)).length, 1);

    // The same image again (as a Readable this time) writes nothing new.
    const again = await ingestImage(store, Readable.from(piecesOf(image)));
    assert.equal(again.manifestDigest, result.manifestDigest);
    assert.equal(again.bytesWritten, 0);
    assert.equal(again.bytesDeduplicated, 6 * MiB + 1000);
    assert.equal(again.bytesZero, 2 * MiB);
    assert.equal((await listAll(driver, CHUNKS_PREFIX)).length, 6);
    await assertThreadsBackTo(baselineThreads);
  });

  test('an empty source gives an empty manifest', async () => {
    const store = createChunkStore({ driver: createMemoryBlobDriver() });
    const result = await ingestImage(store, Readable.from([]));
    assert.deepEqual(result.manifest, { chunkSize: CHUNK_SIZE, size: 0, chunks: [] });
    assert.equal(result.md5, hashOf('md5', Buffer.alloc(0)));
    assert.equal(result.osHashValue, hashOf('sha512', Buffer.alloc(0)));
  });

  test('os_hash_value is SHA-256 of the whole stream when asked for (Glance hashing_algorithm)', async () => {
    const store = createChunkStore({ driver: createMemoryBlobDriver() });
    const image = sampleImage();
    const result = await ingestImage(store, piecesOf(image), { osHashAlgorithm: 'sha256' });
    assert.equal(result.osHashAlgorithm, 'sha256');
    assert.equal(result.osHashValue, hashOf('sha256', image));
    assert.equal(result.md5, hashOf('md5', image));
    // The chunks are still named by their own SHA-256, whatever the whole-image hash.
    assert.equal(result.manifest.chunks[0], hashOf('sha256', image.subarray(0, MiB)));
    await assertThreadsBackTo(baselineThreads);
  });

  test('a short all-zero tail is a zero chunk', async () => {
    const store = createChunkStore({ driver: createMemoryBlobDriver() });
    const image = Buffer.concat([randomBytes(MiB), Buffer.alloc(12345)]);
    const result = await ingestImage(store, piecesOf(image));
    assert.equal(result.manifest.chunks[1], null);
    assert.equal(result.bytesZero, 12345);
    assert.equal(result.md5, hashOf('md5', image));
  });

  test('aborting mid-stream rejects with UPLOAD_INCOMPLETE, leaves no staged file and no thread', async (t) => {
    const { root, driver, store } = await fsSetup(t);
    const controller = new AbortController();
    const source = stallingSource(5 * MiB + 4096, () => setTimeout(() => controller.abort(), 20));
    await assert.rejects(ingestImage(store, source, { signal: controller.signal }), (error: unknown) =>
      isFerryError(error, 'UPLOAD_INCOMPLETE'),
    );
    assert.deepEqual(await readdir(join(root, 'tmp')), []);
    // The 5 complete chunks may be stored (complete, verified objects); no manifest is.
    assert.ok((await listAll(driver, CHUNKS_PREFIX)).length <= 5);
    assert.deepEqual(await listAll(driver, MANIFESTS_PREFIX), []);
    await assertThreadsBackTo(baselineThreads);
  });

  test('an already aborted signal rejects before reading', async () => {
    const store = createChunkStore({ driver: createMemoryBlobDriver() });
    let read = false;
    const source = (async function* () {
      read = true;
      yield Buffer.alloc(1);
    })();
    await assert.rejects(ingestImage(store, source, { signal: AbortSignal.abort() }), (error: unknown) =>
      isFerryError(error, 'UPLOAD_INCOMPLETE'),
    );
    assert.equal(read, false);
  });

  test('a failing source rejects with UPLOAD_INCOMPLETE', async () => {
    const store = createChunkStore({ driver: createMemoryBlobDriver() });
    const source = new Readable({ read() {} });
    source.push(randomBytes(3 * MiB));
    setTimeout(() => source.destroy(new Error('connection reset')), 20);
    await assert.rejects(ingestImage(store, source), (error: unknown) => {
      assert.ok(isFerryError(error, 'UPLOAD_INCOMPLETE'));
      assert.equal(error.details?.reason, 'connection reset');
      return true;
    });
    await assertThreadsBackTo(baselineThreads);
  });

  test('more than maxBytes rejects with PAYLOAD_TOO_LARGE and closes the source', async () => {
    const store = createChunkStore({ driver: createMemoryBlobDriver() });
    const source = Readable.from(piecesOf(randomBytes(3 * MiB)));
    await assert.rejects(ingestImage(store, source, { maxBytes: 2 * MiB }), (error: unknown) =>
      isFerryError(error, 'PAYLOAD_TOO_LARGE'),
    );
    await sleep(10);
    assert.equal(source.destroyed, true);
    // Exactly maxBytes is fine.
    const ok = await ingestImage(store, piecesOf(randomBytes(2 * MiB)), { maxBytes: 2 * MiB });
    assert.equal(ok.size, 2 * MiB);
    await assertThreadsBackTo(baselineThreads);
  });

  test('an observer that throws aborts the ingest with its own error', async () => {
    const driver = createMemoryBlobDriver();
    const store = createChunkStore({ driver });
    let seen = 0;
    const observe = (piece: Buffer): void => {
      seen += piece.length;
      if (seen > 2 * MiB) throw new Error('not a disk image');
    };
    await assert.rejects(ingestImage(store, piecesOf(randomBytes(4 * MiB)), { observe }), /not a disk image/);
    assert.deepEqual(await listAll(driver, MANIFESTS_PREFIX), []);
    await assertThreadsBackTo(baselineThreads);
  });

  test('a store failure rejects the ingest', async () => {
    const driver = createMemoryBlobDriver();
    driver.put = async () => {
      throw new Error('disk full');
    };
    await assert.rejects(
      ingestImage(createChunkStore({ driver }), piecesOf(randomBytes(3 * MiB))),
      /disk full/,
    );
    await assertThreadsBackTo(baselineThreads);
  });
});
