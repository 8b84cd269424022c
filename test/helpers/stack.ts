/**
 * The stack the end-to-end suite runs on, chosen by FERRY_TEST_STACK (issue 21: the suite runs in CI in three
 * configurations):
 *
 * - `embedded` (the default): each region on a SQLite file and a blob folder, what `ferry local` runs;
 * - `postgres`: each region's metadata in a PostgreSQL schema of its own (FERRY_TEST_PG), blobs in a folder;
 * - `postgres-s3`: PostgreSQL and the S3 server of the tests (FERRY_TEST_S3), each test under a prefix of its
 *   own in the bucket, emptied when the test ends.
 *
 * Test deployments (deployment.ts) and region processes (region-processes.ts) start on it unless a test names
 * its own database or store. Tests that read the fs driver's pack files have no S3 form and say so.
 * @module
 */
import type { TestContext } from 'node:test';
import type { StorageSettings } from '../../src/config/storage.js';
import type { DialectName } from './db.js';
import { emptyS3Prefix, freshS3Prefix } from './s3.js';

export const TEST_STACKS = ['embedded', 'postgres', 'postgres-s3'] as const;
export type TestStack = (typeof TEST_STACKS)[number];

function parseStack(value: string | undefined): TestStack {
  if (value === undefined || value === '') return 'embedded';
  if ((TEST_STACKS as readonly string[]).includes(value)) return value as TestStack;
  throw new Error(`FERRY_TEST_STACK must be one of ${TEST_STACKS.join(', ')}, not ${JSON.stringify(value)}`);
}

export const TEST_STACK: TestStack = parseStack(process.env.FERRY_TEST_STACK);

/** The metadata database regions get when a test does not name one. */
export function stackDialect(): DialectName {
  return TEST_STACK === 'embedded' ? 'sqlite' : 'postgres';
}

/** Whether the regions' blobs are in the S3 bucket rather than a folder. */
export const STACK_ON_S3 = TEST_STACK === 'postgres-s3';

/** The skip reason for a test that reads or damages the fs driver's pack files, which S3 does not have. */
export function packFilesSkip(): string | false {
  return STACK_ON_S3 ? "reads the blob folder's pack files; this run keeps blobs in S3" : false;
}

/**
 * The blob store settings of the stack: nothing on a folder; on S3 the test server's bucket under a fresh
 * prefix, emptied after the test. Call it after adding the hook that stops the regions: hooks run in the order
 * they are added, and the prefix is emptied once nothing writes to it.
 */
export function stackStorage(t: TestContext): Partial<StorageSettings> {
  if (!STACK_ON_S3) return {};
  const value = process.env.FERRY_TEST_S3;
  if (!value) throw new Error('FERRY_TEST_STACK=postgres-s3 needs FERRY_TEST_S3 (scripts/start-test-s3.sh)');
  const settings = JSON.parse(value) as StorageSettings['s3'] & object;
  const prefix = freshS3Prefix();
  t.after(() => emptyS3Prefix(settings, prefix));
  return { blobStore: 's3', s3: { ...settings, prefix } };
}

/**
 * The skip reason for a test that runs on a stack of its own whatever FERRY_TEST_STACK says (`ferry local`, a
 * pinned blob folder, its own PostgreSQL and S3 set-up): in another configuration it would be the same test
 * again, so it runs in the embedded one only.
 */
export function ownStackSkip(): string | false {
  return TEST_STACK === 'embedded'
    ? false
    : 'runs on a stack of its own whatever FERRY_TEST_STACK says: it runs in the embedded configuration';
}
