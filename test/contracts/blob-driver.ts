/**
 * The BlobDriver contract suite: every driver runs these same cases (see blobs/driver.ts for the contract).
 * A driver's test file calls `runBlobDriverContract` with a factory; each case gets a fresh, empty driver
 * and fails if it leaves objects behind.
 * @module
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test, type TestContext } from 'node:test';
import { BlobNotFoundError, InvalidBlobKeyError, type BlobDriver } from '../../src/blobs/driver.js';

/** Makes an empty driver for one test; clean-up of its resources goes in `t.after`. */
export type BlobDriverFactory = (t: TestContext) => Promise<BlobDriver>;

export interface BlobDriverContractOptions {
  /** Cases to skip, each with the reason (printed as the skip message). */
  readonly skip?: Readonly<Record<string, string>>;
}

async function listAll(driver: BlobDriver, prefix = ''): Promise<string[]> {
  const keys: string[] = [];
  for await (const key of driver.list(prefix)) keys.push(key);
  return keys.sort();
}

const INVALID_KEYS = [
  '',
  '/a',
  'a/',
  'a//b',
  '../x',
  'a/../b',
  'a/./b',
  '.hidden',
  'tmp/x',
  'tmp',
  'a b',
  'a\\b',
];

/** Registers the contract cases for `name` under a `describe`. */
export function runBlobDriverContract(
  name: string,
  factory: BlobDriverFactory,
  options: BlobDriverContractOptions = {},
): void {
  const cases: Array<[string, (driver: BlobDriver) => Promise<void>]> = [
    [
      'get returns what put stored, has sees it',
      async (driver) => {
        const data = randomBytes(100_000);
        await driver.put('v1/x/ab/one', data);
        assert.equal(await driver.has('v1/x/ab/one'), true);
        assert.deepEqual(await driver.get('v1/x/ab/one'), data);
        await driver.delete('v1/x/ab/one');
      },
    ],
    [
      // Sizes on both sides of the fs driver's direct I/O limits (4 KiB alignment, 64 KiB minimum, 1 MiB stage).
      'objects of sizes around block and buffer boundaries round-trip byte for byte',
      async (driver) => {
        const sizes = [
          1,
          4095,
          4096,
          4097,
          65_536,
          65_537,
          1 << 20,
          (1 << 20) - 4096,
          (1 << 20) + 1,
          3 << 20,
        ];
        const objects = sizes.map((size, index) => ({
          key: `v1/sizes/ab/${index}`,
          data: randomBytes(size),
        }));
        await Promise.all(objects.map(({ key, data }) => driver.put(key, data)));
        for (const { key, data } of objects) {
          const got = await driver.get(key);
          assert.equal(got.length, data.length, `${key}: length`);
          assert.ok(got.equals(data), `${key}: bytes`);
        }
        await Promise.all(objects.map(({ key }) => driver.delete(key)));
      },
    ],
    [
      'read lends the bytes for the call, rejects an absent key without calling back, passes errors on',
      async (driver) => {
        const objects = Array.from({ length: 20 }, (_, i) => ({
          key: `v1/lend/ab/${i}`,
          data: randomBytes(70_000 + i),
        }));
        await Promise.all(objects.map(({ key, data }) => driver.put(key, data)));
        // More reads at once than any driver's pool of lent buffers: each waits its turn, none deadlocks.
        const lengths = await Promise.all(
          objects.map(({ key, data }) =>
            driver.read(key, async (lent) => {
              assert.ok(lent.equals(data), `${key}: bytes`);
              await new Promise((resolve) => setTimeout(resolve, 5));
              return lent.length;
            }),
          ),
        );
        assert.deepEqual(
          lengths,
          objects.map(({ data }) => data.length),
        );
        let called = false;
        await assert.rejects(
          driver.read('v1/lend/zz/none', async () => {
            called = true;
          }),
          BlobNotFoundError,
        );
        assert.equal(called, false);
        await assert.rejects(
          driver.read(objects[0]!.key, async () => Promise.reject(new Error('consumer failed'))),
          /consumer failed/,
        );
        assert.ok(
          (await driver.get(objects[0]!.key)).equals(objects[0]!.data),
          'still readable after a failed use',
        );
        await Promise.all(objects.map(({ key }) => driver.delete(key)));
      },
    ],
    [
      'allocate gives separate buffers of the size asked (shared: of one SharedArrayBuffer); put stores from them byte for byte',
      async (driver) => {
        for (const shared of [false, true]) await allocateAndPut(driver, shared);
      },
    ],
    [
      'an empty object round-trips',
      async (driver) => {
        await driver.put('empty', Buffer.alloc(0));
        assert.equal((await driver.get('empty')).length, 0);
        assert.equal(await driver.has('empty'), true);
        await driver.delete('empty');
      },
    ],
    [
      'get of an absent key rejects with BlobNotFoundError carrying the key; has is false',
      async (driver) => {
        await assert.rejects(driver.get('v1/none/zz'), (error: unknown) => {
          assert.ok(error instanceof BlobNotFoundError);
          assert.equal(error.key, 'v1/none/zz');
          return true;
        });
        assert.equal(await driver.has('v1/none/zz'), false);
        // A key under an existing object's name as a directory is absent too.
        await driver.put('file', Buffer.from('x'));
        assert.equal(await driver.has('file/below'), false);
        await assert.rejects(driver.get('file/below'), BlobNotFoundError);
        await driver.delete('file/below');
        await driver.delete('file');
        // A key prefix of an object is not an object.
        await driver.put('dir/object', Buffer.from('x'));
        assert.equal(await driver.has('dir'), false);
        await assert.rejects(driver.get('dir'), BlobNotFoundError);
        await driver.delete('dir');
        assert.equal(await driver.has('dir/object'), true);
        await driver.delete('dir/object');
      },
    ],
    [
      'stat gives the size and age of an object, undefined if absent; a re-put refreshes the age',
      async (driver) => {
        assert.equal(await driver.stat('v1/none/zz'), undefined);
        const before = Date.now();
        await driver.put('v1/s/ab/k', Buffer.alloc(1234, 7));
        const first = await driver.stat('v1/s/ab/k');
        assert.equal(first?.size, 1234);
        assert.ok(first !== undefined && Math.abs(first.modifiedAt.getTime() - before) < 60_000);
        await new Promise((resolve) => setTimeout(resolve, 20));
        await driver.put('v1/s/ab/k', Buffer.alloc(1234, 7));
        const second = await driver.stat('v1/s/ab/k');
        assert.ok(second !== undefined && second.modifiedAt.getTime() > first.modifiedAt.getTime());
        assert.equal(second.size, 1234);
        await driver.delete('v1/s/ab/k');
        assert.equal(await driver.stat('v1/s/ab/k'), undefined);
      },
    ],
    [
      'objects are immutable: a second put of a key is a no-op',
      async (driver) => {
        await driver.put('k', Buffer.from('first'));
        await driver.put('k', Buffer.from('second'));
        assert.equal((await driver.get('k')).toString(), 'first');
        await driver.delete('k');
      },
    ],
    [
      'the caller may reuse its buffers: put and get do not share memory with the store',
      async (driver) => {
        const data = Buffer.from('original');
        await driver.put('k', data);
        data.fill(0);
        const got = await driver.get('k');
        assert.equal(got.toString(), 'original');
        got.fill(0);
        assert.equal((await driver.get('k')).toString(), 'original');
        await driver.delete('k');
      },
    ],
    [
      'concurrent puts of one key store one complete object',
      async (driver) => {
        const data = randomBytes(1 << 20);
        await Promise.all(Array.from({ length: 8 }, () => driver.put('v1/same/ke/key', data)));
        assert.deepEqual(await driver.get('v1/same/ke/key'), data);
        assert.deepEqual(await listAll(driver), ['v1/same/ke/key']);
        await driver.delete('v1/same/ke/key');
      },
    ],
    [
      'delete removes the object and is idempotent',
      async (driver) => {
        await driver.put('a/b', Buffer.from('x'));
        await driver.delete('a/b');
        await driver.delete('a/b');
        await driver.delete('never/was');
        assert.equal(await driver.has('a/b'), false);
        await assert.rejects(driver.get('a/b'), BlobNotFoundError);
      },
    ],
    [
      'list yields exactly the keys with the prefix, at any depth',
      async (driver) => {
        const keys = [
          'v1/chunks/ab/ab01',
          'v1/chunks/ab/ab02',
          'v1/chunks/cd/cd01',
          'v1/manifests/ab/ab09',
          'v2x',
        ];
        for (const key of keys) await driver.put(key, Buffer.from(key));
        assert.deepEqual(await listAll(driver), [...keys].sort());
        assert.deepEqual(await listAll(driver, 'v1/chunks/'), keys.slice(0, 3));
        assert.deepEqual(await listAll(driver, 'v1/chunks/ab/ab0'), keys.slice(0, 2));
        assert.deepEqual(await listAll(driver, 'v1/chunks/a'), keys.slice(0, 2));
        assert.deepEqual(await listAll(driver, 'v'), [...keys].sort());
        assert.deepEqual(await listAll(driver, 'v1/nothing/'), []);
        for (const key of keys) await driver.delete(key);
      },
    ],
    [
      'invalid keys are refused by every method',
      async (driver) => {
        for (const key of INVALID_KEYS) {
          await assert.rejects(driver.put(key, Buffer.from('x')), InvalidBlobKeyError, `put ${key}`);
          await assert.rejects(driver.get(key), InvalidBlobKeyError, `get ${key}`);
          await assert.rejects(driver.has(key), InvalidBlobKeyError, `has ${key}`);
          await assert.rejects(driver.stat(key), InvalidBlobKeyError, `stat ${key}`);
          await assert.rejects(driver.delete(key), InvalidBlobKeyError, `delete ${key}`);
        }
      },
    ],
    [
      'declares its capabilities',
      async (driver) => {
        assert.equal(typeof driver.name, 'string');
        assert.ok(Number.isInteger(driver.capabilities.maxParallelism));
        assert.ok(driver.capabilities.maxParallelism >= 1);
      },
    ],
  ];

  describe(`BlobDriver contract: ${name}`, () => {
    for (const [title, run] of cases) {
      const reason = options.skip?.[title];
      test(title, reason === undefined ? {} : { skip: reason }, async (t) => {
        const driver = await factory(t);
        await run(driver);
        assert.deepEqual(await listAll(driver), [], 'the case left objects behind');
      });
    }
  });
}

