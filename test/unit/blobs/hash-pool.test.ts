// The hash pool: SHA-256 of shared memory on other threads, read in place; and the chunk store sends it the
// chunks in shared memory while still refusing bytes that do not hash to their digest.
import assert from 'node:assert/strict';
import { createHash, randomFillSync } from 'node:crypto';
import { open, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { DigestMismatchError, createChunkStore } from '../../../src/blobs/chunk-store.js';
import { createFsBlobDriver } from '../../../src/blobs/drivers/fs.js';
import { createMemoryBlobDriver } from '../../../src/blobs/drivers/memory.js';
import { PACKS_DIR } from '../../../src/blobs/drivers/packs.js';
import { createHashPool, isSharedMemory, type HashPool } from '../../../src/blobs/hash-pool.js';
import type { Digest } from '../../../src/domain/ids.js';
import { makeTempDir } from '../../helpers/tmp.js';

const MiB = 1024 * 1024;

function sha256(data: Uint8Array): Digest {
  return createHash('sha256').update(data).digest('hex') as Digest;
}

/** `count` random chunks of `size` bytes, views of one SharedArrayBuffer (as allocateChunkBuffers gives). */
function sharedChunks(count: number, size: number): Buffer[] {
  const memory = randomFillSync(Buffer.from(new SharedArrayBuffer(count * size)));
  return Array.from({ length: count }, (_, i) => memory.subarray(i * size, (i + 1) * size));
}

/** A pool that counts the hashes it is asked for. */
function countingPool(pool: HashPool): HashPool & { calls: number } {
  const counting = {
    threads: pool.threads,
    calls: 0,
    sha256(data: Uint8Array) {
      counting.calls += 1;
      return pool.sha256(data);
    },
    stream: pool.stream.bind(pool),
    forget: pool.forget.bind(pool),
    close: () => pool.close(),
  };
  return counting;
}

test('hashes views of shared memory in place, at any offset, many at once', async (t) => {
  const pool = createHashPool(2);
  t.after(() => pool.close());
  const chunks = sharedChunks(12, MiB);
  // Odd offsets and lengths too: the thread must read exactly the view, not its whole buffer.
  const views = [...chunks, chunks[3]!.subarray(17, 70_001), chunks[5]!.subarray(0, 1)];
  const digests = await Promise.all(views.map((view) => pool.sha256(view)));
  assert.deepEqual(
    digests,
    views.map((view) => sha256(view)),
  );
});

test('refuses memory that is not shared, and every hash once closed', async () => {
  const pool = createHashPool(1);
  await assert.rejects(pool.sha256(Buffer.alloc(MiB)), TypeError);
  await pool.close();
  await assert.rejects(pool.sha256(sharedChunks(1, 1024)[0]!), /closed/);
});

test('the chunk store hashes shared chunks on its pool, and still refuses a wrong digest', async (t) => {
  const pool = countingPool(createHashPool(2));
  t.after(() => pool.close());
  const driver = createMemoryBlobDriver();
  const store = createChunkStore({ driver, hashPool: pool });
  const [first, second] = sharedChunks(2, MiB);
  assert.ok(isSharedMemory(first!));

  assert.equal(await store.putChunk(sha256(first!), first!), true);
  assert.deepEqual(await store.addChunk(second!), { digest: sha256(second!), written: true });
  assert.equal(pool.calls, 2);

  const wrong = sha256(Buffer.from('something else'));
  const third = sharedChunks(1, MiB)[0]!;
  await assert.rejects(store.putChunk(wrong, third), (error: unknown) => {
    assert.ok(error instanceof DigestMismatchError);
    assert.equal(error.actual, sha256(third));
    return true;
  });
  assert.equal(pool.calls, 3);
  assert.equal(await store.hasChunk(sha256(third)), false);
  assert.equal(driver.objects.size, 2, 'nothing stored for the refused chunk');

  // Memory that is not shared is hashed on the calling thread, with the same check.
  const plain = Buffer.from(third);
  await assert.rejects(store.putChunk(wrong, plain), DigestMismatchError);
  assert.equal(await store.putChunk(sha256(plain), plain), true);
  assert.equal(pool.calls, 3);
});

test('whole-stream hashes run on the pool: ranges in order, two streams at once, nothing left once digested or dropped', async (t) => {
  const pool = createHashPool(2);
  t.after(() => pool.close());
  const [memory] = sharedChunks(1, 4 * MiB);
  const bytes = memory!;
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 7919) % 251;
  const md5 = pool.stream('md5', bytes.buffer as SharedArrayBuffer);
  const sha512 = pool.stream('sha512', bytes.buffer as SharedArrayBuffer);
  const ranges = [
    [0, MiB],
    [MiB, 3],
    [MiB + 3, 3 * MiB - 3],
  ] as const;
  for (const [offset, length] of ranges) {
    md5.update(bytes.byteOffset + offset, length);
    sha512.update(bytes.byteOffset + offset, length);
  }
  await Promise.all([md5.whenHashed(3), sha512.whenHashed(3)]);
  assert.equal(md5.hashed(), 3);
  assert.equal(await md5.digest(), createHash('md5').update(bytes).digest('hex'));
  assert.equal(await sha512.digest(), createHash('sha512').update(bytes).digest('hex'));

  const dropped = pool.stream('sha256', bytes.buffer as SharedArrayBuffer);
  dropped.update(bytes.byteOffset, MiB);
  dropped.drop();
  assert.match(String(dropped.failure()), /dropped/);
  assert.throws(() => dropped.update(bytes.byteOffset, MiB), /dropped/);
  await assert.rejects(dropped.digest(), /dropped/);
  await dropped.whenHashed(5); // resolves: a waiter is never left hanging
});

