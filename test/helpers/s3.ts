/**
 * The real S3-compatible server of the tests, named by FERRY_TEST_S3 (the JSON `scripts/start-test-s3.sh`
 * prints: endpoint, region, bucket, credentials, path style; the keys of the settings' `storage.s3`). Each
 * test gets a prefix of its own in the bucket, emptied when it ends. In CI the server is required; outside
 * CI the S3 cases are skipped with a loud warning when FERRY_TEST_S3 is unset.
 * @module
 */
import { randomBytes } from 'node:crypto';
import type { TestContext } from 'node:test';
import type { BlobDriver } from '../../src/blobs/driver.js';
import { createS3BlobDriver, type S3BlobDriverOptions } from '../../src/blobs/drivers/s3.js';
import type { S3Settings } from '../../src/config/storage.js';

let warned = false;

/** The test server's settings, or undefined (outside CI only) to skip the S3 cases. */
export function testS3Settings(): S3Settings | undefined {
  const value = process.env.FERRY_TEST_S3;
  if (value) return JSON.parse(value) as S3Settings;
  if (process.env.CI) throw new Error('CI must run the S3 tests: set FERRY_TEST_S3 (see .ci/run).');
  if (!warned) {
    warned = true;
    console.warn(
      '\n*** FERRY_TEST_S3 is not set: the S3 cases are SKIPPED. Run scripts/start-test-s3.sh ***\n',
    );
  }
  return undefined;
}

/** The skip reason for a test that needs the S3 server, or false when it is there. */
export function s3Skip(): string | false {
  return testS3Settings() ? false : 'FERRY_TEST_S3 is unset (outside CI): run scripts/start-test-s3.sh';
}

/** A prefix no other test uses: `test/<random>/`. */
export function freshS3Prefix(): string {
  return `test/${randomBytes(6).toString('hex')}/`;
}

/** Deletes every object under `prefix` (a test's leftovers, whether it passed or not). */
export async function emptyS3Prefix(settings: S3Settings, prefix: string): Promise<void> {
  const driver = await createS3BlobDriver({ ...settings, prefix, checkBucket: false });
  try {
    const keys: string[] = [];
    for await (const key of driver.list('')) keys.push(key);
    await Promise.all(keys.map((key) => driver.delete(key)));
  } finally {
    await driver.close();
  }
}

/**
 * A driver on the test bucket under a fresh prefix; when the test ends it is closed and the prefix emptied.
 * `options` override the server's settings (e.g. an endpoint through a proxy).
 */
export async function openTestS3Driver(
  t: TestContext,
  options: Partial<S3BlobDriverOptions> = {},
): Promise<BlobDriver> {
  const settings = testS3Settings()!;
  const prefix = options.prefix ?? freshS3Prefix();
  const driver = await createS3BlobDriver({ ...settings, ...options, prefix });
  t.after(async () => {
    await driver.close?.();
    await emptyS3Prefix(settings, prefix);
  });
  return driver;
}
