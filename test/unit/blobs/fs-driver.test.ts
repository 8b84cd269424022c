// The filesystem driver: the BlobDriver contract suite, plus what only a filesystem has (packs, crash
// recovery, compaction, the earlier one-file-per-object layout, the folder lock).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout } from 'node:timers/promises';
import { describe, test, type TestContext } from 'node:test';
import { createFsBlobDriver, type FsBlobDriverOptions } from '../../../src/blobs/drivers/fs.js';
import { PACKS_DIR } from '../../../src/blobs/drivers/packs.js';
import { runBlobDriverContract } from '../../contracts/blob-driver.js';
import { makeTempDir } from '../../helpers/tmp.js';

/** A driver on a fresh folder; it is closed, then the folder removed, when the test ends. */
async function freshDriver(t: TestContext, options: Omit<FsBlobDriverOptions, 'root'> = {}) {
  const root = await mkdtemp(join(tmpdir(), 'ferry-test-'));
  const driver = await createFsBlobDriver({ root, ...options });
  t.after(async () => {
    await driver.close();
    await rm(root, { recursive: true, force: true });
  });
  return driver;
}

runBlobDriverContract('fs', (t) => freshDriver(t));
runBlobDriverContract('fs (sync off)', (t) => freshDriver(t, { sync: false }));
runBlobDriverContract('fs (small packs)', (t) => freshDriver(t, { packBytes: 1 << 20 }));

async function listAll(driver: { list(prefix: string): AsyncIterable<string> }): Promise<string[]> {
  const keys: string[] = [];
  for await (const key of driver.list('')) keys.push(key);
  return keys.sort();
}

async function packFiles(root: string): Promise<string[]> {
  return (await readdir(join(root, PACKS_DIR))).filter((name) => name !== 'LOCK').sort();
}

/** Files under `root` this process still holds open although they were unlinked, once closes settle. */
async function openDeletedFiles(root: string): Promise<string[]> {
  let open: string[] = [];
  for (let attempt = 0; attempt < 20; attempt++) {
    open = [];
    for (const fd of await readdir('/proc/self/fd')) {
      const target = await readlink(join('/proc/self/fd', fd)).catch(() => '');
      if (target.startsWith(root) && target.endsWith(' (deleted)')) open.push(target);
    }
    if (open.length === 0) break;
    await setTimeout(50); // a read handle is closed on the thread pool once its last read ends
  }
  return open;
}