test('a memory the threads were told to forget is sent again when it is hashed again', async (t) => {
  const pool = createHashPool(2);
  t.after(() => pool.close());
  const chunks = sharedChunks(4, MiB);
  const first = await Promise.all(chunks.map((chunk) => pool.sha256(chunk)));
  pool.forget(chunks[0]!.buffer as SharedArrayBuffer);
  pool.forget(chunks[0]!.buffer as SharedArrayBuffer); // idempotent
  chunks[2]![0] = chunks[2]![0]! ^ 1;
  const again = await Promise.all(chunks.map((chunk) => pool.sha256(chunk)));
  assert.deepEqual(first.slice(0, 2), again.slice(0, 2));
  assert.equal(again[2], sha256(chunks[2]!));
});

test("the scrub's check of a stored chunk hashes it on the pool, in the fs driver's shared stage", async (t) => {
  const pool = countingPool(createHashPool(2));
  t.after(() => pool.close());
  const root = await makeTempDir(t);
  const driver = await createFsBlobDriver({ root });
  t.after(() => driver.close());
  const store = createChunkStore({ driver, hashPool: pool });
  const data = Buffer.from(sharedChunks(1, MiB)[0]!);
  const digest = sha256(data);
  await store.putChunk(digest, data); // not shared: hashed here
  assert.equal(pool.calls, 0);
  assert.deepEqual(await store.checkChunk(digest), { length: MiB, intact: true });
  assert.equal(pool.calls, 1);
  // Damaged on disk: the check says so.
  const [pack] = (await readdir(join(root, PACKS_DIR))).filter((name) => name.endsWith('.pack'));
  const file = await open(join(root, PACKS_DIR, pack!), 'r+');
  await file.write(Buffer.from([data[100]! ^ 0xff]), 0, 1, 100);
  await file.close();
  assert.deepEqual(await store.checkChunk(digest), { length: MiB, intact: false });
  assert.equal(pool.calls, 2);
});

test('the threads hash below normal priority, leaving the cores to the main thread first', async (t) => {
  if (process.platform !== 'linux') return t.skip('thread priorities are read from /proc');
  const niceOf = async (task: string) =>
    Number((await readFile(`/proc/self/task/${task}/stat`, 'utf8')).split(') ')[1]!.split(' ')[16]);
  const before = await readdir('/proc/self/task');
  const pool = createHashPool(2);
  t.after(() => pool.close());
  await Promise.all(sharedChunks(4, 1024).map((chunk) => pool.sha256(chunk))); // both threads are running
  const started = (await readdir('/proc/self/task')).filter((task) => !before.includes(task));
  const nice = await Promise.all(started.map(niceOf));
  assert.equal(nice.filter((value) => value === 10).length, 2, `nice values of new threads: ${nice}`);
  assert.equal(await niceOf(String(process.pid)), 0, 'the main thread keeps its priority');
});