/**
 * Allocates three buffers (of one SharedArrayBuffer if `shared`), fills them, puts a whole one, a 1 MiB view
 * and a short view, and reads them back after zeroing the buffers.
 */
async function allocateAndPut(driver: BlobDriver, shared: boolean): Promise<void> {
  const size = (1 << 20) + 100;
  const buffers = await driver.allocate(3, size, { shared });
  assert.equal(buffers.length, 3);
  if (shared) {
    assert.ok(buffers[0]!.buffer instanceof SharedArrayBuffer);
    for (const buffer of buffers) assert.equal(buffer.buffer, buffers[0]!.buffer);
  }
  const contents = buffers.map((buffer) => {
    assert.equal(buffer.length, size);
    const data = randomBytes(size);
    data.copy(buffer);
    return data;
  });
  for (const [index, buffer] of buffers.entries()) assert.ok(buffer.equals(contents[index]!), 'no overlap');
  // Whole, an aligned view from the start (a 1 MiB chunk), and an unaligned length (a short tail).
  const prefix = `v1/alloc/${shared ? 'sh' : 'ab'}`;
  await driver.put(`${prefix}/whole`, buffers[0]!);
  await driver.put(`${prefix}/mib`, buffers[1]!.subarray(0, 1 << 20));
  await driver.put(`${prefix}/tail`, buffers[2]!.subarray(0, 5000));
  buffers.forEach((buffer) => buffer.fill(0)); // the driver kept no reference
  assert.ok((await driver.get(`${prefix}/whole`)).equals(contents[0]!));
  assert.ok((await driver.get(`${prefix}/mib`)).equals(contents[1]!.subarray(0, 1 << 20)));
  assert.ok((await driver.get(`${prefix}/tail`)).equals(contents[2]!.subarray(0, 5000)));
  for (const key of ['whole', 'mib', 'tail']) await driver.delete(`${prefix}/${key}`);
}
