// The S3 driver against a real S3-compatible server (OpenStack Swift's s3api, scripts/start-test-s3.sh): the
// BlobDriver contract suite, plus what only S3 has: object names and metadata, multipart uploads, paging,
// errors of a missing bucket and wrong credentials, and retries, through a loopback proxy in front of the
// real server that answers some requests itself (a 503, or a body cut off).
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test, type TestContext } from 'node:test';
import { HeadObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { createS3BlobDriver, S3BlobStoreError, TOUCHED_METADATA } from '../../../src/blobs/drivers/s3.js';
import { BlobNotFoundError } from '../../../src/blobs/driver.js';
import { chunkKey } from '../../../src/blobs/layout.js';
import type { Digest } from '../../../src/domain/ids.js';
import type { S3Settings } from '../../../src/config/storage.js';
import { runBlobDriverContract } from '../../contracts/blob-driver.js';
import { freshS3Prefix, openTestS3Driver, s3Skip, testS3Settings } from '../../helpers/s3.js';

const skip = s3Skip();

if (skip) test('BlobDriver contract: s3', { skip }, () => {});
else runBlobDriverContract('s3', (t) => openTestS3Driver(t));

/** A client of the test server of its own, to look at what the driver stored. */
function rawClient(t: TestContext, settings: S3Settings): S3Client {
  const client = new S3Client({
    endpoint: settings.endpoint!,
    region: settings.region!,
    forcePathStyle: true,
    credentials: { accessKeyId: settings.accessKeyId!, secretAccessKey: settings.secretAccessKey! },
  });
  t.after(() => client.destroy());
  return client;
}

/** A request the proxy saw, and what it did with it. */
interface ProxyRequest {
  method: string;
  url: string;
  action: string;
  contentSha256: string | undefined;
}

/** What the proxy does with one request: pass it on, or answer it itself. */
type ProxyAction = 'forward' | { status: number; code: string } | 'cut-body';

/**
 * A loopback HTTP proxy in front of the real server. `decide` sees each request (method and URL) and says
 * what to do with it; the proxy records every request. Requests pass on unchanged (the Host header too, which
 * the signature covers), so the server checks the client's signatures as if it were asked directly.
 */
async function startProxy(
  t: TestContext,
  target: string,
  decide: (method: string, url: string) => ProxyAction,
): Promise<{ endpoint: string; requests: ProxyRequest[] }> {
  const upstream = new URL(target);
  const requests: ProxyRequest[] = [];
  const server = createServer((incoming: IncomingMessage, outgoing: ServerResponse) => {
    const method = incoming.method!;
    const url = incoming.url!;
    const action = decide(method, url);
    requests.push({
      method,
      url,
      action: typeof action === 'string' ? action : String(action.status),
      contentSha256: incoming.headers['x-amz-content-sha256'] as string | undefined,
    });
    if (typeof action === 'object') {
      // Answered before the body is read: drain it, so the client's keep-alive connection stays usable.
      incoming.resume();
      incoming.on('end', () => {
        const body = `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${action.code}</Code><Message>injected by the test proxy</Message></Error>`;
        outgoing.writeHead(action.status, { 'content-type': 'application/xml' }).end(body);
      });
      return;
    }
    const forwarded = request(
      { host: upstream.hostname, port: upstream.port, method, path: url, headers: incoming.headers },
      (answer) => {
        outgoing.writeHead(answer.statusCode!, answer.headers);
        if (action === 'cut-body') {
          // Half of the body, then the connection is dropped: the client sees fewer bytes than promised.
          const length = Number(answer.headers['content-length']);
          let sent = 0;
          answer.on('data', (piece: Buffer) => {
            const room = Math.max(0, Math.floor(length / 2) - sent);
            if (room > 0) outgoing.write(piece.subarray(0, room));
            sent += piece.length;
            if (sent >= length / 2) {
              answer.destroy();
              outgoing.socket?.destroy();
            }
          });
          return;
        }
        answer.pipe(outgoing);
      },
    );
    forwarded.on('error', () => outgoing.socket?.destroy());
    incoming.pipe(forwarded);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });
  return { endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests };
}

/** The first `count` requests `matches` picks are answered with `status`/`code`; the others pass on. */
function failFirst(
  count: number,
  matches: (method: string, url: string) => boolean,
  answer: ProxyAction,
): (method: string, url: string) => ProxyAction {
  let left = count;
  return (method, url) => (matches(method, url) && left-- > 0 ? answer : 'forward');
}

const isObjectPut = (method: string, url: string) => method === 'PUT' && !url.includes('x-id=CopyObject');
const isObjectGet = (method: string, url: string) => method === 'GET' && url.includes('x-id=GetObject');

describe('s3 driver', { skip }, () => {
  test('stores each object as <prefix><key>, with the time of its last put or touch in its metadata', async (t) => {
    const settings = testS3Settings()!;
    const prefix = freshS3Prefix();
    const driver = await openTestS3Driver(t, { prefix });
    const before = Date.now();
    await driver.put('v1/chunks/ab/one', Buffer.from('one'));
    await driver.put('v1/manifests/cd/two', Buffer.from('two'));
    const client = rawClient(t, settings);
    const listed = await client.send(new ListObjectsV2Command({ Bucket: settings.bucket, Prefix: prefix }));
    assert.deepEqual((listed.Contents ?? []).map((object) => object.Key).sort(), [
      `${prefix}v1/chunks/ab/one`,
      `${prefix}v1/manifests/cd/two`,
    ]);
    const head = await client.send(
      new HeadObjectCommand({ Bucket: settings.bucket, Key: `${prefix}v1/chunks/ab/one` }),
    );
    const touched = Number(head.Metadata?.[TOUCHED_METADATA]);
    assert.ok(touched >= before && touched <= Date.now(), `metadata ${JSON.stringify(head.Metadata)}`);
    assert.equal((await driver.stat('v1/chunks/ab/one'))?.modifiedAt.getTime(), touched);
    // A touch keeps the bytes and moves the time on.
    await new Promise((resolve) => setTimeout(resolve, 10));
    assert.equal(await driver.touch('v1/chunks/ab/one'), true);
    assert.ok((await driver.stat('v1/chunks/ab/one'))!.modifiedAt.getTime() > touched);
    assert.equal((await driver.get('v1/chunks/ab/one')).toString(), 'one');
    assert.equal(await driver.touch('v1/chunks/ab/none'), false);
    assert.equal(await driver.has('v1/chunks/ab/none'), false, 'a failed touch creates nothing');
  });

  test('a PUT under a key of the layout is signed with the digest the key names: bytes that do not match are refused', async (t) => {
    const settings = testS3Settings()!;
    const proxy = await startProxy(t, settings.endpoint!, () => 'forward');
    const driver = await openTestS3Driver(t, { endpoint: proxy.endpoint });
    const data = randomBytes(200_000);
    const digest = createHash('sha256').update(data).digest('hex') as Digest;
    await driver.put(chunkKey(digest), data);
    assert.ok((await driver.get(chunkKey(digest))).equals(data));
    const put = proxy.requests.find((r) => isObjectPut(r.method, r.url))!;
    assert.equal(put.contentSha256, digest, "the key's digest");
    const other = createHash('sha256').update('other').digest('hex') as Digest;
    await assert.rejects(driver.put(chunkKey(other), data), (error: unknown) => {
      assert.ok(error instanceof S3BlobStoreError);
      assert.equal(error.status, 400);
      // AWS names it XAmzContentSHA256Mismatch, Swift BadDigest.
      assert.match(error.code ?? '', /^(XAmzContentSHA256Mismatch|BadDigest)$/);
      return true;
    });
    assert.equal(await driver.has(chunkKey(other)), false);
    await driver.delete(chunkKey(digest));
  });

  test('an object above the multipart threshold is uploaded in parts and reads back byte for byte', async (t) => {
    const settings = testS3Settings()!;
    const prefix = freshS3Prefix();
    const driver = await openTestS3Driver(t, {
      prefix,
      multipartThresholdBytes: 8 << 20,
      multipartPartBytes: 5 << 20,
    });
    const data = randomBytes((12 << 20) + 12_345); // three parts: 5, 5 and 2 MiB + 12,345 bytes
    await driver.put('v1/big', data);
    const head = await rawClient(t, settings).send(
      new HeadObjectCommand({ Bucket: settings.bucket, Key: `${prefix}v1/big` }),
    );
    assert.match(head.ETag ?? '', /-3"$/, 'a multipart ETag names its part count');
    assert.equal((await driver.stat('v1/big'))?.size, data.length);
    assert.ok((await driver.get('v1/big')).equals(data));
    assert.ok(await driver.read('v1/big', async (lent) => lent.equals(data)));
    // Objects are immutable: a second put only touches it, whatever it is given.
    const first = (await driver.stat('v1/big'))!.modifiedAt;
    await new Promise((resolve) => setTimeout(resolve, 10));
    await driver.put('v1/big', randomBytes(data.length));
    assert.ok((await driver.stat('v1/big'))!.modifiedAt > first);
    assert.ok((await driver.get('v1/big')).equals(data));
    // Just below the threshold: one PUT.
    await driver.put('v1/small', data.subarray(0, 8 << 20));
    const small = await rawClient(t, settings).send(
      new HeadObjectCommand({ Bucket: settings.bucket, Key: `${prefix}v1/small` }),
    );
    assert.doesNotMatch(small.ETag ?? '', /-/);
    assert.ok((await driver.get('v1/small')).equals(data.subarray(0, 8 << 20)));
  });

  test('list follows the pages of a long listing', async (t) => {
    const settings = testS3Settings()!;
    const proxy = await startProxy(t, settings.endpoint!, () => 'forward');
    const driver = await openTestS3Driver(t, { endpoint: proxy.endpoint, listPageKeys: 2 });
    const keys = Array.from({ length: 7 }, (_, i) => `v1/chunks/ab/${i}`);
    await Promise.all(keys.map((key) => driver.put(key, Buffer.from(key))));
    const listed: string[] = [];
    for await (const key of driver.list('v1/chunks/')) listed.push(key);
    assert.deepEqual(listed.sort(), keys);
    const pages = proxy.requests.filter((r) => r.method === 'GET' && r.url.includes('list-type=2'));
    assert.equal(pages.length, 4, 'seven keys, two a page');
  });

  test('a missing bucket is a clear error at open; so are wrong credentials, at open and on each call', async (t) => {
    const settings = testS3Settings()!;
    await assert.rejects(
      createS3BlobDriver({ ...settings, bucket: `ferry-missing-${randomBytes(4).toString('hex')}` }),
      (error: unknown) => {
        assert.ok(error instanceof S3BlobStoreError);
        assert.equal(error.status, 404);
        assert.match(
          error.message,
          /HeadBucket s3:\/\/ferry-missing-\w+\/ at http:\S+ failed: .*; the bucket does not exist$/,
        );
        return true;
      },
    );
    await assert.rejects(createS3BlobDriver({ ...settings, secretAccessKey: 'wrong' }), (error: unknown) => {
      assert.ok(error instanceof S3BlobStoreError);
      assert.equal(error.status, 403);
      assert.match(error.message, /; access denied: check the credentials/);
      return true;
    });
    // Past the check (or when the credentials change later): no call takes a refusal for a missing object.
    const driver = await createS3BlobDriver({ ...settings, secretAccessKey: 'wrong', checkBucket: false });
    t.after(() => driver.close?.());
    for (const call of [
      () => driver.get('v1/x'),
      () => driver.has('v1/x'),
      () => driver.stat('v1/x'),
      () => driver.touch('v1/x'),
      () => driver.put('v1/x', Buffer.from('x')),
      () => driver.delete('v1/x'),
      async () => {
        for await (const key of driver.list('')) assert.fail(key);
      },
    ]) {
      await assert.rejects(call(), (error: unknown) => {
        assert.ok(error instanceof S3BlobStoreError, String(error));
        assert.equal(error.status, 403);
        assert.match(error.message, /\(HTTP 403\).*; access denied: check the credentials/);
        return true;
      });
    }
  });

  test('a 503 is retried with backoff (a PUT, a GET twice, a throttling SlowDown), and fails without retries', async (t) => {
    const settings = testS3Settings()!;
    const unavailable = { status: 503, code: 'ServiceUnavailable' };
    const prefix = freshS3Prefix();

    const putProxy = await startProxy(t, settings.endpoint!, failFirst(1, isObjectPut, unavailable));
    const putDriver = await openTestS3Driver(t, { endpoint: putProxy.endpoint, prefix });
    const data = randomBytes(300_000);
    await putDriver.put('v1/retried', data);
    assert.deepEqual(
      putProxy.requests.filter((r) => isObjectPut(r.method, r.url)).map((r) => r.action),
      ['503', 'forward'],
    );
    assert.ok((await putDriver.get('v1/retried')).equals(data));

    const getProxy = await startProxy(t, settings.endpoint!, failFirst(2, isObjectGet, unavailable));
    const getDriver = await openTestS3Driver(t, { endpoint: getProxy.endpoint, prefix });
    assert.ok((await getDriver.get('v1/retried')).equals(data));
    assert.deepEqual(
      getProxy.requests.filter((r) => isObjectGet(r.method, r.url)).map((r) => r.action),
      ['503', '503', 'forward'],
    );

    const slowDown = { status: 503, code: 'SlowDown' };
    const throttleProxy = await startProxy(t, settings.endpoint!, failFirst(1, isObjectGet, slowDown));
    const throttled = await openTestS3Driver(t, { endpoint: throttleProxy.endpoint, prefix });
    assert.ok(await throttled.read('v1/retried', async (lent) => lent.equals(data)));
    assert.equal(throttleProxy.requests.filter((r) => isObjectGet(r.method, r.url)).length, 2);

    // The same answer with one attempt in all: the error reaches the caller, and names what S3 said.
    const onceProxy = await startProxy(t, settings.endpoint!, failFirst(1, isObjectGet, unavailable));
    const once = await openTestS3Driver(t, { endpoint: onceProxy.endpoint, prefix, maxAttempts: 1 });
    await assert.rejects(once.get('v1/retried'), (error: unknown) => {
      assert.ok(error instanceof S3BlobStoreError);
      assert.equal(error.status, 503);
      assert.equal(error.code, 'ServiceUnavailable');
      return true;
    });
    assert.ok((await once.get('v1/retried')).equals(data), 'the next call passes');
    await putDriver.delete('v1/retried');
  });

  test('a body cut off mid-way is read again', async (t) => {
    const settings = testS3Settings()!;
    const prefix = freshS3Prefix();
    const proxy = await startProxy(t, settings.endpoint!, failFirst(1, isObjectGet, 'cut-body'));
    const driver = await openTestS3Driver(t, { endpoint: proxy.endpoint, prefix });
    const data = randomBytes(2 << 20);
    await driver.put('v1/cut', data);
    assert.ok((await driver.get('v1/cut')).equals(data));
    assert.deepEqual(
      proxy.requests.filter((r) => isObjectGet(r.method, r.url)).map((r) => r.action),
      ['cut-body', 'forward'],
    );
    await assert.rejects(driver.get('v1/none'), BlobNotFoundError);
  });
});
