// Reads that scale: a range read of a ~100 GiB image's manifest reads, holds and looks up only the chunks in
// its range, and repeated reads of one image read and index its manifest once.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Writable } from 'node:stream';
import { describe, test } from 'node:test';
import { createChunkStore, sha256Digest, type ChunkStore } from '../../../src/blobs/chunk-store.js';
import type { BlobDriver } from '../../../src/blobs/driver.js';
import { createMemoryBlobDriver } from '../../../src/blobs/drivers/memory.js';
import { MANIFESTS_PREFIX } from '../../../src/blobs/layout.js';
import { createManifestCache } from '../../../src/blobs/manifest-cache.js';
import { imagePieces, writePieces } from '../../../src/blobs/read.js';
import type { Digest } from '../../../src/domain/ids.js';
import {
  CHUNK_SIZE,
  indexManifest,
  serializeManifest,
  type Manifest,
  type ManifestIndex,
} from '../../../src/domain/manifest.js';

/** Chunks of the large image: 100,000 MiB (~98 GiB). */
const CHUNKS = 100_000;
/** The stored chunks, the only ones a read of RANGE may touch; every other digest names nothing stored. */
const STORED_FROM = 61_234;
const STORED = [randomBytes(CHUNK_SIZE), randomBytes(CHUNK_SIZE), randomBytes(CHUNK_SIZE)];
/** From the middle of the first stored chunk to the middle of the last. */
const RANGE = { start: STORED_FROM * CHUNK_SIZE + 100, end: (STORED_FROM + 2) * CHUNK_SIZE + 99 };

function fakeDigest(n: number): Digest {
  return createHash('sha256').update(`absent ${n}`).digest('hex') as Digest;
}

/** The large image: fake digests with a zero run every 1000 chunks, and the stored chunks in place. */
function largeManifest(): Manifest {
  const chunks = Array.from({ length: CHUNKS }, (_, i): Digest | null =>
    i % 1000 < 10 ? null : fakeDigest(i),
  );
  STORED.forEach((data, i) => (chunks[STORED_FROM + i] = sha256Digest(data)));
  return { chunkSize: CHUNK_SIZE, size: CHUNKS * CHUNK_SIZE, chunks };
}

/** A chunk store over a memory driver that counts reads of manifests and of chunks. */
async function countingStore(): Promise<{
  store: ChunkStore;
  manifestGets: () => number;
  chunkReads: () => number;
}> {
  const driver = createMemoryBlobDriver();
  let manifestGets = 0;
  let chunkReads = 0;
  const counting: BlobDriver = {
    ...driver,
    get: (key) => {
      if (key.startsWith(MANIFESTS_PREFIX)) manifestGets++;
      return driver.get(key);
    },
    read: (key, use) => {
      chunkReads++;
      return driver.read(key, use);
    },
  };
  const store = createChunkStore({ driver: counting });
  for (const data of STORED) await store.addChunk(data);
  return { store, manifestGets: () => manifestGets, chunkReads: () => chunkReads };
}

function discard(): Writable & { received: () => number } {
  let received = 0;
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      received += chunk.length;
      callback();
    },
  });
  return Object.assign(sink, { received: () => received });
}

describe('range reads of a large image', () => {
  test('read the manifest once for repeated and concurrent requests', async () => {
    const { store, manifestGets } = await countingStore();
    const digest = await store.putManifest(largeManifest());
    const manifests = createManifestCache((d) => store.getManifestIndex(d));
    const [first, second] = await Promise.all([manifests.get(digest), manifests.get(digest)]);
    for (let i = 0; i < 50; i++) assert.equal(await manifests.get(digest), first);
    assert.equal(second, first);
    assert.equal(manifestGets(), 1);
  });

  test('send, hold and look up only the chunks in the range', async () => {
    const { store, chunkReads } = await countingStore();
    const manifest = largeManifest();
    const digest = await store.putManifest(manifest);
    const index = await store.getManifestIndex(digest);
    let lookups = 0;
    const counted: ManifestIndex = {
      ...index,
      digestAt: (i) => {
        lookups++;
        return index.digestAt(i);
      },
    };

    const { pieces, bytes, digests } = imagePieces(counted, RANGE);
    const inRange = [...digests];
    assert.deepEqual(inRange, STORED.map(sha256Digest));
    const hold = store.hold();
    for (const held of inRange) hold.add(held);
    const sink = discard();
    await writePieces(sink, store, pieces);
    assert.equal(sink.received(), bytes);
    assert.equal(bytes, RANGE.end - RANGE.start + 1);
    assert.equal(chunkReads(), STORED.length);
    // Three chunks' digests, looked up once for the hold and once for the pieces, out of 100,000.
    assert.equal(lookups, 2 * STORED.length);
    assert.equal(store.isHeld(manifest.chunks[STORED_FROM - 1]!), false);
    assert.equal(store.isHeld(manifest.chunks[STORED_FROM + 3]!), false);
    hold.release();
  });

  test('the same bytes as the parsed manifest gives, whole chunks and partial ones', async () => {
    const { store } = await countingStore();
    const manifest = largeManifest();
    const index = indexManifest(serializeManifest(manifest));
    const fromIndex = [...imagePieces(index, RANGE).pieces];
    const fromParsed = [...imagePieces(manifest, RANGE).pieces];
    assert.deepEqual(fromIndex, fromParsed);
    const sink = discard();
    await writePieces(sink, store, fromIndex);
    assert.equal(sink.received(), RANGE.end - RANGE.start + 1);
  });
});

describe('createManifestCache', () => {
  const index = (retainedBytes: number): ManifestIndex => ({
    chunkSize: CHUNK_SIZE,
    size: 0,
    chunkCount: 0,
    retainedBytes,
    digestAt: () => null,
  });
  const digest = (n: number) => fakeDigest(n);

  test('keeps the most recently used entries within maxBytes', async () => {
    const loads: number[] = [];
    const manifests = createManifestCache(
      async (d) => {
        loads.push([1, 2, 3].find((n) => digest(n) === d)!);
        return index(40);
      },
      { maxBytes: 100 },
    );
    await manifests.get(digest(1));
    await manifests.get(digest(2));
    await manifests.get(digest(1)); // 1 is now the most recently used: 2 goes first
    await manifests.get(digest(3));
    assert.equal(manifests.retainedBytes, 80);
    await manifests.get(digest(1));
    await manifests.get(digest(2));
    assert.deepEqual(loads, [1, 2, 3, 2]);
  });

  test('serves but does not keep an entry larger than maxBytes, nor a failed load', async () => {
    let loads = 0;
    let fail = true;
    const manifests = createManifestCache(
      async (d) => {
        loads++;
        if (d === digest(2) && fail) throw new Error('unreadable');
        return index(d === digest(1) ? 500 : 10);
      },
      { maxBytes: 100 },
    );
    assert.equal((await manifests.get(digest(1))).retainedBytes, 500);
    await manifests.get(digest(1));
    await assert.rejects(manifests.get(digest(2)), /unreadable/);
    fail = false;
    await manifests.get(digest(2));
    await manifests.get(digest(2));
    assert.equal(loads, 4);
    assert.equal(manifests.retainedBytes, 10);
  });
});
