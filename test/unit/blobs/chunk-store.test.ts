// The chunk store: nothing is stored under a digest it doesn't have, and corruption is caught on read.
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import {
  DigestMismatchError,
  ZERO_CHUNK,
  createChunkStore,
  isZeroChunk,
} from '../../../src/blobs/chunk-store.js';
import { BlobNotFoundError } from '../../../src/blobs/driver.js';
import { createMemoryBlobDriver } from '../../../src/blobs/drivers/memory.js';
import { chunkKey, manifestKey } from '../../../src/blobs/layout.js';
import type { Digest } from '../../../src/domain/ids.js';
import { CHUNK_SIZE, InvalidManifestError, type Manifest } from '../../../src/domain/manifest.js';

function sha256(data: Uint8Array): Digest {
  return createHash('sha256').update(data).digest('hex') as Digest;
}

function setup() {
  const driver = createMemoryBlobDriver();
  return { driver, store: createChunkStore({ driver }) };
}

test('putChunk stores data under its digest, once', async () => {
  const { driver, store } = setup();
  const data = randomBytes(1000);
  const digest = sha256(data);
  assert.equal(await store.hasChunk(digest), false);
  assert.equal(await store.putChunk(digest, data), true);
  assert.equal(await store.putChunk(digest, data), false);
  assert.equal(await store.hasChunk(digest), true);
  assert.deepEqual(await store.getChunk(digest), data);
  assert.deepEqual([...driver.objects.keys()], [chunkKey(digest)]);
});

test('putChunk refuses data that does not hash to the digest, storing nothing', async () => {
  const { driver, store } = setup();
  const data = randomBytes(1000);
  const wrong = sha256(Buffer.from('something else'));
  await assert.rejects(store.putChunk(wrong, data), (error: unknown) => {
    assert.ok(error instanceof DigestMismatchError);
    assert.equal(error.expected, wrong);
    assert.equal(error.actual, sha256(data));
    return true;
  });
  assert.equal(driver.objects.size, 0);
  await assert.rejects(store.putChunk('not-a-digest' as Digest, data), TypeError);
});

test('addChunk hashes the data itself and reports whether it wrote', async () => {
  const { store } = setup();
  const data = randomBytes(5000);
  assert.deepEqual(await store.addChunk(data), { digest: sha256(data), written: true });
  assert.deepEqual(await store.addChunk(data), { digest: sha256(data), written: false });
});

test('concurrent stores of the same chunk write it once', async () => {
  const { driver, store } = setup();
  let puts = 0;
  const put = driver.put.bind(driver);
  driver.put = async (key, data) => {
    puts++;
    await put(key, data);
  };
  const data = randomBytes(CHUNK_SIZE);
  const results = await Promise.all(Array.from({ length: 5 }, () => store.addChunk(data)));
  assert.equal(results.filter((r) => r.written).length, 1);
  assert.equal(puts, 1);
});

test('getChunk of an absent chunk rejects with BlobNotFoundError; verify catches corruption', async () => {
  const { driver, store } = setup();
  await assert.rejects(store.getChunk(sha256(Buffer.from('none'))), BlobNotFoundError);
  const data = randomBytes(100);
  const digest = sha256(data);
  await store.putChunk(digest, data);
  const stored = driver.objects.get(chunkKey(digest)) as Buffer;
  stored.writeUInt8(stored.readUInt8(0) ^ 1, 0);
  await store.getChunk(digest); // not verified by default
  await assert.rejects(store.getChunk(digest, { verify: true }), DigestMismatchError);
});

test('manifests round-trip under their digest and are verified on read', async () => {
  const { driver, store } = setup();
  const manifest: Manifest = {
    chunkSize: CHUNK_SIZE,
    size: CHUNK_SIZE + 5,
    chunks: [null, sha256(Buffer.from('x'))],
  };
  const digest = await store.putManifest(manifest);
  assert.equal(digest, sha256(driver.objects.get(manifestKey(digest)) as Buffer));
  assert.deepEqual(await store.getManifest(digest), manifest);
  const stored = driver.objects.get(manifestKey(digest)) as Buffer;
  stored.writeUInt8(stored.readUInt8(30) ^ 1, 30);
  await assert.rejects(store.getManifest(digest), DigestMismatchError);
  await assert.rejects(store.getManifest(sha256(Buffer.from('none'))), BlobNotFoundError);
  await assert.rejects(store.putManifest({ ...manifest, size: 1 }), InvalidManifestError);
});

test('missingChunks returns the absent digests, deduplicated, in input order, with bounded parallelism', async () => {
  const driver = createMemoryBlobDriver({ maxParallelism: 3 });
  const store = createChunkStore({ driver });
  const chunks = Array.from({ length: 20 }, (_, i) => Buffer.from(`chunk ${i}`));
  const digests = chunks.map(sha256);
  for (let i = 0; i < 20; i += 2) await store.putChunk(digests[i] as Digest, chunks[i] as Buffer);
  let active = 0;
  let peak = 0;
  const has = driver.has.bind(driver);
  driver.has = async (key) => {
    peak = Math.max(peak, ++active);
    await new Promise((resolve) => setTimeout(resolve, 1));
    active--;
    return has(key);
  };
  const odd = digests.filter((_, i) => i % 2 === 1);
  assert.deepEqual(await store.missingChunks([...digests, ...digests].reverse()), [...odd].reverse());
  assert.equal(peak, 3);
  assert.deepEqual(await store.missingChunks([]), []);
});

test('isZeroChunk compares against the shared zero buffer', () => {
  assert.equal(ZERO_CHUNK.length, CHUNK_SIZE);
  assert.equal(isZeroChunk(Buffer.alloc(CHUNK_SIZE)), true);
  assert.equal(isZeroChunk(Buffer.alloc(10)), true);
  assert.equal(isZeroChunk(Buffer.alloc(0)), true);
  const last = Buffer.alloc(CHUNK_SIZE);
  last[CHUNK_SIZE - 1] = 1;
  assert.equal(isZeroChunk(last), false);
  assert.equal(isZeroChunk(Buffer.alloc(3 * CHUNK_SIZE)), true);
});
