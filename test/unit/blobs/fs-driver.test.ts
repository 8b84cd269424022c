// The filesystem driver: the BlobDriver contract suite, plus what only a filesystem has (staging, crash
// leftovers, the on-disk tree).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout } from 'node:timers/promises';
import { describe, test } from 'node:test';
import { createFsBlobDriver } from '../../../src/blobs/drivers/fs.js';
import { runBlobDriverContract } from '../../contracts/blob-driver.js';
import { makeTempDir } from '../../helpers/tmp.js';

runBlobDriverContract('fs', async (t) => createFsBlobDriver({ root: await makeTempDir(t) }));
runBlobDriverContract('fs (sync off)', async (t) =>
  createFsBlobDriver({ root: await makeTempDir(t), sync: false }),
);

/** A pid that belonged to a process which has exited. */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', '0']);
  return child.pid as number;
}

describe('fs driver', () => {
  test('stores an object as the file <root>/<key> and leaves nothing staged', async (t) => {
    const root = await makeTempDir(t);
    const driver = await createFsBlobDriver({ root });
    await driver.put('v1/chunks/ab/abc', Buffer.from('hello'));
    assert.equal(await readFile(join(root, 'v1', 'chunks', 'ab', 'abc'), 'utf8'), 'hello');
    assert.deepEqual(await readdir(join(root, 'tmp')), []);
  });

  test('creates its root and staging directory', async (t) => {
    const root = join(await makeTempDir(t), 'a', 'b');
    await createFsBlobDriver({ root });
    assert.ok((await stat(join(root, 'tmp'))).isDirectory());
  });

  test('removes staged files of dead processes and old ones, keeps fresh ones of live processes', async (t) => {
    const root = await makeTempDir(t);
    const tmp = join(root, 'tmp');
    await mkdir(tmp);
    const dead = `${deadPid()}-0123456789abcdef`;
    const fresh = `${process.pid}-fresh`;
    const old = `${process.pid}-old`;
    for (const name of [dead, fresh, old, 'garbage']) await writeFile(join(tmp, name), 'partial');
    const hourAgo = new Date(Date.now() - 3600_000);
    await utimes(join(tmp, old), hourAgo, hourAgo);
    await createFsBlobDriver({ root });
    assert.deepEqual(await readdir(tmp), [fresh]);
  });

  test(
    'a read does not wait for a staging buffer a stalled reader keeps, and that reader keeps its bytes',
    {
      timeout: 20_000,
    },
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
    },
  );

  test('list never shows staged files', async (t) => {
    const root = await makeTempDir(t);
    const driver = await createFsBlobDriver({ root });
    await writeFile(join(root, 'tmp', `${process.pid}-inflight`), 'partial');
    await driver.put('v1/a', Buffer.from('x'));
    const keys: string[] = [];
    for await (const key of driver.list('')) keys.push(key);
    assert.deepEqual(keys, ['v1/a']);
  });
});