describe('fs driver', () => {
  test('stores objects as records of pack files with an index, and nothing under <root>/<key>', async (t) => {
    const root = await makeTempDir(t);
    const driver = await createFsBlobDriver({ root });
    const data = randomBytes(5000);
    await driver.put('v1/chunks/ab/abc', data);
    const files = await packFiles(root);
    assert.equal(files.filter((name) => name.endsWith('.pack')).length, 1);
    const idx = files.find((name) => name.endsWith('.idx'))!;
    const line = JSON.parse((await readFile(join(root, PACKS_DIR, idx), 'utf8')).trim()) as Record<
      string,
      unknown
    >;
    assert.equal(line.k, 'v1/chunks/ab/abc');
    assert.equal(line.n, 5000);
    const pack = await readFile(join(root, PACKS_DIR, idx.replace(/\.idx$/, '.pack')));
    assert.ok(pack.subarray(line.o as number, (line.o as number) + 5000).equals(data));
    await assert.rejects(stat(join(root, 'v1')), { code: 'ENOENT' });
    await driver.close();
  });

  test('after a crash, objects made durable by a flush are there; those written after it are not, and their bytes are truncated', async (t) => {
    const root = await makeTempDir(t);
    const first = await createFsBlobDriver({ root });
    const durable = randomBytes(1 << 20);
    const lost = randomBytes(1 << 20);
    await first.put('v1/durable', durable, { deferSync: true });
    await first.flush();
    await first.put('v1/lost', lost, { deferSync: true });
    assert.equal(await first.has('v1/lost'), true, 'visible before the barrier');
    const packBytes = async () => {
      let total = 0;
      for (const name of await packFiles(root))
        if (name.endsWith('.pack')) total += (await stat(join(root, PACKS_DIR, name))).size;
      return total;
    };
    assert.equal(await packBytes(), 2 << 20);
    // No close, no flush: the process "dies" here; a new driver opens the folder as a restart would.
    const second = await createFsBlobDriver({ root });
    assert.ok((await second.get('v1/durable')).equals(durable));
    assert.equal(await second.has('v1/lost'), false);
    assert.equal(await packBytes(), 1 << 20, 'the unsynced tail is cut off');
    // New writes go to new packs, never after a recovered pack's end.
    await second.put('v1/lost', lost);
    assert.ok((await second.get('v1/lost')).equals(lost));
    assert.deepEqual(await listAll(second), ['v1/durable', 'v1/lost']);
    await second.close();
    const third = await createFsBlobDriver({ root });
    assert.deepEqual(await listAll(third), ['v1/durable', 'v1/lost']);
    await third.close();
  });

  test('deletes survive a restart; a key deleted and put again is read with its new bytes', async (t) => {
    const root = await makeTempDir(t);
    const first = await createFsBlobDriver({ root });
    await first.put('v1/a', Buffer.from('a'));
    await first.put('v1/b', Buffer.from('b'));
    await first.delete('v1/a');
    await first.delete('v1/b');
    await first.put('v1/b', Buffer.from('b'));
    await first.flush();
    const second = await createFsBlobDriver({ root });
    assert.deepEqual(await listAll(second), ['v1/b']);
    assert.equal((await second.get('v1/b')).toString(), 'b');
    await second.close();
  });

  test('compact removes packs that hold only garbage and rewrites those mostly garbage, keeping every live object', async (t) => {
    const root = await makeTempDir(t);
    const driver = await createFsBlobDriver({ root, packBytes: 4 << 20 });
    const objects = Array.from({ length: 32 }, (_, i) => ({
      key: `v1/o/${i}`,
      data: randomBytes((1 << 20) - i * 512),
    }));
    for (const { key, data } of objects) await driver.put(key, data, { deferSync: true });
    await driver.flush();
    const before = driver.usage();
    assert.ok(before.packs >= 8, `${before.packs} packs`);
    // Keep one object in three: every pack, those still taking writes too, is mostly garbage.
    const kept = objects.filter((_, i) => i % 3 === 0);
    for (const [i, { key }] of objects.entries()) if (i % 3 !== 0) await driver.delete(key);
    // A write keeps going while the compaction runs.
    const during = randomBytes(1 << 20);
    const [report] = await Promise.all([driver.compact(), driver.put('v1/during', during)]);
    assert.ok(report.packsRemoved >= 8, `removed ${report.packsRemoved}`);
    assert.ok(report.bytesReclaimed > 20 << 20, `reclaimed ${report.bytesReclaimed}`);
    const after = driver.usage();
    assert.ok(after.bytes < before.bytes / 2, `${after.bytes} of ${before.bytes} bytes left`);
    // The removed packs' files are closed by the driver, not left open for V8's garbage collector to close
    // on the main thread (where the filesystem's freeing of an unlinked file's blocks stalls the region).
    assert.deepEqual(await openDeletedFiles(root), []);
    for (const { key, data } of kept) assert.ok((await driver.get(key)).equals(data), key);
    assert.ok((await driver.get('v1/during')).equals(during));
    const onDisk = await packFiles(root);
    const second = await createFsBlobDriver({ root });
    assert.deepEqual(await listAll(second), [...kept.map(({ key }) => key), 'v1/during'].sort());
    for (const { key, data } of kept) assert.ok((await second.get(key)).equals(data), `${key} after restart`);
    assert.deepEqual(await packFiles(root), onDisk, 'a restart finds nothing to clean');
    await second.close();
  });

  test('objects of the earlier one-file-per-object layout are read, listed and deleted in place', async (t) => {
    const root = await makeTempDir(t);
    await mkdir(join(root, 'v1', 'chunks', 'ab'), { recursive: true });
    await writeFile(join(root, 'v1', 'chunks', 'ab', 'abc'), 'old');
    const driver = await createFsBlobDriver({ root });
    assert.equal((await driver.get('v1/chunks/ab/abc')).toString(), 'old');
    assert.equal((await driver.stat('v1/chunks/ab/abc'))?.size, 3);
    await driver.put('v1/chunks/ab/abc', Buffer.from('old')); // already stored: no second copy
    await driver.put('v1/chunks/cd/cde', Buffer.from('new'));
    assert.deepEqual(await listAll(driver), ['v1/chunks/ab/abc', 'v1/chunks/cd/cde']);
    assert.equal(driver.usage().liveBytes, 4096, 'only the new object went into a pack');
    await driver.delete('v1/chunks/ab/abc');
    await assert.rejects(stat(join(root, 'v1', 'chunks', 'ab', 'abc')), { code: 'ENOENT' });
    assert.deepEqual(await listAll(driver), ['v1/chunks/cd/cde']);
    await driver.close();
  });

  test('a folder in use by another live process is refused; one left by a dead process is taken over', async (t) => {
    const root = await makeTempDir(t);
    await mkdir(join(root, PACKS_DIR), { recursive: true });
    const other = spawn('sleep', ['30']);
    t.after(() => other.kill());
    await writeFile(join(root, PACKS_DIR, 'LOCK'), String(other.pid));
    await assert.rejects(createFsBlobDriver({ root }), new RegExp(`in use by process ${other.pid}`));
    other.kill();
    await new Promise((resolve) => other.once('exit', resolve));
    const driver = await createFsBlobDriver({ root });
    await driver.close();
  });

  test(
    'a read does not wait for a staging buffer a stalled reader keeps, and that reader keeps its bytes',
    { timeout: 20_000 },
    async (t) => {
      const driver = await createFsBlobDriver({
        root: await makeTempDir(t),
        maxParallelism: 1,
        stageWaitMs: 50,
      });
      const first = randomBytes(1024 * 1024);
      const second = randomBytes(1024 * 1024);
      await driver.put('v1/first', first);
      await driver.put('v1/second', second);
      // The first reader holds its (the only) staging buffer, as a sender whose receiver stopped reading does.
      let giveBack!: () => void;
      let lent!: Buffer;
      const held = driver.read('v1/first', (data) => {
        lent = data;
        return new Promise<void>((resolve) => (giveBack = resolve));
      });
      while (lent === undefined) await setTimeout(5);
      assert.ok(
        Buffer.from(await driver.read('v1/second', async (data) => Buffer.from(data))).equals(second),
      );
      assert.ok((await driver.get('v1/second')).equals(second));
      assert.ok(lent.equals(first), 'the held buffer was not reused by the later reads');
      giveBack();
      await held;
      // Once given back, the buffer goes to reads again: a read after it still gets the right bytes.
      assert.ok((await driver.get('v1/first')).equals(first));
      await driver.close();
    },
  );

  test('list never shows scratch files or packs', async (t) => {
    const root = await makeTempDir(t);
    const driver = await createFsBlobDriver({ root });
    await writeFile(join(root, 'tmp', `${process.pid}-inflight`), 'partial');
    await driver.put('v1/a', Buffer.from('x'));
    assert.deepEqual(await listAll(driver), ['v1/a']);
    await driver.close();
  });
});
