// The shared buffer pool: sets given back are reused for the same shape, up to the idle bound; the rest,
// and sets given back twice or not from the pool, are let go of and never handed out twice.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SharedBufferPool } from '../../../src/blobs/buffer-pool.js';
import { createChunkStore } from '../../../src/blobs/chunk-store.js';
import { createMemoryBlobDriver } from '../../../src/blobs/drivers/memory.js';

function countingPool(maxIdleBytes: number) {
  const allocated: SharedArrayBuffer[] = [];
  const discarded: SharedArrayBuffer[] = [];
  const pool = new SharedBufferPool({
    async allocate(count, size) {
      const memory = new SharedArrayBuffer(count * size);
      allocated.push(memory);
      return Array.from({ length: count }, (_, i) => Buffer.from(memory, i * size, size));
    },
    discard: (memory) => discarded.push(memory),
    maxIdleBytes,
  });
  return { pool, allocated, discarded };
}

test('a set given back is handed out again for the same shape, and only then', async () => {
  const { pool, allocated } = countingPool(1024);
  const first = await pool.take(2, 64);
  assert.equal(first.length, 2);
  assert.equal(first[0]!.length, 64);
  pool.give(first);
  assert.equal(pool.idleSize, 128);
  const other = await pool.take(4, 64); // another shape: a new set
  const again = await pool.take(2, 64);
  assert.equal(allocated.length, 2);
  assert.equal(again[0]!.buffer, first[0]!.buffer);
  assert.equal(other[0]!.buffer, allocated[1]);
  assert.equal(pool.idleSize, 0);
});

test('a set in use is never handed out twice, even if given back twice', async () => {
  const { pool, allocated } = countingPool(1024);
  const set = await pool.take(1, 64);
  pool.give(set);
  pool.give(set); // a caller's mistake: the second is ignored
  const a = await pool.take(1, 64);
  const b = await pool.take(1, 64);
  assert.notEqual(a[0]!.buffer, b[0]!.buffer);
  assert.equal(allocated.length, 2);
});

test('idle sets beyond the bound are let go of', async () => {
  const { pool, discarded } = countingPool(200);
  const sets = [await pool.take(1, 100), await pool.take(1, 100), await pool.take(1, 100)];
  for (const set of sets) pool.give(set);
  assert.equal(pool.idleSize, 200);
  assert.deepEqual(discarded, [sets[2]![0]!.buffer]);
  // A let-go set is not the pool's any more: given back again, it is only discarded again.
  pool.give(sets[2]!);
  assert.equal(pool.idleSize, 200);
});

test("the chunk store reuses an upload's shared buffers for the next one", async () => {
  const store = createChunkStore({ driver: createMemoryBlobDriver() });
  const ring = await store.allocateChunkBuffers(12, 4096, { shared: true });
  assert.ok(ring[0]!.buffer instanceof SharedArrayBuffer);
  store.releaseChunkBuffers(ring);
  const next = await store.allocateChunkBuffers(12, 4096, { shared: true });
  assert.equal(next[0]!.buffer, ring[0]!.buffer);
  const plain = await store.allocateChunkBuffers(2, 4096);
  assert.ok(!(plain[0]!.buffer instanceof SharedArrayBuffer));
});
